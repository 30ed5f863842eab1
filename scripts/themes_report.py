"""Cross-validated quality and speed of the themes classifier (``make themes-report``).

    .venv/bin/python scripts/themes_report.py [--data FILE.csv] [--folds 5] [--per-category]
                                              [--set theme_c=0.3 ...]

Splits the labelled comments into folds by ``Respondent ID`` (so one person's comments are
never on both sides; ``Comment ID`` when there is no respondent column), trains on all but
one fold with ``bot.themes.train`` and predicts the fold left out. The figures are computed
once over the pooled out-of-fold predictions (every comment is predicted by a model that
never saw it or its respondent), and the spread across folds is shown beside them.

Speed: the model of the last fold themes every comment again, batched as ``patient-voice
themes tag`` does and one comment at a time, pinned to one CPU core with one BLAS thread.

Targets (issue 7): themes micro F1 >= 0.75, macro F1 >= 0.60 over categories with at least
20 examples, sentiment macro F1 >= 0.60, >= 500 comments per second on one core. The exit
status is 0 whatever the figures; 2 if the data cannot be read.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import fields, replace  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import themes  # noqa: E402

TARGETS = {"micro": 0.75, "macro": 0.60, "sentiment": 0.60, "speed": 500.0}


def _options(settings: list[str]) -> themes.Options:
    options = themes.Options()
    kinds = {f.name: type(getattr(options, f.name)) for f in fields(options)}
    for setting in settings:
        name, _, value = setting.partition("=")
        if name not in kinds:
            raise SystemExit(f"unknown option {name!r}; known: {', '.join(kinds)}")
        kind = kinds[name]
        parsed = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
        options = replace(options, **{name: parsed})
    return options


def _groups(rows: list[dict]) -> list[str]:
    key = themes.RESPONDENT_ID if rows and themes.RESPONDENT_ID in rows[0] else themes.COMMENT_ID
    return [str(row.get(key) or f"row-{n}") for n, row in enumerate(rows)]


def _mark(value: float | None, target: float) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}  (target {target:.2f}: {'met' if value >= target else 'NOT met'})"


def _speed(model: themes.ThemeModel, found: list[themes.Example]) -> tuple[float, float]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    texts, kinds = [e.text for e in found], [e.kind for e in found]
    model.predict(texts[:50], kinds[:50])  # warm up
    start = time.perf_counter()
    for first in range(0, len(texts), 500):
        model.predict(texts[first : first + 500], kinds[first : first + 500])
    batched = len(texts) / (time.perf_counter() - start)
    sample = min(len(texts), 1000)
    start = time.perf_counter()
    for number in range(sample):
        model.predict([texts[number]], [kinds[number]])
    single = sample / (time.perf_counter() - start)
    return batched, single


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=themes.data_path())
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--per-category", action="store_true", help="print F1 per category")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="change a training option (bot.themes.Options)")
    args = parser.parse_args(argv)
    from sklearn.model_selection import GroupKFold

    try:
        rows = themes.read_csv(args.data)
    except (OSError, ValueError) as error:
        print(f"themes_report: cannot read the data: {error}", file=sys.stderr)
        return 2
    options = _options(args.set)
    found, categories = themes.examples(rows)
    groups = _groups(rows)
    kept = [n for n, row in enumerate(rows)
            if themes.clean_text(row.get(themes.ANSWER)).lower() not in themes.NOT_ANSWERED]
    assert len(kept) == len(found)
    groups = [groups[n] for n in kept]
    print(f"data: {args.data}")
    print(f"{len(found)} comments ({len(rows) - len(found)} rows without a comment left out), "
          f"{len(set(groups))} respondents, {len(categories)} categories, {args.folds} folds "
          "grouped by respondent")
    print(f"options: {options}")
    predicted_themes: list[list[str]] = [[] for _ in found]
    predicted_sentiment: list[int] = [themes.NEUTRAL for _ in found]
    fold_scores = []
    started = time.perf_counter()
    model = None
    for fold, (fit_rows, held_rows) in enumerate(
        GroupKFold(n_splits=args.folds).split(found, groups=groups), start=1
    ):
        model = themes.train([rows[kept[n]] for n in fit_rows], options)
        held = [found[n] for n in held_rows]
        predictions = model.predict([e.text for e in held], [e.kind for e in held])
        for number, prediction in zip(held_rows, predictions, strict=True):
            predicted_themes[number] = prediction.themes
            predicted_sentiment[number] = prediction.sentiment
        scores = themes.score(
            [e.themes for e in held], [p.themes for p in predictions],
            [e.sentiment for e in held], [p.sentiment for p in predictions],
        )
        fold_scores.append(scores)
        print(f"  fold {fold}: micro {scores.micro_f1:.3f}  sentiment "
              f"{scores.sentiment_macro_f1:.3f}  ({time.perf_counter() - started:.0f} s)",
              flush=True)
    pooled = themes.score(
        [e.themes for e in found], predicted_themes,
        [e.sentiment for e in found], predicted_sentiment, categories,
    )
    micro_folds = [s.micro_f1 for s in fold_scores]
    sentiment_folds = [s.sentiment_macro_f1 for s in fold_scores]
    print()
    print(f"themes micro F1     {_mark(pooled.micro_f1, TARGETS['micro'])}   "
          f"folds {statistics.mean(micro_folds):.3f} ± {statistics.pstdev(micro_folds):.3f}")
    print(f"themes macro F1     {_mark(pooled.macro_f1, TARGETS['macro'])}   "
          f"over {pooled.macro_categories} categories with >= {themes.MACRO_MIN_SUPPORT} "
          "examples")
    print(f"sentiment macro F1  {_mark(pooled.sentiment_macro_f1, TARGETS['sentiment'])}   "
          f"folds {statistics.mean(sentiment_folds):.3f} ± "
          f"{statistics.pstdev(sentiment_folds):.3f}")
    batched, single = _speed(model, found)
    met = "met" if batched >= TARGETS["speed"] else "NOT met"
    print(f"speed, one core     {batched:.0f} comments/s in batches of 500 (target "
          f"{TARGETS['speed']:.0f}: {met}); {single:.0f}/s one comment per call")
    print(f"cross-validation took {time.perf_counter() - started:.0f} s")
    if args.per_category:
        print()
        print(f"{'category':60} {'n':>5} {'F1':>6} {'prec':>6} {'recall':>6}")
        ranked = sorted(pooled.per_category.items(), key=lambda item: -item[1].support)
        for name, result in ranked:
            print(f"{name[:60]:60} {result.support:5d} {result.f1:6.3f} "
                  f"{result.precision:6.3f} {result.recall:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
