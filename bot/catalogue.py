"""Language catalogues: every word a patient reads, from ``languages/<code>.yml``.

A catalogue is loaded once per language and cached. Missing keys fall back to English
so a half-translated file never leaves a patient with nothing to read; the catalogue
tests make sure that fallback is never needed for the languages we ship. ``easy_read``
is a per-key override: a key it does not have is read from ``messages``.

Everything the code knows about a language comes from its file, ``meta`` included: its
script and distinctive letters (``bot.language_id``) and its voices (``bot.speech``).
So adding a language is one new file (and its NLU examples), no code.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

LANGUAGES_DIR = Path(__file__).resolve().parent.parent / "languages"
DEFAULT_LANGUAGE = "en"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class CatalogueError(LookupError):
    """A key or language the catalogues do not know."""


def normalise_words(text: str) -> str:
    """Lower-case, NFKC, punctuation turned into spaces, spaces collapsed.

    Used on both sides when matching typed answers to labels and command words, so
    "Very good!" matches "very good" and "Don't know" matches "dont know".
    """
    text = unicodedata.normalize("NFKC", text).casefold().replace("'", "").replace("’", "")
    spaced = "".join(" " if _is_punctuation(c) else c for c in text)
    return " ".join(spaced.split())


def contains_any(text: str, phrases: tuple[str, ...]) -> bool:
    """Any of ``phrases`` (already normalised) in ``text`` as whole words."""
    padded = f" {normalise_words(text)} "
    return any(f" {phrase} " in padded for phrase in phrases)


def _is_punctuation(char: str) -> bool:
    """ASCII and Unicode punctuation and symbols (؟ ، । ۔ ¿ ¡ included)."""
    return char in string.punctuation or unicodedata.category(char)[0] in "PS"


@dataclass(frozen=True)
class Catalogue:
    code: str
    name: str
    direction: str
    reviewed: bool
    messages: dict[str, str]
    choices: dict[str, str]
    choice_words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    commands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    number_words: dict[str, int] = field(default_factory=dict)
    danger_words: tuple[str, ...] = ()
    complaint_words: tuple[str, ...] = ()
    and_words: tuple[str, ...] = ()
    english_name: str = ""
    easy_read: dict[str, str] = field(default_factory=dict)
    # Unicode script name, upper case as in unicodedata.name(): "LATIN", "ARABIC", ...
    script: str = ""
    # Letters that tell this language apart from our others in the same script ("" = none).
    distinctive_letters: str = ""
    gtts_voice: str | None = None  # gTTS language code, None: no online voice
    espeak_voice: str | None = None  # espeak-ng voice name, None: no offline voice
    # Every word of the file but meta (normalised, no numbers): bot.language_id checks
    # langdetect's answer against it.
    vocabulary: frozenset[str] = frozenset()

    def message(self, key: str, *, easy_read: bool = False, **params: str) -> str:
        """The message ``key``; its shorter easy-read wording when asked and written."""
        try:
            template = (easy_read and self.easy_read.get(key)) or self.messages[key]
        except KeyError as missing:
            raise CatalogueError(f"no message {key!r} in {self.code}") from missing
        return fill_placeholders(template, params)

    def choice(self, value: str) -> str:
        try:
            return self.choices[value]
        except KeyError as missing:
            raise CatalogueError(f"no choice {value!r} in {self.code}") from missing


def fill_placeholders(template: str, params: dict[str, str]) -> str:
    """Fill ``{name}`` placeholders; unknown ones are left as they are, never an error."""
    return _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), template)


def placeholders(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template))


def _word_lists(raw: dict | None) -> dict[str, tuple[str, ...]]:
    """Normalised word lists; words that normalise to nothing (like "?") are dropped."""
    lists = {str(k): tuple(normalise_words(str(w)) for w in v) for k, v in (raw or {}).items()}
    return {k: tuple(w for w in words if w) for k, words in lists.items()}


def _phrases(raw: dict, key: str) -> tuple[str, ...]:
    return tuple(w for w in (normalise_words(str(w)) for w in raw.get(key) or ()) if w)


def parse_catalogue(raw: dict) -> Catalogue:
    meta = raw.get("meta") or {}
    return Catalogue(
        code=str(meta["code"]),
        name=str(meta["name"]),
        english_name=str(meta.get("english_name", meta["name"])),
        easy_read={str(k): str(v) for k, v in (raw.get("easy_read") or {}).items()},
        direction=str(meta.get("direction", "ltr")),
        reviewed=bool(meta.get("reviewed", False)),
        messages={str(k): str(v) for k, v in (raw.get("messages") or {}).items()},
        choices={str(k): str(v) for k, v in (raw.get("choices") or {}).items()},
        choice_words=_word_lists(raw.get("choice_words")),
        commands=_word_lists(raw.get("commands")),
        number_words={normalise_words(str(k)): int(v)
                      for k, v in (raw.get("number_words") or {}).items()},
        danger_words=_phrases(raw, "danger_words"),
        complaint_words=_phrases(raw, "complaint_words"),
        and_words=_phrases(raw, "and_words"),
        script=str(meta.get("script") or "").upper(),
        distinctive_letters=str(meta.get("distinctive_letters") or ""),
        gtts_voice=_optional(meta.get("gtts_voice")),
        espeak_voice=_optional(meta.get("espeak_voice")),
        vocabulary=_vocabulary(raw),
    )


def _vocabulary(raw: dict) -> frozenset[str]:
    texts = list(_strings({k: v for k, v in raw.items() if k != "meta"}))
    return frozenset(word for text in texts
                     for word in normalise_words(_PLACEHOLDER.sub(" ", text)).split()
                     if not word.isdigit())


def _strings(value: object) -> Iterator[str]:
    """Every string in a parsed YAML value (keys of number_words included)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, int) and not isinstance(item, bool):
                yield str(key)  # number_words: the word is the key
            else:
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _optional(value: object) -> str | None:
    """A meta value that may be missing or null (no such voice)."""
    text = "" if value is None else str(value).strip()
    return text or None


