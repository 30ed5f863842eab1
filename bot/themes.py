"""Themes and sentiment of free-text answers: NHS England's QDC framework, with scikit-learn.

Each comment gets the categories of the Qualitative Data Categorisation framework (version 6,
as in ``../shared/data/qdc_v6_train.csv``) that apply to it, and a sentiment from 1 (very
positive) to 5 (very negative); mixed comments are 3.

    rows = read_csv("qdc_v6_train.csv") + store.corrections()
    model = train(rows)
    save(model, model_path())
    load().predict(["The driver was kind"], ["rating_reason"])
    # -> [Prediction(themes=["Staff manner & personal attributes", ...], sentiment=1)]
    evaluate(model, read_csv("held_out.csv"))   # -> Scores(micro_f1, macro_f1, ...)

**Rows** are dicts in the CSV's own format (what :func:`read_csv` and ``csv.DictReader``
give, and what ``Store.corrections()`` returns): ``FFT answer`` is the comment,
``FFT question`` the question it answered, ``Comment sentiment`` 1..5 (or empty), and every
column *after* ``Comment sentiment`` is a category, ``"1"`` where it applies. ``Respondent
ID`` (else ``Comment ID``) groups the comments of one person when thresholds are tuned.

Decisions (see also README):

* Rows whose comment is empty or ``Did not answer`` are not comments: they are left out of
  training and evaluation, and with them the **"Labelling not possible"** category, which
  the data sets only on those rows. Our store never holds an empty free-text answer.
  "Not assigned" (a comment with nothing to categorise, e.g. "N/a") is kept.
* **The question is a feature**, because "Nothing" after "What was good?" is a complaint and
  after "What could we do better?" is praise. Every question is mapped to one of three kinds,
  those of pxtextmining: ``what_good``, ``could_improve`` and ``nonspecific``. The kind is
  one-hot encoded *and* crossed with the comment's words (``could_improve:nothing``), so a
  linear model can give the same word opposite weights after different questions. Our
  question keys: ``rating_reason`` ("why did you give that answer", the FFT "Why?") is
  ``nonspecific``; ``improve`` ("what would have made your experience better") and
  ``barriers_more`` ("tell us more" about what made care hard to get: problems) are
  ``could_improve``. Dataset questions are mapped as pxtextmining maps them; any other
  wording is ``what_good`` if it asks what was good, ``could_improve`` if it says
  better/improve/change, else ``nonspecific``.
* **Model**: TF-IDF of word 1-2-grams, character 2-5-grams (within words: spelling mistakes,
  plurals) and question-crossed words, then one linear SVM per category (class weights
  balanced) with its own decision threshold, tuned by grouped 3-fold cross-validation on
  the training rows; a comment over no threshold gets its single best category, as every
  labelled comment has at least one. Sentiment is a second linear SVM (balanced classes)
  on the same features. Categories with fewer than :data:`MIN_EXAMPLES` examples are
  known (listed in ``categories``) but never predicted. Cross-validated on the shared data
  (``make themes-report``): themes micro F1 0.67, macro F1 0.52, sentiment macro F1 0.61,
  about 5,000 comments a second on one core in batches (about 100 one per call).
* **Staff corrections** (``Store.corrections()``) are rows like any other with a ``Weight``
  column of :data:`CORRECTION_WEIGHT`: a reviewed label on our own questions counts as five
  comments of the public data, enough for the next model to follow it on that comment.
  ``Weight`` may sit in any CSV before ``Comment sentiment`` (default 1).
* Comments are cut to :data:`MAX_CHARS` characters (the store keeps 5,000), Unicode NFKC.
  An empty comment predicts ``Not assigned`` and sentiment 3 without calling the model.

Nothing here logs or prints comment text; only counts. The core (``bot``) never imports
``rasa``; scikit-learn, SciPy and NumPy are imported only when a model is trained, loaded or
used, so ``bot.store`` can use the row helpers cheaply.

A model file is a pickle (joblib): load only files you made with ``patient-voice themes
train``; never a file from someone else.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bot.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

MODEL_ENV = "THEMES_MODEL"
DEFAULT_MODEL_PATH = PROJECT_ROOT / "models" / "themes" / "themes.joblib"
FILE_FORMAT = 1

# Columns of the labelled CSV (see ../shared/data/README.md).
COMMENT_ID = "Comment ID"
RESPONDENT_ID = "Respondent ID"
QUESTION = "FFT question"
ANSWER = "FFT answer"
SENTIMENT = "Comment sentiment"
WEIGHT = "Weight"  # optional, before "Comment sentiment": how much a row counts (default 1)
NOT_LABELLABLE = "Labelling not possible"
NOT_ASSIGNED = "Not assigned"
NOT_ANSWERED = ("", "did not answer")
SENTIMENTS = (1, 2, 3, 4, 5)
NEUTRAL = 3
MAX_CHARS = 5000
MIN_EXAMPLES = 3  # fewer positive training examples than this: the category is never predicted
MACRO_MIN_SUPPORT = 20  # macro F1 is averaged over categories with at least this many examples
CORRECTION_WEIGHT = 5.0  # a staff correction counts as much as this many labelled comments

# Question kinds, as pxtextmining names them.
WHAT_GOOD, COULD_IMPROVE, NONSPECIFIC = "what_good", "could_improve", "nonspecific"
KINDS = (WHAT_GOOD, COULD_IMPROVE, NONSPECIFIC)
# Our free-text questions (bot/questions.py); service_other names a service and is not themed.
QUESTION_KINDS = {
    "rating_reason": NONSPECIFIC,
    "barriers_more": COULD_IMPROVE,
    "improve": COULD_IMPROVE,
}
# The dataset's questions (lower case, spaces collapsed), mapped as pxtextmining maps them.
DATASET_QUESTION_KINDS = {
    "fft why?": NONSPECIFIC,
    "please tell us why": NONSPECIFIC,
    "please tells us why you gave this answer?": NONSPECIFIC,
    "please describe any things about the 111 service that you were particularly "
    "satisfied and/or dissatisfied with": NONSPECIFIC,
    "what was good?": WHAT_GOOD,
    "how could we improve?": COULD_IMPROVE,
    "what could we do better?": COULD_IMPROVE,
    "is there anything we could have done better?": COULD_IMPROVE,
}
_GOOD_WORDS = re.compile(r"\b(good|well|best|like|liked|positive)\b")
_BETTER_WORDS = re.compile(r"\b(better|improve\w*|change|worse|wrong|dissatisf\w*)\b")
_WORDS = re.compile(r"\w+")
_SEPARATOR = "\x1f"  # between the question kind and the text of one feature document


def question_kind(question: str | None) -> str:
    """``what_good``, ``could_improve`` or ``nonspecific`` for a question key or wording."""
    wording = " ".join(str(question or "").split()).lower()
    if wording in KINDS:
        return wording
    if wording in QUESTION_KINDS:
        return QUESTION_KINDS[wording]
    if wording in DATASET_QUESTION_KINDS:
        return DATASET_QUESTION_KINDS[wording]
    if _GOOD_WORDS.search(wording) and not _BETTER_WORDS.search(wording):
        return WHAT_GOOD
    if _BETTER_WORDS.search(wording):
        return COULD_IMPROVE
    return NONSPECIFIC


def clean_text(text: object) -> str:
    """The comment as the model reads it: NFKC, at most MAX_CHARS, no separator characters."""
    cleaned = unicodedata.normalize("NFKC", str(text if text is not None else ""))
    return cleaned[:MAX_CHARS].replace(_SEPARATOR, " ").strip()


def model_path() -> Path:
    """``THEMES_MODEL`` or ``models/themes/themes.joblib`` under the project."""
    configured = os.environ.get(MODEL_ENV, "").strip()
    return Path(configured).expanduser() if configured else DEFAULT_MODEL_PATH


# --- rows ------------------------------------------------------------------------------------


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of a labelled CSV (UTF-8, with or without a byte-order mark) as dicts.

    Raises ValueError if the file lacks ``FFT answer`` or ``Comment sentiment`` or has no
    category column after ``Comment sentiment``.
    """
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or ())
        missing = [column for column in (ANSWER, SENTIMENT) if column not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        if header.index(SENTIMENT) == len(header) - 1:
            raise ValueError(f"{path}: no category columns after {SENTIMENT!r}")
        return [dict(row) for row in reader]


def category_columns(row: Mapping[str, Any]) -> list[str]:
    """The category columns of a row: every key after ``Comment sentiment``."""
    keys = list(row)
    if SENTIMENT not in keys:
        return []
    return [key for key in keys[keys.index(SENTIMENT) + 1 :] if key and key != NOT_LABELLABLE]


def make_row(
    text: str,
    question: str,
    themes: Iterable[str],
    sentiment: int | None,
    *,
    comment_id: str = "",
    respondent_id: str = "",
    weight: float = 1.0,
) -> dict[str, str]:
    """A row in the CSV format (for corrections): only the categories that apply are columns."""
    row = {
        COMMENT_ID: comment_id,
        RESPONDENT_ID: respondent_id,
        QUESTION: question,
        ANSWER: text,
        WEIGHT: f"{weight:g}",
        SENTIMENT: str(sentiment) if sentiment is not None else "",
    }
    row.update({theme: "1" for theme in themes})
    return row


def _is_set(value: object) -> bool:
    return str(value if value is not None else "").strip().lower() in ("1", "1.0", "true", "yes")


def _sentiment(value: object) -> int | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() and int(number) in SENTIMENTS else None


def _weight(value: object) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        return 1.0
    return number if 0 < number <= 1000 else 1.0


@dataclass(frozen=True)
class Example:
    """One labelled comment, as the model reads it."""

    text: str
    kind: str
    themes: frozenset[str]
    sentiment: int | None
    group: str
    weight: float = 1.0


def examples(rows: Iterable[Mapping[str, Any]]) -> tuple[list[Example], list[str]]:
    """The labelled comments in ``rows`` and every category named by a column, in order.

    Rows without a comment (empty, ``Did not answer``) are skipped.
    """
    found: list[Example] = []
    categories: dict[str, None] = {}
    for number, row in enumerate(rows):
        columns = category_columns(row)
        categories.update(dict.fromkeys(columns))
        text = clean_text(row.get(ANSWER))
        if text.lower() in NOT_ANSWERED:
            continue
        group = str(row.get(RESPONDENT_ID) or row.get(COMMENT_ID) or f"row-{number}")
        found.append(
            Example(
                text=text,
                kind=question_kind(row.get(QUESTION)),
                themes=frozenset(column for column in columns if _is_set(row.get(column))),
                sentiment=_sentiment(row.get(SENTIMENT)),
                group=group,
                weight=_weight(row.get(WEIGHT, "")) if WEIGHT in row else 1.0,
            )
        )
    return found, list(categories)


# --- the model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    themes: list[str]
    sentiment: int  # 1 very positive .. 5 very negative


@dataclass(frozen=True)
class Options:
    """Training settings; the defaults were chosen with scripts/themes_report.py.

    Tried on 5-fold grouped cross-validation (micro / macro F1): balanced class weights beat
    none (0.684 / 0.489 against 0.677 / 0.449 at C=1); per-category thresholds trade micro
    for macro (0.668 / 0.522 against 0.684 / 0.489 at 0); logistic regression was no better
    (0.686 / 0.507) and slower; question-crossed words add 0.02 micro; character n-grams
    across word boundaries or min_df 1 changed nothing. Also tried (2026-11-26), none better
    than 0.670 / 0.522: C 0.05 / 0.3; logistic regression C=5 (0.674 / 0.518); the FFT
    rating as a feature (0.665 / 0.517; the comment's sentiment is often not the rating's);
    stacking a second model on all categories' margins (worse); an ungrouped split gives the
    same figures, so grouping by respondent costs nothing. Pretrained embeddings or
    transformers (pxtextmining's DistilBERT) would need model files from a hub; no such
    package is on PyPI (spaCy's models are not), so they are out of reach here.
    """

    word_features: int = 40000
    char_features: int = 60000
    question_weight: float = 0.5
    theme_c: float = 0.1
    sentiment_c: float = 0.1
    tune_thresholds: bool = True
    at_least_one: bool = True
    threshold_folds: int = 3
    seed: int = 0


def _question_words(document: str) -> list[str]:
    """Words crossed with the question kind: ``could_improve:nothing``."""
    kind, _, text = document.partition(_SEPARATOR)
    return [f"{kind}:{word}" for word in _WORDS.findall(text.lower())]


def _text_only(document: str) -> str:
    return document.partition(_SEPARATOR)[2].lower()


class Features:
    """Comment and question kind -> one sparse row of TF-IDF and question features."""

    def __init__(self, options: Options):
        from sklearn.feature_extraction.text import TfidfVectorizer

        common = dict(sublinear_tf=True, min_df=2, dtype=_float32())
        self.word = TfidfVectorizer(
            preprocessor=_text_only,
            token_pattern=r"(?u)\b\w+\b",
            ngram_range=(1, 2),
            max_features=options.word_features,
            **common,
        )
        self.char = TfidfVectorizer(
            preprocessor=_text_only,
            analyzer="char_wb",
            ngram_range=(2, 5),
            max_features=options.char_features,
            **common,
        )
        self.crossed = TfidfVectorizer(analyzer=_question_words, **common)
        self.question_weight = options.question_weight

    @staticmethod
    def documents(texts: Sequence[str], kinds: Sequence[str]) -> list[str]:
        return [f"{kind}{_SEPARATOR}{text}" for text, kind in zip(texts, kinds, strict=True)]

    def _kinds(self, kinds: Sequence[str]):
        import numpy as np
        from scipy import sparse

        rows = np.arange(len(kinds))
        columns = np.array([KINDS.index(kind) for kind in kinds], dtype=int)
        values = np.full(len(kinds), self.question_weight, dtype=np.float32)
        return sparse.csr_matrix((values, (rows, columns)), shape=(len(kinds), len(KINDS)))

    def fit_transform(self, texts: Sequence[str], kinds: Sequence[str]):
        from scipy import sparse

        documents = self.documents(texts, kinds)
        parts = [
            self.word.fit_transform(documents),
            self.char.fit_transform(documents),
            self.crossed.fit_transform(documents),
            self._kinds(kinds),
        ]
        return sparse.hstack(parts, format="csr")

    def transform(self, texts: Sequence[str], kinds: Sequence[str]):
        from scipy import sparse

        documents = self.documents(texts, kinds)
        parts = [
            self.word.transform(documents),
            self.char.transform(documents),
            self.crossed.transform(documents),
            self._kinds(kinds),
        ]
        return sparse.hstack(parts, format="csr")


def _float32():
    import numpy as np

    return np.float32


@dataclass
class ThemeModel:
    """A trained classifier; use :meth:`predict`. Made by :func:`train`, kept by :func:`save`."""

    categories: list[str]  # every category of the training data, in column order
    labels: list[str]  # the categories with a classifier (enough examples)
    features: Features
    weights: Any  # float32 array (labels x features)
    bias: Any  # float32 array (labels)
    thresholds: Any  # float32 array (labels)
    sentiment: Any  # a fitted LinearSVC
    options: Options
    version: str
    trained_on: dict[str, int] = field(default_factory=dict)

    def vectorise(self, texts: Sequence[str], questions: Sequence[str]):
        """The model's input for these comments (a sparse matrix, one row each)."""
        kinds = [question_kind(question) for question in questions]
        return self.features.transform([clean_text(text) for text in texts], kinds)

    def scores(self, texts: Sequence[str], questions: Sequence[str]):
        """Per-category margins over each threshold (labels order) and sentiment classes."""
        matrix = self.vectorise(texts, questions)
        margins = matrix @ self.weights.T + self.bias - self.thresholds
        return margins, self.sentiment.predict(matrix)

    def predict(self, texts: Sequence[str], questions: Sequence[str]) -> list[Prediction]:
        """Themes and sentiment of each comment; ``questions`` are question keys or wordings."""
        texts, questions = list(texts), list(questions)
        if len(texts) != len(questions):
            raise ValueError("texts and questions must have the same length")
        cleaned = [clean_text(text) for text in texts]
        filled = [number for number, text in enumerate(cleaned) if text]
        empty = [NOT_ASSIGNED] if NOT_ASSIGNED in self.categories else []
        predictions = [Prediction(list(empty), NEUTRAL) for _ in texts]
        if not filled:
            return predictions
        margins, sentiments = self.scores(
            [cleaned[n] for n in filled], [questions[n] for n in filled]
        )
        chosen = _choose(margins, self.options.at_least_one)
        for row, number in enumerate(filled):
            themes = [self.labels[column] for column in chosen[row]]
            predictions[number] = Prediction(themes, int(sentiments[row]))
        return predictions


def _choose(margins, at_least_one: bool) -> list[list[int]]:
    import numpy as np

    chosen = []
    for row in np.asarray(margins):
        columns = list(np.flatnonzero(row > 0))
        if not columns and at_least_one and row.size:
            columns = [int(np.argmax(row))]
        chosen.append([int(column) for column in columns])
    return chosen


def _label_matrix(found: Sequence[Example], labels: Sequence[str]):
    import numpy as np

    matrix = np.zeros((len(found), len(labels)), dtype=np.int8)
    index = {label: column for column, label in enumerate(labels)}
    for row, example in enumerate(found):
        for theme in example.themes:
            if theme in index:
                matrix[row, index[theme]] = 1
    return matrix


def _fit_themes(matrix, targets, options: Options, row_weights):
    """Weights and biases of one balanced linear SVM per column of ``targets``."""
    import numpy as np
    from sklearn.svm import LinearSVC

    weights = np.zeros((targets.shape[1], matrix.shape[1]), dtype=np.float32)
    bias = np.zeros(targets.shape[1], dtype=np.float32)
    for column in range(targets.shape[1]):
        svm = LinearSVC(C=options.theme_c, class_weight="balanced", random_state=options.seed)
        svm.fit(matrix, targets[:, column], sample_weight=row_weights)
        weights[column] = svm.coef_[0]
        bias[column] = svm.intercept_[0]
    return weights, bias


def _best_threshold(scores, truth) -> float:
    """The margin threshold that maximises F1 of one category on out-of-fold scores."""
    import numpy as np

    positives = int(truth.sum())
    if positives < 5:
        return 0.0
    best, best_f1 = 0.0, -1.0
    for threshold in np.linspace(-0.8, 0.8, 33):
        predicted = scores > threshold
        hits = int((predicted & (truth == 1)).sum())
        f1 = 2 * hits / (int(predicted.sum()) + positives)
        # prefer thresholds near 0 on ties: they move the SVM least
        if f1 > best_f1 + 1e-9 or (abs(f1 - best_f1) <= 1e-9 and abs(threshold) < abs(best)):
            best, best_f1 = float(threshold), f1
    return best


def _tune_thresholds(found: Sequence[Example], targets, options: Options):
    """Per-category thresholds from grouped out-of-fold margins on the training rows."""
    import numpy as np
    from sklearn.model_selection import GroupKFold

    groups = [example.group for example in found]
    folds = min(options.threshold_folds, len(set(groups)))
    if folds < 2:
        return np.zeros(targets.shape[1], dtype=np.float32)
    margins = np.zeros(targets.shape, dtype=np.float32)
    for fit_rows, held_rows in GroupKFold(n_splits=folds).split(found, groups=groups):
        features = Features(options)
        fit_matrix = features.fit_transform(
            [found[n].text for n in fit_rows], [found[n].kind for n in fit_rows]
        )
        held_matrix = features.transform(
            [found[n].text for n in held_rows], [found[n].kind for n in held_rows]
        )
        fit_targets = targets[fit_rows]
        trainable = [c for c in range(targets.shape[1]) if 0 < fit_targets[:, c].sum()]
        row_weights = [found[n].weight for n in fit_rows]
        weights, bias = _fit_themes(fit_matrix, fit_targets[:, trainable], options, row_weights)
        margins[np.ix_(held_rows, trainable)] = held_matrix @ weights.T + bias
        untrained = [c for c in range(targets.shape[1]) if c not in trainable]
        margins[np.ix_(held_rows, untrained)] = -1.0
    thresholds = [_best_threshold(margins[:, c], targets[:, c]) for c in range(targets.shape[1])]
    return np.asarray(thresholds, dtype=np.float32)


def _version(found: Sequence[Example], options: Options) -> str:
    digest = hashlib.sha256(repr(options).encode())
    for example in found:
        line = f"{example.kind}|{sorted(example.themes)}|{example.sentiment}|{example.weight}|"
        line += example.text + "\n"
        digest.update(line.encode("utf-8", "replace"))
    return f"{date.today():%Y%m%d}-{digest.hexdigest()[:10]}"


def train(rows: Iterable[Mapping[str, Any]], options: Options | None = None) -> ThemeModel:
    """A model trained on labelled rows (see the module docstring for the format).

    Raises ValueError when no category has :data:`MIN_EXAMPLES` examples or fewer than two
    sentiment levels are present.
    """
    import numpy as np
    from sklearn.svm import LinearSVC

    options = options or Options()
    found, categories = examples(rows)
    extra = sorted({theme for example in found for theme in example.themes} - set(categories))
    categories += extra
    counts = {c: sum(c in example.themes for example in found) for c in categories}
    labels = [category for category in categories if counts[category] >= MIN_EXAMPLES]
    if not labels:
        raise ValueError(f"no category has {MIN_EXAMPLES} or more labelled comments")
    rated = [example for example in found if example.sentiment is not None]
    if len({example.sentiment for example in rated}) < 2:
        raise ValueError("the rows need at least two different sentiment levels")
    targets = _label_matrix(found, labels)
    features = Features(options)
    matrix = features.fit_transform([e.text for e in found], [e.kind for e in found])
    weights, bias = _fit_themes(matrix, targets, options, [e.weight for e in found])
    if options.tune_thresholds:
        thresholds = _tune_thresholds(found, targets, options)
    else:
        thresholds = np.zeros(len(labels), dtype=np.float32)
    rated_rows = [n for n, example in enumerate(found) if example.sentiment is not None]
    sentiment = LinearSVC(C=options.sentiment_c, class_weight="balanced", random_state=options.seed)
    sentiment.fit(
        matrix[rated_rows],
        [found[n].sentiment for n in rated_rows],
        sample_weight=[found[n].weight for n in rated_rows],
    )
    log.info(
        "themes model trained on %d comments (%d with sentiment), %d of %d categories",
        len(found),
        len(rated),
        len(labels),
        len(categories),
    )
    return ThemeModel(
        categories=categories,
        labels=labels,
        features=features,
        weights=weights,
        bias=bias,
        thresholds=thresholds,
        sentiment=sentiment,
        options=options,
        version=_version(found, options),
        trained_on={"comments": len(found), "with_sentiment": len(rated)},
    )


# --- files -----------------------------------------------------------------------------------

_cache: dict[tuple[str, int, int], ThemeModel] = {}
_cache_lock = threading.Lock()


def save(model: ThemeModel, path: str | os.PathLike | None = None) -> Path:
    """Write the model (joblib, compressed) to ``path`` (default :func:`model_path`)."""
    import joblib
    import sklearn

    target = Path(path) if path is not None else model_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    content = {"format": FILE_FORMAT, "sklearn": sklearn.__version__, "model": model}
    joblib.dump(content, partial, compress=3)
    partial.replace(target)  # readers never see half a file
    return target


def load(path: str | os.PathLike | None = None) -> ThemeModel:
    """The model at ``path`` (default :func:`model_path`), read once and then cached.

    A file replaced since (new size or modification time) is read again. Raises
    FileNotFoundError with the command that makes the file, ValueError for a file that is not
    a themes model or was made with another scikit-learn version (retrain then).
    """
    import joblib
    import sklearn

    source = Path(path) if path is not None else model_path()
    try:
        stat = source.stat()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no themes model at {source}: make one with "
            "`patient-voice themes train --data FILE.csv`"
        ) from None
    key = (str(source.resolve()), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        if key not in _cache:
            content = joblib.load(source)
            if not isinstance(content, dict) or content.get("format") != FILE_FORMAT:
                raise ValueError(f"{source} is not a themes model file (format {FILE_FORMAT})")
            if content.get("sklearn") != sklearn.__version__:
                raise ValueError(
                    f"{source} was made with scikit-learn {content.get('sklearn')}, this is "
                    f"{sklearn.__version__}: retrain with `patient-voice themes train`"
                )
            for old in [k for k in _cache if k[0] == key[0]]:
                del _cache[old]
            _cache[key] = content["model"]
        return _cache[key]


# --- scores ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryScore:
    f1: float
    precision: float
    recall: float
    support: int  # comments of the evaluated rows with this category


@dataclass(frozen=True)
class Scores:
    micro_f1: float
    macro_f1: float | None  # over categories with >= MACRO_MIN_SUPPORT examples; None if none
    sentiment_macro_f1: float | None  # over the sentiment levels present; None if no sentiment
    per_category: dict[str, CategoryScore]
    comments: int
    macro_categories: int  # how many categories the macro F1 averages


def score(
    truth: Sequence[Iterable[str]],
    predicted: Sequence[Iterable[str]],
    true_sentiment: Sequence[int | None],
    predicted_sentiment: Sequence[int],
    categories: Iterable[str] = (),
) -> Scores:
    """F1 scores of predicted themes and sentiments against the truth."""
    from sklearn.metrics import f1_score

    truth_sets = [set(themes) for themes in truth]
    predicted_sets = [set(themes) for themes in predicted]
    names = list(dict.fromkeys([*categories, *sorted(set().union(*truth_sets, *predicted_sets))]))
    per_category: dict[str, CategoryScore] = {}
    all_hits = all_predicted = all_true = 0
    for name in names:
        true_count = sum(name in themes for themes in truth_sets)
        predicted_count = sum(name in themes for themes in predicted_sets)
        hits = sum(name in t and name in p for t, p in zip(truth_sets, predicted_sets, strict=True))
        all_hits, all_predicted, all_true = (
            all_hits + hits,
            all_predicted + predicted_count,
            all_true + true_count,
        )
        precision = hits / predicted_count if predicted_count else 0.0
        recall = hits / true_count if true_count else 0.0
        f1 = 2 * hits / (true_count + predicted_count) if true_count + predicted_count else 0.0
        per_category[name] = CategoryScore(f1, precision, recall, true_count)
    micro = 2 * all_hits / (all_true + all_predicted) if all_true + all_predicted else 0.0
    big = [s.f1 for s in per_category.values() if s.support >= MACRO_MIN_SUPPORT]
    both = zip(true_sentiment, predicted_sentiment, strict=True)
    pairs = [(t, p) for t, p in both if t is not None]
    sentiment_f1 = None
    if pairs:
        levels = sorted({t for t, _ in pairs})
        sentiment_f1 = float(
            f1_score([t for t, _ in pairs], [p for _, p in pairs], labels=levels,
                     average="macro", zero_division=0)
        )
    return Scores(
        micro_f1=micro,
        macro_f1=sum(big) / len(big) if big else None,
        sentiment_macro_f1=sentiment_f1,
        per_category=per_category,
        comments=len(truth_sets),
        macro_categories=len(big),
    )


def evaluate(model: ThemeModel, rows: Iterable[Mapping[str, Any]]) -> Scores:
    """Scores of ``model`` on labelled rows it should not have seen."""
    found, categories = examples(rows)
    predictions = model.predict([e.text for e in found], [e.kind for e in found])
    return score(
        [e.themes for e in found],
        [p.themes for p in predictions],
        [e.sentiment for e in found],
        [p.sentiment for p in predictions],
        categories,
    )


# --- theming the store's answers --------------------------------------------------------------


@dataclass(frozen=True)
class TagReport:
    themed: int  # answers given themes and a sentiment
    changed: int  # answers that changed or were withdrawn while being themed (left for later)


def tag_answers(store: Any, model: ThemeModel, limit: int | None = None) -> TagReport:
    """Theme the store's free-text answers that have an English text and no themes yet.

    Used by ``patient-voice themes tag`` and by the bot server's background run, so every
    answer is themed soon after its translation arrives. ``store`` is a
    :class:`bot.store.Store` (not imported here: the core stays light). Pages through the
    queue 500 answers at a time, oldest first.
    """
    themed = changed = after = 0
    while limit is None or themed + changed < limit:
        room = 500 if limit is None else min(500, limit - themed - changed)
        batch = store.unthemed_answers(room, question_keys=QUESTION_KINDS, after=after)
        if not batch:
            break
        predictions = model.predict([a.text for a in batch], [a.question_key for a in batch])
        for answer, prediction in zip(batch, predictions, strict=True):
            saved = store.save_themes(
                answer.answer_id,
                prediction.themes,
                prediction.sentiment,
                model.version,
                source_text=answer.text,
            )
            themed, changed = (themed + 1, changed) if saved else (themed, changed + 1)
        after = batch[-1].answer_id
    return TagReport(themed, changed)


DATA_ENV = "QDC_DATA"
DATA_FILE = "qdc_v6_train.csv"


def data_path() -> Path:
    """The shared labelled data: ``QDC_DATA`` (a file, or the folder holding qdc_v6_train.csv),
    else ``../shared/data/qdc_v6_train.csv`` beside the repository (as on CI)."""
    configured = os.environ.get(DATA_ENV, "").strip()
    path = Path(configured).expanduser() if configured else PROJECT_ROOT.parent / "shared" / "data"
    return path / DATA_FILE if path.is_dir() else path
