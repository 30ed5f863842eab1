"""The risk detector: does a message show danger or risk of harm, and of which kind?

Three signals, combined recall-first (any one is enough, because a missed message could
cost a life and a false alarm costs one kind message):

* **phrases**: the ``danger_words`` of every language in ``languages/`` (a patient may write
  in any language at any question);
* **the models**: two views of the message, averaged: character and word n-grams (TF-IDF)
  and a multilingual sentence vector (``bot.safety.embedding``), each with a logistic
  regression for danger against harmless and one for the kind, trained on the train part
  of ``data/safety/``. The flag threshold is chosen from out-of-fold predictions on the
  train part, grouped by wording family, so the held-out part never tunes anything;
* **the survey's NLU**, when Rasa's ``danger`` intent is confident (passed in by the caller).

The kind always comes from the models, so a message flagged by a phrase or by NLU still
gets the help that fits it; when no kind is clearly ahead, ``kind`` is ``None`` and the
caller gives the general help.

The n-gram model reads the whole message and each sentence (and pairs of sentences); the
riskiest few of those are also embedded, and the riskiest piece decides: one danger
sentence inside long, calm feedback is not diluted by it. All of it is linear in the
length of the message, which is read up to ``MODEL_CHARS``.
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

from bot.catalogue import all_danger_words, available_languages, catalogue, contains_any
from bot.safety.data import (
    SAFETY_DATA,
    Example,
    fingerprint,
    load_examples,
    nlu_harmless,
    train_part,
)
from bot.safety.embedding import VectorCache, embed
from bot.safety.kinds import HARMLESS
from bot.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

MODEL_PATH = PROJECT_ROOT / "models" / "safety" / "detector.joblib"
VECTORS_PATH = MODEL_PATH.with_name("vectors.npz")  # sentence vectors of training texts
MODEL_CHARS = 4000  # characters of a message the model reads (phrases read all of it)
MAX_PIECES = 64  # sentences of a message the model reads one by one
SPLIT_ABOVE = 200  # characters: a longer message is also read sentence by sentence
EMBEDDED_PIECES = 4  # of those, the riskiest to the n-gram model are also embedded
TARGET_RECALL = 0.99  # out-of-fold recall on the train part that sets the help threshold
# Out-of-fold share of the written look-alikes allowed above the interrupt threshold.
INTERRUPT_LOOK_ALIKES = 0.05
# Bumped whenever what is saved changes shape: a saved detector of another format is retrained.
MODEL_FORMAT = 3
KIND_MARGIN = 0.35  # the top kind's share of the danger probability needed to name it
_SENTENCE = re.compile(r"[^.!?;\n\u061f\u06d4\u0964\u0965]+")  # . ! ? ; ؟ ۔ । ॥
_REPEATS = re.compile(r"(.)\1{2,}")


@dataclass(frozen=True)
class Risk:
    """What the detector found. ``danger`` is the decision; ``kind`` the help that fits."""

    danger: bool
    kind: str | None = None  # one of RISK_KINDS, or None when it cannot be told
    confidence: float = 0.0  # the models' probability of danger in the riskiest piece
    signals: tuple[str, ...] = field(default=())  # "phrase", "model", "intent"
    # Sure enough to stop the conversation for it (a phrase, or the models above the higher
    # threshold); otherwise the help is shown and the visit goes on (bot.survey).
    urgent: bool = False


NO_RISK = Risk(False)


def model_text(text: str) -> str:
    """What the model reads: NFKC, case-folded, Latin accents dropped, long repeats cut."""
    text = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    kept = [c for i, c in enumerate(decomposed)
            if not (unicodedata.combining(c) and i and decomposed[i - 1].isascii())]
    return _REPEATS.sub(r"\1\1", unicodedata.normalize("NFC", "".join(kept)))


def pieces(text: str) -> list[str]:
    """The whole text; for a long one also each sentence and each pair (at most MAX_PIECES).

    A short message is read whole, as the models were trained: read one fragment at a time
    ("all round at Park House") it looks like nothing they know, and fragments of calm
    feedback were flagged far more often than whole messages.
    """
    text = text[:MODEL_CHARS]
    if len(text) <= SPLIT_ABOVE:
        return [text.strip()] if text.strip() else []
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()][:MAX_PIECES]
    pairs = [f"{a} {b}" for a, b in zip(sentences, sentences[1:], strict=False)]
    return list(dict.fromkeys([text.strip(), *sentences, *pairs])) if text.strip() else []


def phrase_hit(text: str) -> bool:
    """A danger phrase of any language, as whole words."""
    return contains_any(text, all_danger_words())


def _features() -> FeatureUnion:
    return FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                  max_features=300_000)),
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                  token_pattern=r"(?u)\b\w+\b")),
    ])


def _classifier() -> LogisticRegression:
    # liblinear: a few seconds for the whole set, one-vs-rest for the kinds.
    return LogisticRegression(C=10.0, solver="liblinear")


@dataclass
class View:
    """One way of reading messages: danger or not, and which kind (danger examples only)."""

    danger: LogisticRegression
    kind: LogisticRegression

    @classmethod
    def fit(cls, matrix, labels: np.ndarray, weights: np.ndarray) -> View:
        danger = labels != HARMLESS
        return cls(_classifier().fit(matrix, danger, sample_weight=weights),
                   _classifier().fit(matrix[danger], labels[danger]))

    def danger_probability(self, matrix) -> np.ndarray:
        return self.danger.predict_proba(matrix)[:, 1]

    def kind_probabilities(self, matrix) -> np.ndarray:
        return self.kind.predict_proba(matrix)


@dataclass
class Models:
    """The n-gram view (with its features) and the sentence-vector view."""

    features: FeatureUnion
    ngrams: View
    vectors: View

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], languages: Sequence[str],
            vectors: np.ndarray) -> Models:
        features = _features()
        matrix = features.fit_transform(texts)
        named = np.array(labels)
        weights = balanced_within_language(named != HARMLESS, languages)
        return cls(features, View.fit(matrix, named, weights), View.fit(vectors, named, weights))

    @property
    def kinds(self) -> list[str]:
        return [str(kind) for kind in self.ngrams.kind.classes_]


def balanced_within_language(danger: np.ndarray, languages: Sequence[str]) -> np.ndarray:
    """Weights that give danger and harmless the same total weight in each language.

    Without them the script itself becomes evidence: a language with three danger examples
    to each harmless one teaches the model that its letters mean danger.
    """
    codes = np.array(languages)
    weights = np.ones(len(danger))
    for code in set(languages):
        mine = codes == code
        for side in (True, False):
            chosen = mine & (danger == side)
            if chosen.any():
                weights[chosen] = mine.sum() / (2.0 * chosen.sum())
    return weights


@dataclass(frozen=True)
class Reading:
    """The models' view of one message: its riskiest piece's probabilities."""

    danger: float
    kinds: np.ndarray  # probability per kind, in Models.kinds order


class Detector:
    """Trained models, the flag threshold and the phrase lists. ``assess`` one message."""

    def __init__(self, models: Models, thresholds: Thresholds, trained_on: str = "") -> None:
        self.models = models
        self.thresholds = thresholds
        self.trained_on = trained_on  # the data fingerprint

    @property
    def threshold(self) -> float:
        """Show the help when P(danger) of the riskiest piece is at least this."""
        return self.thresholds.help

    def assess(self, text: str, *, intent_danger: bool = False) -> Risk:
        """The risk in one message; ``intent_danger``: the survey's NLU said danger."""
        reading = self.read(text) if isinstance(text, str) else None
        if reading is None:
            return Risk(True, signals=("intent",)) if intent_danger else NO_RISK  # not urgent
        signals = tuple(name for name, on in (
            ("phrase", phrase_hit(text)), ("model", reading.danger >= self.threshold),
            ("intent", intent_danger)) if on)
        if not signals:
            return Risk(False, confidence=reading.danger)
        urgent = "phrase" in signals or reading.danger >= self.thresholds.interrupt
        return Risk(True, self._kind(reading.kinds), reading.danger, signals, urgent)

    def read(self, text: str) -> Reading | None:
        """Both views of the riskiest pieces of ``text``; None when there is nothing to read."""
        found = pieces(model_text(text))
        if not found:
            return None
        matrix = self.models.features.transform(found)
        by_ngrams = self.models.ngrams.danger_probability(matrix)
        chosen = np.argsort(-by_ngrams)[:EMBEDDED_PIECES]
        vectors = embed([found[i] for i in chosen])
        danger = (by_ngrams[chosen] + self.models.vectors.danger_probability(vectors)) / 2
        riskiest = int(np.argmax(danger))
        kinds = (self.models.ngrams.kind_probabilities(matrix[chosen[riskiest]]) +
                 self.models.vectors.kind_probabilities(vectors[riskiest:riskiest + 1]))[0] / 2
        return Reading(float(danger[riskiest]), kinds)

    def _kind(self, kinds: np.ndarray) -> str | None:
        """The most likely kind, or None when no kind is clearly ahead of the others."""
        best = int(np.argmax(kinds))
        total = float(np.sum(kinds))
        return self.models.kinds[best] if total > 0 and kinds[best] / total >= KIND_MARGIN else None


