"""The risk detector: does a message show danger or risk of harm, and of which kind?

Three signals, combined recall-first (any one is enough, because a missed message could
cost a life and a false alarm costs one kind message):

* **phrases**: the ``danger_words`` of every language in ``languages/`` (a patient may write
  in any language at any question);
* **the model**: character and word n-gram TF-IDF with a linear classifier over the seven
  kinds and ``harmless``, trained on the train part of ``data/safety/``. Its flag threshold
  is chosen from out-of-fold predictions on the train part, grouped by wording family, so
  the held-out part is never used to tune it;
* **the survey's NLU**, when Rasa's ``danger`` intent is confident (passed in by the caller).

The kind always comes from the model (its most likely kind), so a message flagged by a
phrase or by NLU still gets the help that fits it; when the model cannot tell the kind
apart (no kind clearly ahead), ``kind`` is ``None`` and the caller gives the general help.

The model reads the whole message and each sentence (and pairs of sentences), and takes
the riskiest: a danger sentence inside long, calm feedback is not diluted by it. All of
this is linear in the length of the message, and the model reads at most ``MODEL_CHARS``.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import FeatureUnion

from bot.catalogue import all_danger_words, available_languages, catalogue, normalise_words
from bot.safety.data import SAFETY_DATA, Example, fingerprint, load_examples, train_part
from bot.safety.kinds import HARMLESS
from bot.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

MODEL_PATH = PROJECT_ROOT / "models" / "safety" / "detector.joblib"
MODEL_CHARS = 4000  # characters of a message the model reads (phrases read all of it)
MAX_PIECES = 64  # sentences of a message the model reads one by one
TARGET_RECALL = 0.99  # out-of-fold recall on the train part that sets the threshold
KIND_MARGIN = 0.35  # the top kind's share of the danger probability needed to name it
_SENTENCE = re.compile(r"[^.!?;\n\u061f\u06d4\u0964\u0965]+")  # . ! ? ; ؟ ۔ । ॥
_REPEATS = re.compile(r"(.)\1{2,}")


@dataclass(frozen=True)
class Risk:
    """What the detector found. ``danger`` is the decision; ``kind`` the help that fits."""

    danger: bool
    kind: str | None = None  # one of RISK_KINDS, or None when it cannot be told
    confidence: float = 0.0  # the model's probability of danger in the riskiest piece
    signals: tuple[str, ...] = field(default=())  # "phrase", "model", "intent"


NO_RISK = Risk(False)


def model_text(text: str) -> str:
    """What the model reads: NFKC, case-folded, Latin accents dropped, long repeats cut."""
    text = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    kept = [c for i, c in enumerate(decomposed)
            if not (unicodedata.combining(c) and i and decomposed[i - 1].isascii())]
    return _REPEATS.sub(r"\1\1", unicodedata.normalize("NFC", "".join(kept)))


def pieces(text: str) -> list[str]:
    """The whole text, each sentence and each pair of sentences (at most MAX_PIECES)."""
    text = text[:MODEL_CHARS]
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()][:MAX_PIECES]
    pairs = [f"{a} {b}" for a, b in zip(sentences, sentences[1:], strict=False)]
    return list(dict.fromkeys([text.strip(), *sentences, *pairs])) if text.strip() else []


def phrase_hit(text: str) -> bool:
    """A danger phrase of any language, as whole words."""
    padded = f" {normalise_words(text)} "
    return any(f" {phrase} " in padded for phrase in all_danger_words())


def _features() -> FeatureUnion:
    return FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                  max_features=300_000)),
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                  token_pattern=r"(?u)\b\w+\b")),
    ])


def _classifier() -> LogisticRegression:
    # liblinear: a few seconds for the whole set, one-vs-rest for the kinds.
    return LogisticRegression(C=10.0, class_weight="balanced", solver="liblinear")


@dataclass
class Models:
    """Shared n-gram features; danger or not; which kind (trained on danger examples only)."""

    features: FeatureUnion
    danger: LogisticRegression
    kind: LogisticRegression

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str]) -> Models:
        features = _features()
        matrix = features.fit_transform(texts)
        danger = np.array([label != HARMLESS for label in labels])
        kinds = _classifier().fit(matrix[danger], np.array(labels)[danger])
        return cls(features, _classifier().fit(matrix, danger), kinds)


class Detector:
    """Trained models, the flag threshold and the phrase lists. ``assess`` one message."""

    def __init__(self, models: Models, threshold: float, trained_on: str = "") -> None:
        self.models = models
        self.threshold = threshold  # flag when P(danger) in some piece is at least this
        self.trained_on = trained_on  # the data fingerprint

    def assess(self, text: str, *, intent_danger: bool = False) -> Risk:
        """The risk in one message; ``intent_danger``: the survey's NLU said danger."""
        found = pieces(model_text(text)) if isinstance(text, str) else []
        if not found:
            return Risk(True, signals=("intent",)) if intent_danger else NO_RISK
        matrix = self.models.features.transform(found)
        danger = self.models.danger.predict_proba(matrix)[:, 1]
        riskiest = int(np.argmax(danger))
        confidence = float(danger[riskiest])
        signals = tuple(name for name, on in (
            ("phrase", phrase_hit(text)), ("model", confidence >= self.threshold),
            ("intent", intent_danger)) if on)
        if not signals:
            return Risk(False, confidence=confidence)
        return Risk(True, self._kind(matrix[riskiest]), confidence, signals)

    def danger_probability(self, texts: Sequence[str]) -> np.ndarray:
        """The model's P(danger) for each text, its riskiest piece (reports, tuning)."""
        return np.array([self._risk_of(text) for text in texts])

    def _risk_of(self, text: str) -> float:
        found = pieces(model_text(text))
        if not found:
            return 0.0
        matrix = self.models.features.transform(found)
        return float(np.max(self.models.danger.predict_proba(matrix)[:, 1]))

    def _kind(self, row) -> str | None:
        """The most likely kind, or None when no kind is clearly ahead of the others."""
        scores = self.models.kind.predict_proba(row)[0]
        best = int(np.argmax(scores))
        total = float(np.sum(scores))
        return str(self.models.kind.classes_[best]) if total > 0 and (
            scores[best] / total >= KIND_MARGIN) else None


