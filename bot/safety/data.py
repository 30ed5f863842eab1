"""The safety examples in ``data/safety/``: what a person in danger might write, and what only
looks like it. The format and the rules for writing them are in ``data/safety/README.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.safety.kinds import HARMLESS, RISK_KINDS
from bot.settings import PROJECT_ROOT

SAFETY_DATA = PROJECT_ROOT / "data" / "safety"
NLU_DATA = PROJECT_ROOT / "data" / "nlu"
LANGUAGES_DIR = PROJECT_ROOT / "languages"
LABELS = (*RISK_KINDS, HARMLESS)
PARTS = ("train", "heldout")


class SafetyDataError(ValueError):
    """A file in data/safety/ is not in the documented format."""


@dataclass(frozen=True)
class Example:
    """One written message and what it is."""

    text: str
    label: str  # a risk kind, or "harmless"
    language: str
    family: str  # "<language>/<label>/<family>": one idea in several wordings
    heldout: bool

    @property
    def danger(self) -> bool:
        return self.label != HARMLESS


def example_files(folder: Path = SAFETY_DATA) -> list[Path]:
    return sorted(folder.glob("*/*.yml"))


def fingerprint(folder: Path = SAFETY_DATA) -> str:
    """A hash of every file the detector learns from: it is stale when one changes.

    Its own examples, and the survey's NLU examples and language files, which give it
    ordinary messages and every choice label as harmless (``bot.safety.detector``).
    """
    digest = hashlib.sha256()
    others = [*sorted(NLU_DATA.glob("*.yml")), *sorted(LANGUAGES_DIR.glob("*.yml"))]
    for path in [*example_files(folder), *others]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def nlu_harmless() -> list[Example]:
    """The survey NLU's examples of every intent but ``danger``: ordinary messages."""
    found: list[Example] = []
    for path in sorted(NLU_DATA.glob("*.yml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in raw.get("nlu") or []:
            intent = block.get("intent")
            if not intent or intent == "danger" or not isinstance(block.get("examples"), str):
                continue
            texts = [line.strip()[2:].strip() for line in block["examples"].splitlines()
                     if line.strip().startswith("- ")]
            found += [Example(text, HARMLESS, path.stem, f"{path.stem}/{HARMLESS}/nlu_{intent}",
                              False) for text in texts if text]
    return found


def load_examples(folder: Path = SAFETY_DATA) -> list[Example]:
    """Every example of every language, train and held-out parts."""
    return [example for path in example_files(folder) for example in _read(path)]


def _read(path: Path) -> Iterable[Example]:
    raw = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("safety")
    if not isinstance(raw, dict):
        raise SafetyDataError(f"{path}: no 'safety' mapping")
    label, language = raw.get("kind"), raw.get("language")
    if label not in LABELS or label != path.stem or language != path.parent.name:
        raise SafetyDataError(f"{path}: kind and language must match the file's place")
    both = set(raw.get("train") or {}) & set(raw.get("heldout") or {})
    if both:
        raise SafetyDataError(f"{path}: families in both parts: {', '.join(sorted(both))}")
    for part in PARTS:
        families = raw.get(part) or {}
        if not isinstance(families, dict):
            raise SafetyDataError(f"{path}: {part} must map families to lists")
        for family, texts in families.items():
            if not isinstance(texts, list):
                raise SafetyDataError(f"{path}: family {family} must be a list")
            for text in texts:
                if not isinstance(text, (str, int, float)) or not str(text).strip():
                    raise SafetyDataError(f"{path}: empty example in family {family}")
                yield Example(str(text).strip(), label, language,
                              f"{language}/{label}/{family}", part == "heldout")


def train_part(examples: Iterable[Example]) -> list[Example]:
    return [example for example in examples if not example.heldout]


def heldout_part(examples: Iterable[Example]) -> list[Example]:
    return [example for example in examples if example.heldout]
