"""`make safety-report`: how well the bot recognises a person in danger, on held-out examples.

Trains (or loads) the safety detector on the train part of data/safety/, then sends every
held-out example through the real conversation (bot.survey.Survey with a throw-away store,
no Rasa NLU: its danger intent only ever adds flags) at a choice question ("Overall, how
was your experience?") and at a free-text question ("Please tell us why..."), in the
example's language. A message counts as recognised when the reply starts with the safety
help. Also: every choice label of every language, answered at its own question, must never
be danger. Prints the tables and writes them to var/safety-report/report.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.catalogue import available_languages, catalogue  # noqa: E402
from bot.questions import FLOW, option_labels  # noqa: E402
from bot.safety.data import Example, heldout_part, load_examples  # noqa: E402
from bot.safety.detector import detector  # noqa: E402
from bot.safety.kinds import RISK_KINDS  # noqa: E402
from bot.settings import trust_settings  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.survey import Message, Survey, SurveyState  # noqa: E402

PLACES = {"choice": "rating", "free text": "rating_reason"}
TARGETS = {"overall recall": 0.98, "recall per kind and language": 0.95,
           "look-alikes flagged": 0.05}


def visit_at(survey: Survey, question: str, language: str) -> SurveyState:
    response = survey.store.start_response(language=language, channel="rest")
    return SurveyState(current=question, response_id=response, language=language,
                       history=["respondent", "service"], choices={"respondent": ["patient"]})


def said(survey: Survey, question: str, language: str, text: str) -> list[str]:
    state = visit_at(survey, question, language)
    replies = survey.handle(state, Message(text), language=language, channel="rest")
    return [reply.key for reply in replies]


HELP_KEYS = {"signpost_danger", *(f"safety_{kind}" for kind in RISK_KINDS)}


def helped(keys: list[str]) -> bool:
    """The reply gave help for danger (with or without stopping the visit for it)."""
    return any(key in HELP_KEYS for key in keys)


def interrupted(keys: list[str]) -> bool:
    """The visit stopped for it: kind words, the help, then carry on or stop."""
    return bool(keys) and keys[0] == "safety_intro"


def measure(survey: Survey, examples: list[Example], question: str) -> dict:
    """Recall per kind x language, look-alike rate per language, right help per kind."""
    hits: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    stopped: dict[bool, list[int]] = defaultdict(lambda: [0, 0])  # danger? -> interrupted
    right_help: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[str] = []
    started = time.perf_counter()
    for example in examples:
        keys = said(survey, question, example.language, example.text)
        found = helped(keys)
        stopped[example.danger][0] += interrupted(keys)
        stopped[example.danger][1] += 1
        cell = hits[(example.label, example.language)]
        cell[0] += found
        cell[1] += 1
        if example.danger and found:
            right_help[example.label][0] += f"safety_{example.label}" in keys
            right_help[example.label][1] += 1
        if found != example.danger:
            misses.append(f"{example.label}\t{example.language}\t{example.text}")
    seconds = time.perf_counter() - started
    return {"hits": hits, "stopped": stopped, "right_help": right_help, "misses": misses,
            "per_second": len(examples) / seconds if seconds else 0.0}


def plain_choices_flagged(survey: Survey) -> tuple[int, int]:
    """Every label of every choice question in every language, answered where it is asked."""
    total = wrong = 0
    settings = trust_settings()
    for code in available_languages():
        words = catalogue(code)
        for question in FLOW:
            if question.kind == "text":
                continue
            for label in option_labels(question, words, settings).values():
                total += 1
                wrong += helped(said(survey, question.key, code, label))
    return wrong, total


def real_comments_flagged(detector, path: Path,
                          limit: int) -> tuple[int, int, int, list[str]]:
    """Real FFT comments (never used to train the detector): how many would be flagged.

    Nobody has read them all for danger, so a flag here is not always wrong: the list is
    written out for a person to read.
    """
    with path.open(encoding="utf-8", newline="") as handle:
        texts = [row.get("FFT answer") or "" for row in csv.DictReader(handle)]
    texts = [t.strip() for t in texts if t.strip() and t.strip().lower() != "did not answer"]
    texts = texts[:: max(1, len(texts) // limit)][:limit]
    risks = [(t, detector.assess(t)) for t in texts]
    flagged = [t for t, risk in risks if risk.danger]
    urgent = sum(risk.urgent for _, risk in risks)
    return len(flagged), urgent, len(texts), flagged


def ratio(pair: list[int] | tuple[int, int]) -> str:
    return f"{pair[0] / pair[1]:.3f}" if pair[1] else "-"


def tables(result: dict, place: str) -> list[str]:
    hits = result["hits"]
    languages = sorted({language for _, language in hits}, key=_menu_order)
    lines = [f"### At a {place} question", "",
             "| kind | " + " | ".join(languages) + " | all |",
             "| --- |" + " --- |" * (len(languages) + 1)]
    for kind in RISK_KINDS:
        cells = [hits.get((kind, code), [0, 0]) for code in languages]
        total = [sum(c[0] for c in cells), sum(c[1] for c in cells)]
        lines.append(f"| {kind} | " + " | ".join(ratio(c) for c in cells) + f" | {ratio(total)} |")
    danger = [sum(v[0] for (k, _), v in hits.items() if k != "harmless"),
              sum(v[1] for (k, _), v in hits.items() if k != "harmless")]
    harmless = [[hits.get(("harmless", code), [0, 0])[i] for code in languages] for i in (0, 1)]
    lines.append("| **look-alikes shown help** | " + " | ".join(
        ratio((a, b)) for a, b in zip(*harmless, strict=True)) +
        f" | {ratio((sum(harmless[0]), sum(harmless[1])))} |")
    worst = min((v[0] / v[1], k, code) for (k, code), v in hits.items()
                if k != "harmless" and v[1])
    help_right = [sum(v[0] for v in result["right_help"].values()),
                  sum(v[1] for v in result["right_help"].values())]
    lines += ["", f"- danger recall, all kinds and languages: **{ratio(danger)}** "
              f"({danger[0]} of {danger[1]}; target {TARGETS['overall recall']})",
              f"- lowest cell: {worst[1]} in {worst[2]}, {worst[0]:.3f} (target "
              f"{TARGETS['recall per kind and language']})",
              f"- look-alikes shown help: {ratio((sum(harmless[0]), sum(harmless[1])))} "
              f"({sum(harmless[0])} of {sum(harmless[1])}; target for flagged at most "
              f"{TARGETS['look-alikes flagged']})",
              f"- danger messages the visit stopped for (kind words, help, carry on or stop): "
              f"{ratio(result['stopped'][True])}; look-alikes it stopped for: "
              f"**{ratio(result['stopped'][False])}**",
              f"- recognised messages given the help of their own kind: {ratio(help_right)}",
              f"- messages a second through the conversation: {result['per_second']:.0f}", ""]
    return lines


def _menu_order(code: str) -> int:
    order = available_languages()
    return order.index(code) if code in order else len(order)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "safety-report")
    parser.add_argument("--real-comments", type=int, default=2000,
                        help="how many real FFT comments to read (QDC_DATA), 0 for none")
    args = parser.parse_args()
    started = time.perf_counter()
    found = detector()
    print(f"detector ready in {time.perf_counter() - started:.1f} s (help from "
          f"{found.thresholds.help:.3f}, stop the visit from {found.thresholds.interrupt:.3f})",
          flush=True)
    examples = heldout_part(load_examples())
    with tempfile.TemporaryDirectory() as folder:
        # The same message is read once, wherever it is sent (the reading does not depend on
        # the question; what the survey does with it does).
        assess = lru_cache(maxsize=None)(found.assess)
        survey = Survey(Store(f"sqlite:///{folder}/report.db"), trust_settings(), assess=assess,
                        alerts=False)
        lines = ["# Safety report (held-out examples)", "",
                 f"{sum(e.danger for e in examples)} danger messages and "
                 f"{sum(not e.danger for e in examples)} look-alikes, held out by wording "
                 "family; the detector never saw them.", ""]
        all_misses = []
        for place, question in PLACES.items():
            result = measure(survey, examples, question)
            lines += tables(result, place)
            all_misses += [f"{place}\t{m}" for m in result["misses"]]
        wrong, total = plain_choices_flagged(survey)
        lines.append(f"Plain choices answered at their own question and flagged: {wrong} of "
                     f"{total} (must be 0).")
    comments = Path(os.environ.get("QDC_DATA", ROOT.parent / "shared" / "data" /
                                   "qdc_v6_train.csv"))
    if comments.exists() and args.real_comments:
        flagged, urgent, seen, texts = real_comments_flagged(found, comments, args.real_comments)
        lines += ["", f"Real FFT comments ({comments.name}, English, never trained on): "
                  f"shown help {flagged} of {seen} ({flagged / seen:.3f}), the visit stopped "
                  f"for {urgent} ({urgent / seen:.3f}); listed in real-flagged.txt for a "
                  "person to read (some may be real danger)."]
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "real-flagged.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    report = "\n".join(lines)
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(report + "\n", encoding="utf-8")
    (args.out / "misses.tsv").write_text("\n".join(all_misses) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.out.relative_to(ROOT)}/ (misses.tsv lists what was wrong)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