def extra_harmless() -> list[Example]:
    """Plain answers, never danger: every choice label, choice word and command word of every
    language, and the survey NLU's examples of every intent but danger ("hi", "more buses")."""
    found: list[Example] = []
    for code in available_languages():
        words = catalogue(code)
        texts = [*words.choices.values(), *(w for ws in words.choice_words.values() for w in ws),
                 *(w for ws in words.commands.values() for w in ws)]
        found += [Example(text, HARMLESS, code, f"{code}/{HARMLESS}/choices", False)
                  for text in dict.fromkeys(texts)]
    return found + nlu_harmless()


def train(examples: Sequence[Example] | None = None, *, folds: int = 5,
          vectors: VectorCache | None = None) -> Detector:
    """Train on the train part (plus choice labels); set the threshold out of fold."""
    fresh = examples is None
    examples = load_examples() if examples is None else list(examples)
    chosen = [*train_part(examples), *extra_harmless()]
    texts = [model_text(e.text) for e in chosen]
    labels = [e.label for e in chosen]
    languages = [e.language for e in chosen]
    cache = vectors or VectorCache(VECTORS_PATH)
    embedded = cache.embed(texts)
    cache.save()
    thresholds = _thresholds(chosen, texts, embedded, folds)
    models = Models.fit(texts, labels, languages, embedded)
    return Detector(models, thresholds, fingerprint() if fresh else "")


