"""Which of our languages a message is written in: offline, from its script and langdetect.

No code here names a language: what each is written in comes from ``meta`` in its
``languages/<code>.yml`` (``script``, ``distinctive_letters``), and the words it uses
from the rest of that file, read through :mod:`bot.catalogue`. The steps:

1. The script more than half the letters are in (a Unicode script name: LATIN, ARABIC,
   GURMUKHI...). Only our languages written in it can be the answer; a script none of
   them uses (Devanagari for Hindi), or no main script, gives ``None``.
2. A script only one of our languages uses is enough on its own, however short the text
   (today Gurmukhi: Panjabi; Bengali; Gujarati; Cyrillic: Ukrainian).
3. Where several share a script, letters only one of them uses decide, whatever the
   length: Urdu writes ٹ ڈ ڑ ں ے ہ ھ, which Arabic (and Persian) do not; Arabic writes
   ة ك ي ى أ إ where Urdu writes ۃ ک ی. The language with the most such letters wins.
4. Otherwise (the Latin-script languages, or Arabic script without telling letters)
   langdetect, a port of Google's language-detection library (Apache 2.0) whose language
   profiles ship inside the package, so nothing is downloaded at run time. It is
   unreliable on very short texts ("hola" comes out as Welsh), so it is asked only about
   texts of at least 3 words and 12 letters, and its first guess among all its 55
   languages must be one of ours in that script. That guess is then checked against the
   words of our own files ("own words": words of the text found in that language's file
   and in no other candidate's). It is dropped when it has no own word, or another
   candidate has more (langdetect can be sure and wrong between Portuguese and Spanish,
   and reads romanised Panjabi as Somali); it is kept with probability 0.8 (over 20
   trials), or 0.5 and at least two own words. A language code langdetect does not know
   is never its answer.

Otherwise ``None``: the bot carries on in the language it has.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from functools import lru_cache

from langdetect import DetectorFactory
from langdetect.detector_factory import PROFILES_DIRECTORY
from langdetect.lang_detect_exception import LangDetectException

from bot.catalogue import available_languages, catalogue, languages_by_script, normalise_words

MIN_LETTERS = 12
MIN_WORDS = 3
MIN_PROBABILITY = 0.80
# Below that, langdetect's first guess (with at least MIN_LEAD) is taken when at least
# MIN_OWN_WORDS words of the text are found in that language's file and no other's.
MIN_LEAD = 0.5
MIN_OWN_WORDS = 2
# Random trials langdetect averages over (its default is 7): more trials give steadier
# probabilities, so close relatives (Portuguese and Spanish) are told apart more often.
TRIALS = 20
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _factory() -> DetectorFactory:
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)  # langdetect is random otherwise; the same text gets the same answer
    return factory


def script_of(char: str) -> str:
    """The Unicode script of a letter, as its name starts: "LATIN", "ARABIC", ..."""
    return unicodedata.name(char, "").split(" ", 1)[0]


def main_script(text: str) -> str | None:
    """The script of more than half the letters of ``text``; ``None`` without one."""
    letters = _LETTER.findall(text)
    if not letters:
        return None
    script, count = Counter(script_of(c) for c in letters).most_common(1)[0]
    return script if count > len(letters) / 2 else None


def identify(text: str, languages: list[str] | None = None) -> str | None:
    """Our language code for ``text``, or ``None`` when it is too short or unclear."""
    languages = languages or available_languages()
    script = main_script(text)
    writers = languages_by_script().get(script or "", ())
    if len(writers) == 1:
        return writers[0] if writers[0] in languages else None
    candidates = [code for code in writers if code in languages]
    if not candidates:
        return None
    by_letters = _by_distinctive_letters(text, candidates)
    if by_letters is not None:
        return by_letters
    return _by_langdetect(text, candidates)


def _by_distinctive_letters(text: str, candidates: list[str]) -> str | None:
    counts = {code: sum(text.count(c) for c in catalogue(code).distinctive_letters)
              for code in candidates}
    ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)
    if ranked and ranked[0][1] > 0 and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
        return ranked[0][0]
    return None


def _by_langdetect(text: str, candidates: list[str]) -> str | None:
    if len(_LETTER.findall(text)) < MIN_LETTERS or len(text.split()) < MIN_WORDS:
        return None
    with _lock:  # a langdetect Detector is not shared, but the factory's setup is
        detector = _factory().create()
    detector.n_trial = TRIALS
    detector.append(text)
    try:
        ranked = detector.get_probabilities()
    except LangDetectException:
        return None
    best = ranked[0] if ranked else None
    if best is None or best.lang not in candidates or best.prob < MIN_LEAD:
        return None
    own, rival = _own_words(text, best.lang, candidates)
    if own == 0 or rival > own:
        return None  # langdetect's guess finds no support in the words, or less than another
    if best.prob >= MIN_PROBABILITY or own >= MIN_OWN_WORDS:
        return best.lang
    return None


def _own_words(text: str, guess: str, candidates: list[str]) -> tuple[int, int]:
    """How many of the text's words are found in ``guess``'s language file and no other
    candidate's, and the most any other candidate has the same way."""
    words = normalise_words(text).split()
    known = {code: catalogue(code).vocabulary for code in candidates}

    def only_in(code: str) -> int:
        others = [known[other] for other in candidates if other != code]
        return sum(word in known[code] and not any(word in o for o in others) for word in words)

    return only_in(guess), max((only_in(c) for c in candidates if c != guess), default=0)
