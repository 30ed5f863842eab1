"""`make nlu-report`: how well the NLU model understands each language, on held-out text.

Every fifth example of each intent in each `data/nlu/<code>.yml` (chosen by a stable
hash, so the split never changes) is held out. A model is trained on the rest with the
project's own config.yml (or the file in NLU_CONFIG, to try another), then the held-out
examples are classified. Printed per
language: accuracy over all intents, and macro F1 over the command intents (help,
repeat, skip, go_back, stop, start_again, withdraw, change_language, danger, complaint),
against the target of 0.9. A report, not a test: it never fails on figures.

The held-out examples the model got wrong are written to var/nlu-report/<code>.txt
(expected intent, predicted intent, text): they are our own example sentences, never
patient text, and they show which examples to add or reword.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import yaml
from sklearn.metrics import accuracy_score, f1_score

ROOT = Path(__file__).resolve().parent.parent
COMMAND_INTENTS = ["help", "repeat", "skip", "go_back", "stop", "start_again", "withdraw",
                   "change_language", "danger", "complaint"]
TARGET = 0.9


def examples(path: Path) -> dict[str, list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for block in data.get("nlu", []):
        if "intent" in block:
            lines = [line.strip()[2:].strip() for line in block["examples"].splitlines()
                     if line.strip().startswith("- ")]
            found[block["intent"]] = lines
    return found


def held_out(text: str) -> bool:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % 5 == 0


def split(work: Path) -> dict[str, list[tuple[str, str]]]:
    """Write the training part to ``work``; return held-out (text, intent) per language."""
    tests: dict[str, list[tuple[str, str]]] = defaultdict(list)
    blocks = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for intent, texts in examples(path).items():
            keep = [t for t in texts if not held_out(t)]
            tests[path.stem] += [(t, intent) for t in texts if held_out(t)]
            blocks.append({"intent": intent, "examples": "".join(f"- {t}\n" for t in keep)})
    (work / "nlu.yml").write_text(yaml.safe_dump({"version": "3.1", "nlu": blocks},
                                                 allow_unicode=True, sort_keys=False))
    return tests


def train(work: Path) -> Path:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    config = os.environ.get("NLU_CONFIG", str(ROOT / "config.yml"))
    command = [str(Path(sys.executable).with_name("rasa")), "train", "nlu", "--nlu",
               str(work / "nlu.yml"), "--config", config, "--out",
               str(work), "--fixed-model-name", "held-out"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return work / "held-out.tar.gz"


async def classify(model: Path, texts: list[str]) -> list[str]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    logging.getLogger().setLevel(logging.WARNING)  # Rasa logs each parse at DEBUG
    configure_structlog(logging.WARNING)  # ... and again through structlog

    agent = Agent.load(str(model))
    return [(await agent.parse_message(text))["intent"]["name"] for text in texts]


MISSES = ROOT / "var" / "nlu-report"


def write_misses(code: str, pairs: list[tuple[str, str]], guess: list[str]) -> None:
    MISSES.mkdir(parents=True, exist_ok=True)
    lines = [f"{intent}\t{predicted}\t{text}"
             for (text, intent), predicted in zip(pairs, guess, strict=True)
             if intent != predicted]
    (MISSES / f"{code}.txt").write_text("".join(f"{line}\n" for line in lines),
                                        encoding="utf-8")


def report(tests: dict[str, list[tuple[str, str]]], model: Path) -> None:
    print(f"{'language':<10}{'held out':>9}{'accuracy':>10}{'command F1':>12}  target {TARGET}")
    for code, pairs in sorted(tests.items()):
        truth = [intent for _, intent in pairs]
        guess = asyncio.run(classify(model, [text for text, _ in pairs]))
        write_misses(code, pairs, guess)
        labels = sorted({i for i in truth if i in COMMAND_INTENTS})
        command_f1 = f1_score(truth, guess, labels=labels, average="macro", zero_division=0)
        flag = "" if command_f1 >= TARGET else "  below target"
        print(f"{code:<10}{len(pairs):>9}{accuracy_score(truth, guess):>10.2f}"
              f"{command_f1:>12.3f}{flag}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="pv-nlu-") as folder:
        work = Path(folder)
        tests = split(work)
        print("training an NLU model without the held-out examples...", flush=True)
        report(tests, train(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