@dataclass(frozen=True)
class Thresholds:
    """Two lines on P(danger): above ``help`` the help is shown (recall first); above
    ``interrupt`` the conversation also stops for it (the look-alikes' cost kept small)."""

    help: float
    interrupt: float


def _thresholds(chosen: list[Example], texts: list[str], embedded: np.ndarray,
                folds: int) -> Thresholds:
    """``help`` keeps out-of-fold recall at TARGET_RECALL; ``interrupt`` lets through at most
    INTERRUPT_LOOK_ALIKES of the written look-alikes (never below ``help``).

    Folds are grouped by wording family, as the held-out part is, so both are set for
    wordings the models have not seen: the held-out part tunes nothing.
    """
    labels = [e.label for e in chosen]
    risk = np.zeros(len(chosen))
    for fit, held in GroupKFold(n_splits=folds).split(texts, labels, [e.family for e in chosen]):
        models = Models.fit([texts[i] for i in fit], [labels[i] for i in fit],
                            [chosen[i].language for i in fit], embedded[fit])
        matrix = models.features.transform([texts[i] for i in held])
        risk[held] = (models.ngrams.danger_probability(matrix) +
                      models.vectors.danger_probability(embedded[held])) / 2
    danger = np.sort(risk[[e.danger for e in chosen]])
    written = np.sort(risk[[not e.danger and "/nlu_" not in e.family and
                            not e.family.endswith("/choices") for e in chosen]])
    if not len(danger) or not len(written):
        return Thresholds(0.5, 0.5)
    help_at = float(min(0.5, danger[int(np.floor((1.0 - TARGET_RECALL) * len(danger)))]))
    above = written[min(len(written) - 1, int(np.ceil((1 - INTERRUPT_LOOK_ALIKES) * len(written))))]
    return Thresholds(help_at, float(max(help_at, above)))


def save(detector: Detector, path: Path = MODEL_PATH) -> None:
    """Write it whole, then move it into place: a process loading it never reads half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    joblib.dump({"models": detector.models, "thresholds": detector.thresholds,
                 "trained_on": detector.trained_on, "format": MODEL_FORMAT}, partial)
    os.replace(partial, path)


def load(path: Path = MODEL_PATH) -> Detector | None:
    try:
        saved = joblib.load(path)
        if saved.get("format") != MODEL_FORMAT:
            return None
        return Detector(saved["models"], saved["thresholds"], saved["trained_on"])
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