def extra_harmless() -> list[Example]:
    """Every choice label and choice word of every language: plain answers, never danger."""
    found: list[Example] = []
    for code in available_languages():
        words = catalogue(code)
        texts = [*words.choices.values(), *(w for ws in words.choice_words.values() for w in ws)]
        found += [Example(text, HARMLESS, code, f"{code}/{HARMLESS}/choices", False)
                  for text in dict.fromkeys(texts)]
    return found


def train(examples: Sequence[Example] | None = None, *, folds: int = 5) -> Detector:
    """Train on the train part (plus choice labels); set the threshold out of fold."""
    fresh = examples is None
    examples = load_examples() if examples is None else list(examples)
    chosen = [*train_part(examples), *extra_harmless()]
    texts = [model_text(e.text) for e in chosen]
    labels = [e.label for e in chosen]
    threshold = _threshold(chosen, texts, labels, folds)
    return Detector(Models.fit(texts, labels), threshold, fingerprint() if fresh else "")


def _threshold(chosen: list[Example], texts: list[str], labels: list[str], folds: int) -> float:
    """The highest threshold that keeps out-of-fold recall at TARGET_RECALL or more.

    Folds are grouped by wording family, as the held-out part is, so the threshold is set
    for wordings the model has not seen.
    """
    groups = [e.family for e in chosen]
    risk = np.zeros(len(chosen))
    for fit, held in GroupKFold(n_splits=folds).split(texts, labels, groups):
        models = Models.fit([texts[i] for i in fit], [labels[i] for i in fit])
        risk[held] = Detector(models, 0.5).danger_probability([chosen[i].text for i in held])
    danger = np.sort(risk[[e.danger for e in chosen]])
    if not len(danger):
        return 0.5
    index = int(np.floor((1.0 - TARGET_RECALL) * len(danger)))
    return float(min(0.5, danger[index]))


def save(detector: Detector, path: Path = MODEL_PATH) -> None:
    """Write it whole, then move it into place: a process loading it never reads half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    joblib.dump({"models": detector.models, "threshold": detector.threshold,
                 "trained_on": detector.trained_on}, partial)
    os.replace(partial, path)


def load(path: Path = MODEL_PATH) -> Detector | None:
    try:
        saved = joblib.load(path)
        return Detector(saved["models"], float(saved["threshold"]), saved["trained_on"])
    except (OSError, KeyError, ValueError, EOFError, AttributeError):
        return None


@cache
def detector(path: Path = MODEL_PATH, data: Path = SAFETY_DATA) -> Detector:
    """The detector for this process: the saved one, trained again when the data changed.

    Training takes well under a minute (README, "Safety"), so a fresh clone needs no step
    of its own: the first process to need it makes it and later ones load it.
    """
    wanted = fingerprint(data)
    found = load(path)
    if found is not None and found.trained_on == wanted:
        return found
    log.info("training the safety detector (its examples changed)")
    made = train(load_examples(data))
    made.trained_on = wanted
    save(made, path)
    return made
