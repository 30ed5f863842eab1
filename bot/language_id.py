"""Which of our languages a message is written in: offline, from the langdetect package.

langdetect (a port of Google's language-detection library, Apache 2.0) ships its
language profiles inside the package, so nothing is downloaded at run time. It is
unreliable on very short texts ("hola" comes out as Welsh), so we only answer when the
text is long enough and the winner is clear; otherwise ``None`` and the bot carries on
in the language it has. A script used by only one of our languages (Gurmukhi, Bengali,
Gujarati, Cyrillic for Ukrainian) is enough on its own.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

from langdetect import DetectorFactory
from langdetect.detector_factory import PROFILES_DIRECTORY
from langdetect.lang_detect_exception import LangDetectException

from bot.catalogue import available_languages

MIN_LETTERS = 12
MIN_WORDS = 3
MIN_PROBABILITY = 0.90
# langdetect's codes that we read as one of ours (we speak Ukrainian, not Russian).
ALIASES = {"ru": "uk"}
# Unicode script name prefix -> our language, where only one of ours uses the script.
SCRIPTS = {"GURMUKHI": "pa", "BENGALI": "bn", "GUJARATI": "gu", "CYRILLIC": "uk"}
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _factory() -> DetectorFactory:
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)  # langdetect is random otherwise; the same text gets the same answer
    return factory


def _by_script(text: str) -> str | None:
    letters = [c for c in text if _LETTER.match(c)]
    for prefix, code in SCRIPTS.items():
        if letters and sum(unicodedata.name(c, "").startswith(prefix) for c in letters) > (
            len(letters) / 2
        ):
            return code
    return None


def identify(text: str, languages: list[str] | None = None) -> str | None:
    """Our language code for ``text``, or ``None`` when it is too short or unclear."""
    languages = languages or available_languages()
    script = _by_script(text)
    if script in languages:
        return script
    if len(_LETTER.findall(text)) < MIN_LETTERS or len(text.split()) < MIN_WORDS:
        return None
    with _lock:  # a langdetect Detector is not shared, but the factory's setup is
        detector = _factory().create()
    detector.append(text)
    try:
        ranked = detector.get_probabilities()
    except LangDetectException:
        return None
    scores: dict[str, float] = {}
    for guess in ranked:
        code = ALIASES.get(guess.lang, guess.lang)
        scores[code] = scores.get(code, 0.0) + guess.prob
    best = max(scores, key=scores.get, default=None)
    if best in languages and scores[best] >= MIN_PROBABILITY:
        return best
    return None