def use_languages_dir(folder: Path) -> Path:
    """Read language files from ``folder`` from now on; returns the folder used before.

    Clears every cached catalogue (tests add a language in a temporary folder this way).
    """
    global LANGUAGES_DIR
    previous, LANGUAGES_DIR = LANGUAGES_DIR, Path(folder)
    clear_caches()
    return previous


def clear_caches() -> None:
    """Forget every loaded catalogue, so changed files are read again."""
    for cached in (available_languages, all_danger_words, languages_by_script, catalogue):
        cached.cache_clear()


@cache
def available_languages() -> list[str]:
    """Language codes in the order patients see them (``meta.order``, then code)."""
    codes = [path.stem for path in LANGUAGES_DIR.glob("*.yml")]
    order = {code: int(load_raw(code).get("meta", {}).get("order", 100)) for code in codes}
    return sorted(codes, key=lambda code: (order[code], code))


@cache
def all_danger_words() -> tuple[str, ...]:
    """Danger phrases of every language: a patient may write in any of them at any time."""
    return tuple(dict.fromkeys(w for code in available_languages()
                               for w in catalogue(code).danger_words))


@cache
def languages_by_script() -> dict[str, tuple[str, ...]]:
    """Script (as in :attr:`Catalogue.script`) -> our languages written in it, menu order."""
    found: dict[str, list[str]] = {}
    for code in available_languages():
        found.setdefault(catalogue(code).script, []).append(code)
    return {script: tuple(codes) for script, codes in found.items()}


def load_raw(code: str) -> dict:
    path = LANGUAGES_DIR / f"{code}.yml"
    if not re.fullmatch(r"[a-z]{2,3}", code) or not path.exists():
        raise CatalogueError(f"no language {code!r}")
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


@cache
def catalogue(code: str = DEFAULT_LANGUAGE) -> Catalogue:
    """The catalogue for ``code``; unknown codes get English."""
    try:
        raw = load_raw(code)
    except CatalogueError:
        raw = load_raw(DEFAULT_LANGUAGE)
    if code != DEFAULT_LANGUAGE and raw.get("meta", {}).get("code") == code:
        raw = _with_english_fallback(raw)
    return parse_catalogue(raw)


def _with_english_fallback(raw: dict) -> dict:
    english = load_raw(DEFAULT_LANGUAGE)
    merged = dict(raw)
    for section in ("messages", "choices"):
        merged[section] = {**english.get(section, {}), **(raw.get(section) or {})}
    return merged
