"""Remove personal identifiers from patient free text before anything stores it.

``anonymise(text)`` is the one door patient free text passes through: the store only
accepts :class:`Anonymised` objects. Identifiers are replaced by ASCII tags in square
brackets: ``[NHS_NUMBER]``, ``[PHONE]``, ``[EMAIL]``, ``[POSTCODE]``, ``[DATE]``,
``[ADDRESS]``, ``[URL]``, ``[HANDLE]``, ``[NAME]``, ``[WARD]`` and ``[SITE]`` (a title such
as "Dr" is kept: "Dr [NAME]"). :func:`find_identifiers` gives the same decisions as
character spans of the text it was given (used by ``scripts/privacy_report.py``).

How it works, in order:

1. Normalise: Unicode NFKC (full-width digits, non-breaking spaces, ligatures ...),
   remove zero-width and other invisible characters (but keep the zero-width
   joiner and non-joiner between two non-ASCII characters, where emoji sequences
   and Persian or Indic spelling need them), remove control characters other than
   newline and tab, and remove bidi marks that sit between two digits.
2. E-mail addresses, including simple spelt-out ones ("jo dot bloggs at nhs dot net"),
   web addresses (``https://``, ``www.`` or a domain with a path) and social media
   handles (``@name``).
3. The trust's own lists of staff, ward and site names (``staff_names``, ``ward_names``,
   ``site_names`` in the trust settings file, or passed to :func:`anonymise`).
4. NHS numbers: ten digits, grouped any way, that pass the NHS modulus 11 check.
5. Dates that carry a year, and any date written after "born", "DOB", "date of birth".
6. Phone numbers: ``phonenumbers.PhoneNumberMatcher`` (region GB, leniency POSSIBLE)
   and then a regex for the forms it misses (Ofcom drama numbers such as
   07700 900123, long digit runs). Signposting numbers (111, 999, 116 123,
   0800 1111 ...) and short numbers (ages, hours, ward numbers) are never touched.
7. UK postcodes, in any case, with or without the space.
8. Addresses: a house number and a street ("12 acacia avenue", "Flat 3, 4 High St"),
   a flat number, or a street after "I live on".
9. Names after a title (Dr, Nurse, Sister, Matron, Mrs ..., and Polish, Welsh and Urdu
   titles) and after "my name is", "call me" ...
10. Other names from a name list: given names and surnames from the ``faker`` package
    (locales en_GB, en_IE, en_US, en_IN, en_PK, en_NG, pl_PL, ro_RO, pt_PT, plus common
    short forms), in any case, unless the word is also an ordinary word ("will", "hope",
    "grace", "may", "bill", "brown" ...). Those, and names not in the list, count only
    in name-like places: "my daughter Grace", "thanks to will", "Bill on reception",
    "Grace the nurse", or written with a capital inside a sentence.

Why plain ``re`` rather than a library for everything but phone numbers: there is no
well-kept library for UK NHS numbers and postcodes that fits here. The general PII
tools (Presidio, scrubadub and the like) need spaCy language models for names, which
cannot be downloaded at run time here and are much slower; their UK recognisers are
thin. ``scripts/privacy_report.py`` measures this module against plain Presidio.

Known gaps (deliberate or measured, see the tests and the privacy report):

* a name not in the name list, written in lower case, with no title, relation or thanks
  around it ("saw zeynep today"); a name that is also a common word at the start of a
  sentence or after a colon ("Mark Page the physio ...", "Contact: Amber Walters");
  inflected Polish names and titles ("doktorowi Nowakowi"); Welsh "a Dr x" ("and Dr x")
  in lower case is read as "a doctor";
* local phone numbers without an area code (7 or 8 digits) and numbers spelt in
  words ("oh seven seven ...");
* hospital numbers that mix letters and digits ("RXH123456"); house names and towns;
* years alone and month-and-year dates ("born in 1954", "in March 2023") unless
  they follow "born in"/"DOB" with a month;
* spelt-out e-mail addresses whose domain does not end in a common top-level domain.

The function fails closed: any unexpected error becomes :class:`AnonymisationError`,
whose message never contains the input text. The name list is read from the ``faker``
package on first use (a run-time dependency); if it cannot be read, anonymising fails.
"""

from __future__ import annotations

import functools
import importlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import phonenumbers

__all__ = [
    "AnonymisationError",
    "Anonymised",
    "Identifier",
    "KINDS",
    "SIGNPOSTING_NUMBERS",
    "anonymise",
    "find_identifiers",
    "known_name",
]


class AnonymisationError(RuntimeError):
    """Anonymisation failed; the message never contains the input text."""


@dataclass(frozen=True)
class Anonymised:
    text: str  # the text with identifiers replaced by tags
    tags: tuple[str, ...]  # which tag kinds were replaced, e.g. ("NAME", "PHONE")


@dataclass(frozen=True)
class Identifier:
    """One identifier found by :func:`find_identifiers`: ``text[start:end]`` is removed."""

    start: int
    end: int
    kind: str


# --------------------------------------------------------------------------- tags

NHS_NUMBER = "NHS_NUMBER"
PHONE = "PHONE"
EMAIL = "EMAIL"
POSTCODE = "POSTCODE"
DATE = "DATE"
NAME = "NAME"
ADDRESS = "ADDRESS"
URL = "URL"
HANDLE = "HANDLE"
WARD = "WARD"
SITE = "SITE"
KINDS = (NHS_NUMBER, PHONE, EMAIL, POSTCODE, DATE, NAME, ADDRESS, URL, HANDLE, WARD, SITE)


def _tag(kind: str) -> str:
    return f"[{kind}]"


# ------------------------------------------------------------------ normalisation

# Invisible characters that only serve to split an identifier: zero-width space,
# word joiner, BOM, soft hyphen, Mongolian vowel separator, invisible maths operators.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064"))
# The zero-width non-joiner and joiner are part of Persian and Indic spelling and of
# emoji sequences (a family, a health worker), so they stay between two non-ASCII
# characters; next to ASCII or a digit they could only split an identifier.
_JOINERS_NEAR_ASCII = re.compile(
    r"(?:(?<=[\x00-\x7f\d])|^)[\u200c\u200d]+|[\u200c\u200d]+(?=[\x00-\x7f\d]|$)"
)
# Control characters (category Cc) other than newline and tab.
_CONTROL = dict.fromkeys(
    cp for cp in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if cp not in (0x09, 0x0A)
)
# Bidi marks are needed by right-to-left text, so they stay, except between two
# digits where they would only hide a number from the rules below.
_BIDI_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]+(?=\d)")


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.translate(_INVISIBLE).translate(_CONTROL)
    text = _JOINERS_NEAR_ASCII.sub("", text)
    return _BIDI_BETWEEN_DIGITS.sub("", text)


def _normalise_mapped(text: str) -> tuple[str, list[int], list[int]]:
    """``_normalise(text)`` plus, for each of its characters, the span of ``text`` it
    came from (used only to report spans; anonymise() does not need it)."""
    norm = _normalise(text)
    if norm == text:
        return norm, list(range(len(text))), list(range(1, len(text) + 1))
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:  # NFKC one base character and its combining marks at a time
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        for ch in unicodedata.normalize("NFKC", text[i:j]):
            chars.append(ch)
            starts.append(i)
            ends.append(j)
        i = j

    def drop(keep: list[bool]) -> None:
        chars[:] = [c for c, k in zip(chars, keep, strict=True) if k]
        starts[:] = [s for s, k in zip(starts, keep, strict=True) if k]
        ends[:] = [e for e, k in zip(ends, keep, strict=True) if k]

    drop([not (c == "\r" and i + 1 < len(chars) and chars[i + 1] == "\n")
          for i, c in enumerate(chars)])
    chars[:] = ["\n" if c == "\r" else c for c in chars]
    drop([ord(c) not in _INVISIBLE and ord(c) not in _CONTROL for c in chars])
    for pattern in (_JOINERS_NEAR_ASCII, _BIDI_BETWEEN_DIGITS):
        current = "".join(chars)
        gone = {k for m in pattern.finditer(current) for k in range(m.start(), m.end())}
        if gone:
            drop([k not in gone for k in range(len(chars))])
    if "".join(chars) != norm:  # a composition across chunks: map proportionally
        scale = len(text) / max(len(norm), 1)
        starts = [min(int(k * scale), len(text) - 1) for k in range(len(norm))]
        ends = [min(int((k + 1) * scale) + 1, len(text)) for k in range(len(norm))]
    return norm, starts, ends


# ------------------------------------------------------------ what has been found

# What was found is masked out of the text with NUL characters (removed from the input
# by normalisation, so they cannot occur otherwise): later rules cannot match inside it,
# and every offset stays the same.
_MASK = "\x00"
_EXISTING_TAG = re.compile(r"\[(?:" + "|".join(KINDS) + r")\]")


class _Found:
    """The normalised text with what was found so far masked, and the spans found."""

    __slots__ = ("text", "spans", "trust")

    def __init__(self, text: str, trust: _TrustMatcher) -> None:
        self.text = text
        self.spans: list[tuple[int, int, str | None]] = []
        self.trust = trust

    def add(self, spans: Iterable[tuple[int, int, str | None]]) -> None:
        """Record spans (kind None: leave as it is, but let no rule look inside)."""
        pieces: list[str] = []
        last = 0
        for start, end, kind in sorted(spans):
            start = max(start, last)
            if end <= start:
                continue
            pieces.append(self.text[last:start])
            pieces.append(_MASK * (end - start))
            self.spans.append((start, end, kind))
            last = end
        if pieces:
            pieces.append(self.text[last:])
            self.text = "".join(pieces)


# ------------------------------------------------------------------------- e-mail

# "jo@example.com" or "jo @ example.com", not "DM me @Sarah.J" (a handle).
_EMAIL = re.compile(
    r"(?<![\w.+'-])[\w.+'-]+(?:@|[ \t]@[ \t])[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])",
    re.IGNORECASE,
)

# Spelt-out addresses: "jo dot bloggs at nhs dot net", "jo.bloggs (at) gmail [dot] com".
# The domain must end in a known top-level domain so "at home dot" never matches.
_WORD = r"[\w'-]+"
_DOT = r"(?:[ \t]*(?:\(dot\)|\[dot\]|\{dot\}|<dot>)[ \t]*|[ \t]+dot[ \t]+|\.)"
_AT = r"(?:[ \t]*(?:\(at\)|\[at\]|\{at\}|<at>|@)[ \t]*|[ \t]+at[ \t]+)"
_TLD = (
    r"(?:com|net|org|uk|co|ac|gov|nhs|edu|info|biz|me|io|ie|eu|de|fr|es|it|nl|pl|in|pk|"
    r"au|ca|us|nz|za|ng|scot|wales|cymru|london|email|mail|online)"
)
_EMAIL_SPELT = re.compile(
    rf"(?<![\w.@-]){_WORD}(?:(?:{_DOT}|[_+]){_WORD}){{0,4}}{_AT}{_WORD}(?:{_DOT}{_WORD}){{0,3}}"
    rf"{_DOT}{_TLD}"
    r"(?![\w@])",
    re.IGNORECASE,
)
_SPELT_AT_WORD = re.compile(r"[ \t]+at[ \t]+", re.IGNORECASE)


def _emails(text: str, found: _Found) -> None:
    found.add((m.start(), m.end(), EMAIL) for m in _EMAIL.finditer(text))
    spans = []
    for m in _EMAIL_SPELT.finditer(found.text):
        # "I was at home dot com": a plain English word before "at" is no mailbox.
        local = _SPELT_AT_WORD.split(m.group(), maxsplit=1)[0]
        if local.lower() not in STOPWORDS:
            spans.append((m.start(), m.end(), EMAIL))
    found.add(spans)


# ------------------------------------------------------------ web addresses, handles

_URL = re.compile(
    r"(?<![\w@/.-])(?:(?:https?|ftp)://|www\.)[^\s<>\"'`\x00]+"
    r"|(?<![\w@/.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"(?:com|org|net|uk|io|me|ly|be|gl|co|info|app|tv|gov|nhs)/[^\s<>\"'`\x00]*",
    re.IGNORECASE,
)
# A handle has a letter in it ("@3pm" is a time) and is not the end of an e-mail address.
_HANDLE = re.compile(
    r"(?<![\w@.])@(?!\d{1,2}(?:[:.]\d\d)?[ap]m\b)(?=[\w.]{0,29}[^\W\d_])\w(?:[\w.]{0,28}\w)?(?![\w@])",
    re.IGNORECASE,
)


def _urls_and_handles(text: str, found: _Found) -> None:
    spans = []
    for m in _URL.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in ".,;:!?)]}":
            end -= 1
        spans.append((m.start(), end, URL))
    found.add(spans)
    found.add((m.start(), m.end(), HANDLE) for m in _HANDLE.finditer(found.text))


# ------------------------------------------------------------ the trust's own lists


@dataclass(frozen=True)
class _TrustMatcher:
    regex: re.Pattern[str] | None
    kinds: dict[str, str]  # normalised entry -> tag kind
    names: frozenset[str]  # lower-case words of staff names, for the name rules


def _entry_key(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


@functools.lru_cache(maxsize=16)
def _trust_matcher(
    staff: tuple[str, ...], wards: tuple[str, ...], sites: tuple[str, ...]
) -> _TrustMatcher:
    kinds: dict[str, str] = {}
    for kind, entries in ((NAME, staff), (WARD, wards), (SITE, sites)):
        for entry in entries:
            key = _entry_key(_normalise(str(entry)))
            if key:
                kinds.setdefault(key, kind)
    words = frozenset(
        w.lower() for entry in staff for w in _NAME_TOKEN.findall(_normalise(str(entry)))
    )
    if not kinds:
        return _TrustMatcher(None, {}, words)
    alternatives = (
        r"[ \t]+".join(re.escape(w).replace("'", "['’]") for w in key.split(" "))
        for key in sorted(kinds, key=len, reverse=True)
    )
    regex = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)
    return _TrustMatcher(regex, kinds, words)


_NO_TRUST_LISTS = _TrustMatcher(None, {}, frozenset())


def _trust_lists(text: str, found: _Found) -> None:
    regex = found.trust.regex
    if regex is None:
        return
    found.add(
        (m.start(), m.end(), found.trust.kinds.get(_entry_key(m.group()), NAME))
        for m in regex.finditer(text)
    )


# -------------------------------------------------------------------- NHS numbers

_NHS_CANDIDATE = re.compile(
    r"(?<![\d+)])(?<!\d[ \t.\-])\d(?:[ \t]{0,2}[.\-]?[ \t]{0,2}\d){9}(?!\d)(?![ \t.\-]\d)"
)


def nhs_checksum_ok(digits: str) -> bool:
    """True if ten digits pass the NHS number modulus 11 check."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    values = [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == values[9]


def _nhs_grouping_ok(raw: str) -> bool:
    """3-3-4, 3 3 4, 3.3.4, 10 run together, or any split into at most four groups of two
    or more digits with one kind of separator; not "12 14 16 18 20"."""
    groups = re.findall(r"\d+", raw)
    separators = set(re.findall(r"[^\d]+", raw))
    return (
        len(groups) <= 4
        and all(len(g) >= 2 for g in groups)
        and len({sep.strip() or " " for sep in separators}) <= 1
    )


def _nhs_numbers(text: str, found: _Found) -> None:
    # A number that fails the checksum is left for the phone rules.
    found.add(
        (m.start(), m.end(), NHS_NUMBER)
        for m in _NHS_CANDIDATE.finditer(text)
        if _nhs_grouping_ok(m.group()) and nhs_checksum_ok(_digits(m.group()))
    )


# -------------------------------------------------------------------------- dates

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:1[89]\d\d|20\d\d|['’]\d\d)"
_NUM_DATE = r"(?<![\d/.\-])\d{1,2}([/.\-])\d{1,2}\1(?:\d{4}|\d{2})(?![\d/\-]|\.\d)"
_ISO_DATE = r"(?<![\d/.\-])(?:1[89]|20)\d\d([/.\-])\d{1,2}\2\d{1,2}(?![\d/\-]|\.\d)"

_DATE_WITH_YEAR = re.compile(
    rf"\b{_DAY}(?:[ \t]+of)?[ \t]+{_MONTH}[ \t]*,?[ \t]*{_YEAR}(?!\w)"
    rf"|\b{_MONTH}[ \t]+(?:the[ \t]+)?{_DAY}[ \t]*,?[ \t]*{_YEAR}(?!\w)"
    rf"|{_NUM_DATE}"
    rf"|{_ISO_DATE}",
    re.IGNORECASE,
)

# After "born", "DOB", "date of birth" even a date without a year, a month and year,
# or digits separated by spaces ("12 03 1954", "120354") is treated as a date.
_DOB_TRIGGER = (
    r"\b(?:born(?:[ \t]+(?:on|in))?|d\.?o\.?b\.?|date[ \t]+of[ \t]+birth(?:[ \t]+is)?|"
    r"birthday(?:[ \t]+is)?)[ \t]*[:\-]?[ \t]*(?:the[ \t]+)?"
)
_DOB_DATE = re.compile(
    rf"(?P<trigger>{_DOB_TRIGGER})"
    rf"(?P<date>{_DAY}(?:[ \t]+of)?[ \t]+{_MONTH}(?:[ \t]*,?[ \t]*{_YEAR})?(?!\w)"
    rf"|{_MONTH}[ \t]+(?:the[ \t]+)?{_DAY}(?:[ \t]*,?[ \t]*{_YEAR})?(?!\w)"
    rf"|{_MONTH}[ \t]*,?[ \t]*{_YEAR}(?!\w)"
    rf"|\d{{1,2}}[ /.\-]\d{{1,2}}(?:[ /.\-](?:\d{{4}}|\d{{2}}))?(?![\d/\-]|\.\d)"
    rf"|\d{{6}}(?:\d\d)?(?!\d))",
    re.IGNORECASE,
)


def _valid_numeric_date(s: str) -> bool:
    parts = [int(p) for p in re.split(r"[/.\-]", s)]
    if len(parts) != 3:
        return False
    if parts[0] > 31:  # year first (ISO)
        parts = [parts[2], parts[1]]
    a, b = parts[0], parts[1]
    return 1 <= a <= 31 and 1 <= b <= 31 and (a <= 12 or b <= 12)


def _dates(text: str, found: _Found) -> None:
    spans = []
    for m in _DATE_WITH_YEAR.finditer(text):
        s = m.group()
        if s[0].isdigit() and s[-1].isdigit() and re.fullmatch(r"[\d/.\-]+", s):
            if not _valid_numeric_date(s):
                continue
        spans.append((m.start(), m.end(), DATE))
    found.add(spans)
    found.add((m.start("date"), m.end("date"), DATE) for m in _DOB_DATE.finditer(found.text))


# ------------------------------------------------------------------ phone numbers

# Numbers that people are told to ring; they must survive anonymisation.
SIGNPOSTING_NUMBERS = frozenset(
    {
        "999",  # emergency
        "112",  # emergency
        "111",  # NHS 111
        "119",  # NHS vaccinations / COVID
        "101",  # police non-emergency
        "105",  # power cut
        "116123",  # Samaritans
        "116117",  # non-emergency medical (EU)
        "116111",  # Childline (EU short code)
        "116006",  # Victim Support
        "08001111",  # Childline
        "08000684141",  # Papyrus HOPELINEUK
        "85258",  # Shout (text)
    }
)
_MIN_PHONE_DIGITS = 9

# Digits joined by single separators: "07700-900-123", "0 7 7 0 0 9 0 0 1 2 3", "(0161)4960000".
_PHONE_SEPARATOR = r"(?:[ \t]?[.\-/]?[ \t]?|[ \t]?\([ \t]?|[ \t]?\)[ \t]?)"
_PHONE_FALLBACK = re.compile(rf"(?<![\w+])(?:\+[ \t]?|\([ \t]?)?\d(?:{_PHONE_SEPARATOR}\d)*")


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def _national(digits: str) -> str:
    """'+44 800 1111' and '0044 800 1111' as dialled in the UK: '08001111'."""
    for prefix in ("0044", "44"):
        if digits.startswith(prefix) and len(digits) > len(prefix) + 6:
            rest = digits[len(prefix) :]
            return rest if rest.startswith("0") else "0" + rest
    return digits


def _is_signposting(digits: str) -> bool:
    return digits in SIGNPOSTING_NUMBERS or _national(digits) in SIGNPOSTING_NUMBERS


def _looks_like_phone(raw: str) -> bool:
    digits = _digits(raw)
    if len(digits) < _MIN_PHONE_DIGITS or _is_signposting(digits):
        return False
    start = raw.lstrip("([ \t")
    if raw.startswith("+") or start.startswith("0"):
        return True
    # No leading 0 or +: a reference, an NHS number that failed its checksum, a card
    # number ... but not a list of small numbers such as "rooms 12 14 16 18 20".
    groups = re.findall(r"\d+", raw)
    return len(groups) <= 4 or any(len(g) >= 4 for g in groups)


def _phone_spans(raw: str) -> list[tuple[int, int]]:
    """The parts of a matched span to remove, keeping a signposting number at its start."""
    groups = list(re.finditer(r"\d+", raw))
    for k in range(1, len(groups)):
        if _is_signposting("".join(g.group() for g in groups[:k])):
            cut = groups[k].start()
            rest = raw[cut:]
            # "0800 1111 24 hours" keeps everything; "999 07700 900123" loses the
            # second number; "999 000 0000" is one number and is removed whole.
            if len(_digits(rest)) <= 4 or _looks_like_phone(rest):
                return [(cut + s, cut + e) for s, e in _phone_spans(rest)]
            break
    return [(0, len(raw))] if _looks_like_phone(raw) else []


def _phones(text: str, found: _Found) -> None:
    if sum(ch.isdigit() for ch in text) < _MIN_PHONE_DIGITS:
        return
    spans = []
    for m in phonenumbers.PhoneNumberMatcher(text, "GB", leniency=phonenumbers.Leniency.POSSIBLE):
        spans += [(m.start + s, m.start + e, PHONE) for s, e in _phone_spans(m.raw_string)]
    found.add(spans)
    found.add(
        (m.start() + s, m.start() + e, PHONE)
        for m in _PHONE_FALLBACK.finditer(found.text)
        for s, e in _phone_spans(m.group())
    )


# ---------------------------------------------------------------------- postcodes

_POSTCODE = re.compile(
    r"(?<![\w\[-])"
    r"(?:GIR[ \t]{0,2}0AA"
    r"|(?:[A-PR-UWYZ]\d{1,2}|[A-PR-UWYZ][A-HK-Y]\d{1,2}|[A-PR-UWYZ]\d[A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y]\d[ABEHMNPRVWXY])[ \t]{0,2}\d[ABD-HJLNP-UW-Z]{2})"
    r"(?![\w\]])",
    re.IGNORECASE,
)


def _postcodes(text: str, found: _Found) -> None:
    found.add((m.start(), m.end(), POSTCODE) for m in _POSTCODE.finditer(text))


# ---------------------------------------------------------------------- addresses

_STREET = (
    r"(?:road|rd|street|st|lane|ln|avenue|ave|av|close|cl|drive|dr|way|court|ct|crescent|"
    r"cres|place|pl|gardens|gdns|terrace|terr|tce|grove|gr|row|walk|square|sq|mews|rise|"
    r"view|green|parade|vale|hill|park|boulevard|wharf|yard|heights|meadows?|fields|chase|"
    r"croft|gate|hollow|path|wynd|estate|heol|ffordd|stryd|lôn|lon|cilgant|ulica|ul)"
)
_FLAT = r"(?:flat|apartment|apt|unit|maisonette|fflat|mieszkanie)\.?[ \t]*(?:no\.?[ \t]*)?"
_HOUSE_NUMBER = r"\d{1,4}[a-z]?(?:[ \t]?[-/][ \t]?\d{1,4}[a-z]?)?"
_STREET_WORD = r"[^\W\d_][\w'’\-]*"
_ADDRESS = re.compile(
    rf"(?<![\w£$€.,:/])(?:{_FLAT}{_HOUSE_NUMBER}[ \t]*,?[ \t]*(?=\d))?"
    rf"(?P<number>{_HOUSE_NUMBER}),?[ \t]+"
    rf"(?P<words>(?:{_STREET_WORD}[ \t]+){{1,3}}){_STREET}\b\.?"
    rf"|(?<![\w£$€])(?P<flat>{_FLAT}{_HOUSE_NUMBER})(?!\w)",
    re.IGNORECASE,
)
# A street named after "I live on" or "my address is", without a house number.
_ADDRESS_AFTER_WORDS = re.compile(
    rf"\b(?:live[sd]?|living|address[ \t]+is|moved[ \t]+to|house[ \t]+on|home[ \t]+on)"
    rf"[ \t]+(?:on|in|at|off)?[ \t]*(?:the[ \t]+)?"
    rf"(?P<street>(?:{_STREET_WORD}[ \t]+){{1,3}}{_STREET}\b\.?)",
    re.IGNORECASE,
)
# Words that cannot be part of a street name: "waited 3 hours in the car park".
_NOT_STREET_WORDS = frozenset(
    """
    hours hour minutes minute mins days day weeks week months month years year times time
    people patients nurses doctors staff beds bed miles mile yards metres meters floors
    floor steps times pounds calls visits tablets pills weeks' days' hrs wks car cars
    """.split()
)
# Words before a number that make it no house number: "level 2 car park", "bed 12".
_NOT_HOUSE_AFTER = frozenset(
    """
    level floor bay bed room ward gate platform junction exit door page step unit theatre
    """.split()
)


def _street_words_ok(words: str) -> bool:
    tokens = words.split()
    for k, word in enumerate(tokens):
        lower = word.lower()
        if lower in _NOT_STREET_WORDS:
            return False
        if lower in STOPWORDS and not (k == 0 and word == "The"):
            return False
    return True


def _house_number_ok(text: str, m: re.Match[str]) -> bool:
    number = m.group("number")
    if re.fullmatch(r"(?:19|20)\d\d", number):  # a year: "in 2019 the road ..."
        return False
    before = _PREVIOUS_WORD.search(text[max(0, m.start() - 20) : m.start()])
    return before is None or before.group(1).lower() not in _NOT_HOUSE_AFTER


def _addresses(text: str, found: _Found) -> None:
    spans = []
    for m in _ADDRESS.finditer(text):
        if m.group("flat") is not None or (
            _street_words_ok(m.group("words")) and _house_number_ok(text, m)
        ):
            spans.append((m.start(), m.end(), ADDRESS))
    found.add(spans)
    spans = []
    for m in _ADDRESS_AFTER_WORDS.finditer(found.text):
        street = m.group("street")
        words = street.split()[:-1]
        if _street_words_ok(" ".join(words)) and any(not w[0].islower() for w in words):
            spans.append((m.start("street"), m.end("street"), ADDRESS))
    found.add(spans)


# -------------------------------------------------------------------------- names

# Common English words that never count as a name after a title ("the nurse was kind",
# "Dr Patel said", "my name is not important", "call me back").
STOPWORDS = frozenset(
    """
    a about above across after afternoon again against ago agreed all almost alone along
    already also although always am amazing among an and angry another answered any
    anyone anything anyway appointment are arrived around as asked at ate attentive
    available away awful back bad be became because been before behind being believe
    below beside besides best better between beyond both brilliant brought busy but by
    called calm came can cannot care cared careful caring certainly changed checked
    clear clearly clinic come comes coming community consultant could couldn crazy
    cried day dealt department despite did didn different discharged district do does
    doesn doing done down during duty each early either else emergency end enough even
    evening ever every everyone everything examined excellent explained extremely fab
    fantastic far felt few finally fine first fixed for found friendly from front gave
    get gets getting give given gives giving go goes going gone good got great had
    handled happy hard has hasn have haven having he head hello helped helpful her here
    hers herself hi him himself his home honest honestly hospital how however i if ill
    immediately in incredible informed inside instead into is isn it its itself just
    kept kind kindly knew know knows last late later lead let lied like listened little
    lot lovely made make makes making many may me might mine more morning most mostly
    much must my myself nasty near nearly need needed needs never new next nice night no
    nobody none nor not nothing now nurse nurses of off often oh ok okay on once one
    only onto or other others our ours ourselves out outside over own patient patiently
    people perhaps phoned please pleasant polite practice prescribed professional put
    quick quickly quite rang rather really reassured referred rude rushed said same saw
    say says see seemed seems seen sent she should shouted show showed since sister
    so some someone something sometimes soon sorry specialist spoke staff still student
    such super superb supportive sure surgeon surgery take taken takes talked team tell
    terrible than thank thanks that the their theirs them themselves then there these
    they thing things think this those though thought through throughout thus to today
    together told tomorrow too took treated tried truly trying twice unhelpful under
    understanding unless unit until up upon us used usually very visited waited walked
    want wanted ward wards was wasn way we well went were weren what when where whether
    which while who whom whose why will with within without wonderful won work worked
    would wouldn wrong yes yesterday yet you your yours yourself
    maybe asap anytime again straight directly urgently whenever instead anyway
    doctor doctors dr gp matron mr mrs ms mx miss prof professor receptionist midwife
    paramedic physio pharmacist porter registrar reception scan society
    """.split()
)

# Stopwords that are also common given names: taken as a name when capitalised
# ("Nurse May", "Dr Will Jones"), kept as an ordinary word otherwise.
_NAME_LIKE = frozenset(
    "will may grace hope faith joy rose mark bill sky dawn summer honey ray pat sue".split()
)

# Words before a title that make it a common noun ("the nurse", "a lovely doctor"):
# then only a capitalised word after it counts as a name.
_DETERMINERS = frozenset(
    """
    the a an my our your his her their this that these those every each another other
    one any some no which whose what junior senior night day ward agency head charge
    staff student district practice specialist community duty lovely nice kind great
    good rude brilliant wonderful amazing helpful friendly young old male female
    """.split()
)

# Function words of the other languages patients write in, never a name after a title.
_FOREIGN_STOPWORDS = frozenset(
    """
    i w z na do nie się że to ale jak jest był była było byli były bardzo mi mnie mój moja
    moje mojej mojego nam nas nasz nasza o od po za dla przy pod już tak też tylko jeszcze
    która który które co czy gdy kiedy ona on oni one pan pani panu panią doktor lekarz
    lekarka pielęgniarka pielęgniarki siostra siostry położna była miła miły bardzo dobrze
    dobra dobry super dziękuję dziękujemy jej jego ich tam tu ten ta te tej tego
    yn y yr a ac ar am i o mae roedd oedd wedi bod iawn da diolch ond gyda mewn fy ei eu
    ni chi nhw hi fe fo ef hefyd yno yma nyrs meddyg doctor chwaer ddim dim yw oes cael
    اور ہے ہیں تھا تھی تھے نے کو سے کا کی کے میں یہ وہ بہت اچھا اچھی اچھے صاحب صاحبہ جی
    بھی نہیں شکریہ ڈاکٹر نرس میرا میری میرے ہم آپ کر کیا گیا گئی بہن بھائی
    """.split()
)

# Titles. Polish "pan/pani" and "siostra" are also "you", "Mr" and "sister": after them
# only a capitalised word or a word in the name list counts.
_TITLES_ABBREVIATED = ("dr", "drs", "mrs", "mr", "ms", "mx", "prof", "sr")
_TITLES_WORDS = (
    "doctor", "nurse", "sister", "matron", "professor", "miss", "midwife",
    "doktor", "doktorka", "pielęgniarka", "pielęgniarz", "położna", "siostra", "pani", "pan",
    "nyrs", "meddyg", "bydwraig",
    "ڈاکٹر", "نرس", "سسٹر", "مسٹر", "مسز", "مس",
)  # fmt: skip
_STRICT_TITLES = frozenset(("miss", "siostra", "pani", "pan", "midwife", "sr"))
_TITLE = re.compile(
    r"(?<![\w'’-])(?P<title>" + "|".join(_TITLES_ABBREVIATED + _TITLES_WORDS) + r")"
    r"(?P<sep>\.[ \t]*|[ \t]+)",
    re.IGNORECASE,
)
_INTRO = re.compile(
    r"(?<![\w'’-])(?:my[ \t]+name[ \t]+is|my[ \t]+name['’]s|i['’]?m[ \t]+called|"
    r"i[ \t]+am[ \t]+called|call[ \t]+me|name[ \t]*:|"
    r"(?:his|her|their|whose)[ \t]+name[ \t]+(?:is|was)|(?:he|she)[ \t]+(?:is|was)[ \t]+called|"
    r"mam[ \t]+na[ \t]+imię|nazywam[ \t]+się|ma[ \t]+na[ \t]+imię|"
    r"fy[ \t]+enw[ \t]+(?:i[ \t]+)?yw|enw[ \t]+fi[ \t]+yw|"
    r"میرا[ \t]+نام|اس[ \t]+کا[ \t]+نام|ان[ \t]+کا[ \t]+نام)[ \t]+",
    re.IGNORECASE,
)


def _mark_class() -> str:
    """A regex class of the combining marks (Mn, Mc, Me) of the Basic Multilingual Plane:
    vowel signs of Indic scripts, Arabic vowel marks. ``\\w`` leaves them out."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x300, 0x10000):
        if unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(f"\\u{a:04x}-\\u{b:04x}" if a != b else f"\\u{a:04x}" for a, b in ranges)


_MARKS = _mark_class()
_LETTERS = rf"[^\W\d_]+(?:[{_MARKS}]+[^\W\d_]*)*"
_NAME_TOKEN = re.compile(rf"{_LETTERS}(?:['’\-]{_LETTERS})*")
_INITIAL = re.compile(r"([^\W\d_])(?:\.[ \t]*|[ \t]+)(?=[^\W\d_])")
_SPACE = re.compile(r"[ \t]+")
_PARTICLES = re.compile(
    r"(?:(?:van|von|der|den|de|del|della|di|da|du|la|le|bin|ibn|al|el|ap)[ \t]+){1,2}"
    r"(?=[^\W\d_])",
    re.IGNORECASE,
)
_PREVIOUS_WORD = re.compile(r"([^\W\d_]+)[ \t]*$")


def _capitalised(word: str) -> bool:
    return not word[0].islower()


# Names that the verb test below would otherwise throw out when written in lowercase.
_NAMES_LIKE_VERBS = frozenset(
    """
    ahmed mohammed mohamed muhammed mohammad khaled hamed majed javed zahed rashed
    alfred wilfred winifred mildred manfred irving sterling stirling fleming browning
    manning harding golding channing beverly shelly kimberly
    """.split()
)


def _looks_like_verb(word: str) -> bool:
    """Lowercase words that read as verbs or adverbs ("helped", "checking", "gently")."""
    if word in _NAMES_LIKE_VERBS or word.endswith("eed"):
        return False
    return (len(word) > 4 and word.endswith(("ed", "ing"))) or (
        len(word) > 5 and word.endswith("ly")
    )


def _is_name(word: str, *, strict: bool, verb_check: bool, extra: frozenset[str]) -> bool:
    lower = word.lower()
    if lower in STOPWORDS or lower in _FOREIGN_STOPWORDS:
        return _capitalised(word) and lower in _NAME_LIKE
    if strict and not _capitalised(word):
        return known_name(lower, extra) == "name"
    return not (verb_check and not _capitalised(word) and _looks_like_verb(word))


def _name_end(
    text: str,
    pos: int,
    *,
    strict: bool,
    verb_check: bool,
    extra: frozenset[str],
    lower_initials: bool = False,
) -> int:
    """Where the name that starts at pos ends (pos itself if there is none)."""
    end = pos
    for _ in range(2):  # initials: "Dr A. Patel", "Mr J R Smith", "dr a patel"
        m = _INITIAL.match(text, end)
        if not m or (m.group(1).lower() == "i" and "." not in m.group()):
            break  # "Dr I think ..." is the pronoun
        if not (m.group(1).isupper() or lower_initials):
            break
        end = m.end()
    initials_end = end
    words = 0
    first_capitalised = True
    while words < 2:
        gap = _SPACE.match(text, end) if words else None
        start = gap.end() if gap else end
        if words and not gap:
            break
        m = _NAME_TOKEN.match(text, start)
        if not m:
            break
        particles = _PARTICLES.match(text, start)  # "Dr van der Berg", "Mr bin Salman"
        if particles:
            after = _NAME_TOKEN.match(text, particles.end())
            if after and _is_name(after.group(), strict=strict, verb_check=True, extra=extra):
                m = after
        word = m.group()
        if not _is_name(word, strict=strict, verb_check=verb_check or words > 0, extra=extra):
            break
        if words and first_capitalised and not _capitalised(word):
            # "Dr Patel kindly ..." stops; "Dr Sarah jones" goes on if jones is a name.
            if known_name(word.lower(), extra) != "name":
                break
        first_capitalised = _capitalised(word) if not words else first_capitalised
        end = m.end()
        words += 1
    if end == initials_end > pos:  # only initials: "Dr J. was kind"
        end = pos + len(text[pos:initials_end].rstrip(" \t"))
    # Keep a possessive "'s" outside the tag: "Dr [NAME]'s team".
    if text[end - 2 : end] in ("'s", "’s") and end - 2 > pos:
        end -= 2
    return end


def _names_after_titles(text: str, found: _Found) -> None:
    spans: list[tuple[int, int, str | None]] = []
    extra = found.trust.names
    for m in _TITLE.finditer(text):
        title = m.group("title")
        lower = title.lower()
        before = _PREVIOUS_WORD.search(text[max(0, m.start() - 40) : m.start()])
        strict = (
            (before is not None and before.group(1).lower() in _DETERMINERS)
            or lower in _STRICT_TITLES  # "I miss having ...", "czy pani wie"
            or title in ("MS", "MR")  # multiple sclerosis, MR scans
        )
        verb_check = lower in _TITLES_WORDS
        start = m.end()
        end = _name_end(
            text,
            start,
            strict=strict,
            verb_check=verb_check,
            extra=extra,
            lower_initials=lower in _TITLES_ABBREVIATED and not strict,
        )
        if end > start:
            spans.append((start, end, NAME))
    for m in _INTRO.finditer(text):
        start = m.end()
        end = _name_end(text, start, strict=False, verb_check=True, extra=extra)
        if end > start:
            spans.append((start, end, NAME))
    found.add(spans)


# ------------------------------------------------------------------ the name list

# Locales of the faker package whose given names and surnames make the name list.
NAME_LIST_LOCALES = (
    "en_GB", "en_IE", "en_US", "en_IN", "en_PK", "en_NG", "pl_PL", "ro_RO", "pt_PT",
)  # fmt: skip
# Common English, Polish and Spanish words (faker's lorem lists): never a name by themselves.
_ORDINARY_WORD_LOCALES = ("en_US", "pl_PL", "es_ES")

# Short forms and names patients use that the lists lack.
_EXTRA_NAMES = frozenset(
    """
    jo liz beth kate katie jen jess becky bex alex chris nick rob dave steve andy pete
    matt di val viv bev jackie mo al ed ted fred gill jill kev gaz baz del sid mick nat
    sam tom ben dan jim tim
    kasia basia ania asia gosia ola magda zosia tomek bartek marek kuba wojtek piotrek
    janek franek maciek
    rhys dafydd gareth sian siân bethan cerys catrin ffion nia rhian eleri owain iwan
    gruffydd llinos meinir huw aled ioan gwen dylan elin angharad
    """.split()
)

# Names in the lists that are also ordinary English words a patient may write in lower
# case ("grace", "hope", "brown", "bell"): a name only in a name-like place or written with
# a capital inside a sentence. Chosen by hand from the names that are dictionary words.
_ORDINARY_NAMES = frozenset(
    """
    amber angel aura autumn bail ball banks bath bean beard bell best bill bird black
    blessing bond bones booth branch bridge bridges bright brown burns carry case charity
    chase church clear colon comfort contractor convey cook cousins cross curry dash date
    dawn day deep din divine doctor downs drew early eta eve fair faith fall fee field
    fields flood flora flowers forum foster frank freely french fresh gamble gay gene glass
    golden good grace grant green grey gross guy hall harsh hasty hearty hill holder hood
    hope house hunt iris joy judge key kidney lad lane law little long lord love loyal lucid
    lucky mad man mark marks marry master max may merry miles moan moody moon more mountain
    nail noble north pace page pal park patience peace penny petty pop porter power powers
    price rails ray read rice rich ring rock rose rush sad said sane sever sharp shields
    shine short small smart stack stone story strong sue summer swift tank walker wall walls
    ward warrior waters weeks west white winter wise wood young
    will pat sky honey faith dawn joy
    """.split()
)

# Modal verbs and verbs that are names: in lower case a name only when what follows
# cannot be their verb ("my son will was great" but not "my son will call").
_VERB_NAMES = frozenset("will may mark rose hope bill sue pat drew grant said read".split())
_AFTER_NAME = frozenset(
    """
    was is has had and who came said went got gets needs needed felt feels says told
    does did also too on at from in helped explained made took looked saw were or
    rang phoned called drove stayed brought sorted listened with to
    """.split()
)


@dataclass(frozen=True)
class _NameList:
    names: frozenset[str]  # lower-case names that are not ordinary words
    ambiguous: frozenset[str]  # lower-case names that are also ordinary words
    ordinary: frozenset[str]  # ordinary words (never a name by themselves)
    arabic_script: frozenset[str]  # given names in Arabic script, folded (context only)


_ARABIC_FOLD = str.maketrans(
    {"\u06c1": "\u0647", "\u064a": "\u06cc", "\u0643": "\u06a9", "\u0629": "\u0647",
     "\u06d5": "\u0647", "\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627",
     "\u0649": "\u06cc"}
)  # fmt: skip
_ARABIC_MARKS = re.compile(r"[\u064b-\u065f\u0670]")


def _fold_arabic(word: str) -> str:
    return _ARABIC_MARKS.sub("", word.translate(_ARABIC_FOLD))


def _provider_words(module: str, prefixes: tuple[str, ...]) -> set[str]:
    provider = importlib.import_module(module).Provider
    words: set[str] = set()
    for attr in dir(provider):
        if attr.startswith(prefixes):
            for entry in getattr(provider, attr):
                if isinstance(entry, str) and " " not in entry.strip():
                    words.add(entry.strip().lower())
    return words


LANGUAGES_DIR = Path(__file__).resolve().parent.parent / "languages"
_PLACEHOLDER = re.compile(r"\{\w+\}")


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _catalogue_words() -> set[str]:
    """Every word of the bot's own messages in its 13 languages (``languages/*.yml``): the
    ordinary words of the languages patients write in ("beth" and "bob" in Welsh, "maya"
    in Somali, "sem" in Portuguese). Without the files the name rules only get stricter."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    words: set[str] = set()
    for path in sorted(LANGUAGES_DIR.glob("*.yml")):
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=loader) or {}  # noqa: S506 (a safe loader)
        for text in _strings(data):
            words |= {w.lower() for w in _NAME_TOKEN.findall(_PLACEHOLDER.sub(" ", text))}
    return words


@functools.lru_cache(maxsize=1)
def _name_list() -> _NameList:
    names: set[str] = set(_EXTRA_NAMES)
    for locale in NAME_LIST_LOCALES:
        names |= _provider_words(f"faker.providers.person.{locale}", ("first_names", "last_names"))
    ordinary: set[str] = set(STOPWORDS) | _FOREIGN_STOPWORDS | _ORDINARY_NAMES | _RELATIONS
    for locale in _ORDINARY_WORD_LOCALES:
        ordinary |= _provider_words(f"faker.providers.lorem.{locale}", ("word_list",))
    ordinary |= {t for t in _TITLES_ABBREVIATED + _TITLES_WORDS}
    ordinary |= _catalogue_words()
    names = {n for n in names if len(n) >= 2 and _NAME_TOKEN.fullmatch(n)}
    arabic: set[str] = set()
    for locale in ("fa_IR", "ar_AA"):
        arabic |= {
            _fold_arabic(w)
            for w in _provider_words(f"faker.providers.person.{locale}", ("first_names",))
        }
    arabic -= {_fold_arabic(w) for w in _FOREIGN_STOPWORDS}
    return _NameList(
        names=frozenset(names - ordinary),
        ambiguous=frozenset((names & ordinary) - (STOPWORDS - _NAME_LIKE) | _NAME_LIKE),
        ordinary=frozenset(ordinary),
        arabic_script=frozenset(arabic),
    )


def known_name(word: str, extra: frozenset[str] = frozenset()) -> str | None:
    """'name' for a word in the name list, 'ambiguous' for a name that is also an
    ordinary word ("grace", "will"), None otherwise. ``word`` is lower case."""
    lists = _name_list()
    if word in lists.names:
        return "name"
    if word in lists.ambiguous:
        return "ambiguous"
    if word in extra:
        return "ambiguous" if word in lists.ordinary else "name"
    return None


# ------------------------------------------------------------- names in context

# "my daughter Grace", "mój syn Kuba", "fy merch Ffion", "میری بیٹی فاطمہ".
_RELATIONS = frozenset(
    """
    daughter son husband wife partner mum mom mother dad father brother sister friend carer
    grandson granddaughter nan nana nanna gran granny grandma grandmother grandad grandpa
    grandfather uncle aunt auntie aunty niece nephew baby boy girl child kid stepson
    stepdaughter stepmum stepdad fiance fiancé fiancee neighbour colleague cousin boyfriend
    girlfriend twin
    córka córką syn synem mąż mężem żona żoną mama mamą tata tatą brat bratem przyjaciel
    przyjaciółka babcia dziadek wnuk wnuczka
    merch mab gŵr gwraig tad brawd ffrind nain taid mamgu tadcu
    بیٹی بیٹا شوہر بیوی امی ابو والدہ والد بھائی بہن دوست نانی دادی
    """.split()
)
# Words of the health service and of faith that are no one's name ("thanks to the NHS").
_NOT_NAMES = frozenset(
    """
    nhs covid gp gps pals icu itu hdu mri ecg hca hcas ambulance paramedics a&e ae ane
    everyone everybody all god allah jesus christ lord heaven
    lady ladies gentleman gentlemen woman women man men girl girls boy boys chap bloke
    fella fellow guy guys person people someone somebody nobody
    english welsh scottish irish british polish french german spanish italian romanian
    portuguese indian pakistani bengali punjabi urdu arabic somali african caribbean
    asian european american christian muslim hindu sikh jewish catholic
    """.split()
)
_THANKS_BEFORE = re.compile(
    r"(?:thanks|thank(?:[ \t]*you)?|thx|ty|cheers|grateful[ \t]+to|shout[ \t-]?out(?:[ \t]+to)?|"
    r"praise[ \t]+for|diolch(?:[ \t]+(?:i|yn[ \t]+fawr[ \t]+i))?|dziękuję|dziekuje|"
    r"podziękowania[ \t]+dla|شکریہ)"
    r"(?:[ \t]+(?:so|very)[ \t]+much)?(?:[ \t]+(?:especially|particularly|again|also))?"
    r"(?:[ \t]+(?:to|for))?[ \t]*,?[ \t]*$",
    re.IGNORECASE,
)
_ROLES = (
    r"(?:nurse|doctor|dr|physio|physiotherapist|midwife|receptionist|porter|hca|consultant|"
    r"surgeon|cleaner|paramedic|pharmacist|registrar|anaesthetist|sister|matron|therapist|"
    r"ot|dietitian|volunteer|chaplain|manager|student|healthcare[ \t]+assistant|sonographer|"
    r"radiographer|gp|health[ \t]+visitor|carer|support[ \t]+worker)"
)
_ROLE_AFTER = re.compile(
    r"[ \t]*,?[ \t]+(?:(?:on|at|from|in)[ \t]+(?:the[ \t]+)?(?:reception|front[ \t]+desk|desk|"
    r"pharmacy|pals|switchboard|triage|x-ray|radiology|phlebotomy|bloods|outpatients)\b"
    rf"|(?:the|our|my|a)[ \t]+(?:(?:lovely|kind|brilliant|amazing|student|staff|night|day|"
    rf"senior|junior|ward)[ \t]+)?{_ROLES}\b)",
    re.IGNORECASE,
)
# Words that follow a name in Urdu: postpositions and honorifics ("فاطمہ نے", "احمد صاحب").
_URDU_AFTER_NAME = frozenset("نے کو کی کا کے سے اور بھی صاحب صاحبہ جی".split())
_PARTICLE_WORDS = frozenset("van von der den de del della di da du la le bin ibn al el ap".split())
_LIST_GAP = re.compile(r"[ \t]*(?:,|&|and|,[ \t]*and|i|a|ac|oraz|اور)[ \t]*", re.IGNORECASE)
_MONTH_NAMES = frozenset("may june april august".split())
_MONTH_BEFORE = frozenset(
    """
    in on of since until till by during from to last next early late mid this each every
    end beginning start before after
    """.split()
)
_NOT_AFTER = frozenset("the a an".split())
# Listed names that are colours or ethnic groups, often written with a capital ("Black
# British", "White Irish"): a name only in a name-like place or after a given name.
_NOT_ALONE = frozenset("black white brown green grey gray".split())
_SENTENCE_END = frozenset(".!?\n:;\"“”'‘’()[]")


def _case_informative(text: str, tokens: list[tuple[int, int, str]]) -> bool:
    """False for ALL CAPS or Title Case text, where a capital says nothing."""
    long = [w for _, _, w in tokens if len(w) > 3 and w.isalpha() and w.isascii()]
    if not long:
        return True
    capitalised = sum(1 for w in long if w[0].isupper())
    return capitalised < 0.6 * len(long) or len(long) < 4


def _sentence_start(text: str, start: int) -> bool:
    before = text[max(0, start - 8) : start].rstrip(" \t")
    return not before or before[-1] in _SENTENCE_END


def _is_arabic_script(word: str) -> bool:
    return "\u0600" <= word[0] <= "\u06ff" or "\u0750" <= word[0] <= "\u077f"


def _base(word: str) -> str:
    return word[:-2] if word.endswith(("'s", "’s")) and len(word) > 3 else word


def _name_words(text: str, found: _Found) -> None:
    lists = _name_list()
    extra = found.trust.names
    tokens = [(m.start(), m.end(), m.group()) for m in _NAME_TOKEN.finditer(text)]
    if not tokens:
        return
    informative = _case_informative(text, tokens)
    spans: list[tuple[int, int, str | None]] = []
    last_end = -1
    i = 0
    while i < len(tokens):
        start, end, word = tokens[i]
        base = _base(word)
        lower = base.lower()
        i += 1
        if lower in STOPWORDS and lower not in _NAME_LIKE or lower in _FOREIGN_STOPWORDS:
            continue
        if lower in _NOT_NAMES:
            continue
        arabic = _is_arabic_script(base)
        kind = known_name(lower, extra) if not arabic else None
        capital = informative and not arabic and base[0].isupper()
        if kind == "name" and (len(lower) >= 3 or capital):
            accept = 1
        else:
            accept = _in_name_context(
                text, tokens, i - 1, lower, kind, capital, last_end, lists, arabic
            )
        if not accept:
            continue
        name_end = start + len(base)
        j = i
        if accept == 2:  # "my carer sanur aksu rang": both words, found by the context
            name_end = tokens[i][0] + len(_base(tokens[i][2]))
            j = i + 1
            word = base = _base(tokens[i][2])
        while base == word and j < len(tokens) and j < i + 2:
            n_start, n_end, n_word = tokens[j]
            if text[name_end:n_start] not in (" ", "  ", "\t"):
                break
            n_base = _base(n_word)
            n_lower = n_base.lower()
            if n_lower in STOPWORDS or n_lower in _FOREIGN_STOPWORDS or n_lower in _NOT_NAMES:
                break
            n_kind = known_name(n_lower, extra) if not arabic else None
            n_capital = informative and n_base[0].isupper()
            following, following_gap = _word_after(text, tokens, j)
            name_follows = following in _AFTER_NAME or following_gap or not following
            if arabic:
                ok = _fold_arabic(n_lower) in lists.arabic_script or (
                    following in _URDU_AFTER_NAME or following_gap
                )
            elif n_lower in _PARTICLE_WORDS and j + 1 < len(tokens) and informative:
                # "Jinthe van Kempen", "Ahmed bin Salman": the particle and the surname.
                p_start, p_end, p_word = tokens[j + 1]
                if text[n_end:p_start] != " " or not p_word[0].isupper():
                    break
                name_end = p_start + len(_base(p_word))
                j += 2
                break
            else:
                ok = (
                    n_kind == "name"
                    or (
                        n_capital
                        and (n_kind == "ambiguous" or (capital and n_lower not in lists.ordinary))
                    )
                    or (
                        not n_capital
                        and not capital
                        and _could_be_name(n_lower, lists)
                        and bool(name_follows)
                    )
                )
            if not ok:
                break
            name_end = n_start + len(n_base)
            j += 1
            if n_base != n_word:
                break
        spans.append((start, name_end, NAME))
        last_end = name_end
        i = j
    found.add(spans)


def _in_name_context(
    text: str,
    tokens: list[tuple[int, int, str]],
    i: int,
    lower: str,
    kind: str | None,
    capital: bool,
    last_end: int,
    lists: _NameList,
    arabic: bool,
) -> int:
    """0 if the word at tokens[i] is no name here; 1 if it is; 2 if it and the next are."""
    start, end, word = tokens[i]
    prev = tokens[i - 1][2].lower() if i else ""
    prev_gap = text[tokens[i - 1][1] : start] if i else ""
    after, after_gap = _word_after(text, tokens, i)
    relation = prev in _RELATIONS and prev_gap.strip(" \t,") == ""
    if arabic:
        if not relation:
            return 0
        if _fold_arabic(lower) in lists.arabic_script or after in _URDU_AFTER_NAME:
            return 1
        second, _ = _word_after(text, tokens, i + 1)
        if after and after not in _FOREIGN_STOPWORDS and second in _URDU_AFTER_NAME:
            return 2
        return 0
    gap = text[last_end:start] if last_end >= 0 else ""
    # "Sarah and Grace", "Sarah, Grace and Tom"; after a comma alone only a listed name.
    comma_only = "," in gap and not gap.strip(" \t,")
    in_list = _LIST_GAP.fullmatch(gap) is not None and (kind is not None or not comma_only)
    thanks = _THANKS_BEFORE.search(text[max(0, start - 40) : start]) is not None
    role = _ROLE_AFTER.match(text, end) is not None
    context = relation or in_list or thanks or role
    month = lower in _MONTH_NAMES and (
        prev in _MONTH_BEFORE
        or re.match(r"[ \t]*\d", text[end : end + 3]) is not None
        or re.search(r"\d[ \t]*(?:st|nd|rd|th)?[ \t]*$", text[max(0, start - 6) : start])
        is not None
    )
    if month:
        return 0
    if kind is not None:  # a name in the list: ambiguous, or too short to go alone
        if context:
            verb_reading_ok = (
                after in _AFTER_NAME and after not in ("to", "with") or after in ("", "for")
            ) or after_gap
            return int(capital or lower not in _VERB_NAMES or bool(verb_reading_ok))
        if not capital:
            return 0
        if _sentence_start(text, start):
            return int(after in ("was", "is", "has", "had", "said", "came"))
        return int(prev not in _NOT_AFTER and lower not in _NOT_ALONE)
    # A word not in the name list: only in a name-like place, and never an ordinary word.
    if not context or not _could_be_name(lower, lists):
        return 0
    if capital:
        return int(not _sentence_start(text, start) or relation or thanks or in_list)
    if after in _AFTER_NAME or after in ("", "for", "and") or after_gap:
        return 1
    second, second_gap = _word_after(text, tokens, i + 1)
    if _could_be_name(after, lists) and (
        second in _AFTER_NAME or second in ("", "for", "and") or second_gap
    ):
        return 2
    return 0


def _word_after(text: str, tokens: list[tuple[int, int, str]], i: int) -> tuple[str, bool]:
    """The lower-case word after tokens[i] ("" if none or if punctuation comes first), and
    whether punctuation comes first."""
    if i + 1 >= len(tokens):
        return "", bool(text[tokens[i][1] :].strip(" \t")) if i < len(tokens) else False
    gap = text[tokens[i][1] : tokens[i + 1][0]]
    if gap.strip(" \t"):
        return "", True
    return tokens[i + 1][2].lower(), False


def _could_be_name(lower: str, lists: _NameList) -> bool:
    """A lower-case word that is no ordinary word we know and does not look like a verb,
    an adverb or a plural."""
    return (
        len(lower) >= 3
        and lower not in lists.ordinary
        and lower not in _NOT_NAMES
        and not _looks_like_verb(lower)
        and not (lower.endswith("s") and len(lower) > 4)
    )


# ------------------------------------------------------------------------ the door

_STEPS: tuple[Callable[[str, _Found], None], ...] = (
    _emails,
    _urls_and_handles,
    _trust_lists,
    _nhs_numbers,
    _dates,
    _phones,
    _postcodes,
    _addresses,
    _names_after_titles,
    _name_words,
)


def _as_tuple(names: Iterable[str] | None) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, str):
        raise TypeError("give a list of names, not one string")
    return tuple(str(name) for name in names)


def _settings_lists() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The trust's staff, ward and site names; none when there is no settings file."""
    from bot import settings  # late: keeps this module light and free of side effects

    if not settings.trust_settings_path().is_file():
        return (), (), ()
    trust = settings.trust_settings()
    return (
        tuple(getattr(trust, "staff_names", ())),
        tuple(getattr(trust, "ward_names", ())),
        tuple(getattr(trust, "site_names", ())),
    )


def _matcher(
    staff_names: Iterable[str] | None,
    ward_names: Iterable[str] | None,
    site_names: Iterable[str] | None,
) -> _TrustMatcher:
    staff, wards, sites = _as_tuple(staff_names), _as_tuple(ward_names), _as_tuple(site_names)
    if staff is None or wards is None or sites is None:
        from_file = _settings_lists()
        staff = from_file[0] if staff is None else staff
        wards = from_file[1] if wards is None else wards
        sites = from_file[2] if sites is None else sites
    if not (staff or wards or sites):
        return _NO_TRUST_LISTS
    return _trust_matcher(staff, wards, sites)


def _find(text: str, trust: _TrustMatcher) -> list[tuple[int, int, str | None]]:
    """Spans of the normalised text: (start, end, kind); kind None keeps the text."""
    found = _Found(text, trust)
    found.add((m.start(), m.end(), None) for m in _EXISTING_TAG.finditer(text))
    for step in _STEPS:
        step(found.text, found)
    return sorted(found.spans)


def anonymise(
    text: str,
    *,
    staff_names: Iterable[str] | None = None,
    ward_names: Iterable[str] | None = None,
    site_names: Iterable[str] | None = None,
) -> Anonymised:
    """Replace identifiers in patient free text with tags such as ``[PHONE]``.

    The trust's staff, ward and site names come from the trust settings file unless given
    here (an empty list turns one off). Raises :class:`AnonymisationError` (whose message
    never holds the text) if anything goes wrong, so nothing un-anonymised can be stored.
    """
    try:
        if not isinstance(text, str):
            raise AnonymisationError(f"expected str, got {type(text).__name__}")
        trust = _matcher(staff_names, ward_names, site_names)
        norm = _normalise(text)
        pieces: list[str] = []
        kinds: set[str] = set()
        last = 0
        for start, end, kind in _find(norm, trust):
            if kind is None:
                continue
            pieces.append(norm[last:start])
            pieces.append(_tag(kind))
            kinds.add(kind)
            last = end
        pieces.append(norm[last:])
        return Anonymised(text="".join(pieces), tags=tuple(sorted(kinds)))
    except AnonymisationError:
        raise
    except Exception as exc:  # fail closed, and never echo the input
        raise AnonymisationError(f"anonymisation failed ({type(exc).__name__})") from None


def find_identifiers(
    text: str,
    *,
    staff_names: Iterable[str] | None = None,
    ward_names: Iterable[str] | None = None,
    site_names: Iterable[str] | None = None,
) -> list[Identifier]:
    """What :func:`anonymise` removes, as spans of ``text`` itself (before normalisation).

    For measuring (``scripts/privacy_report.py``); same rules and trust lists as
    :func:`anonymise`, and the same fail-closed errors.
    """
    try:
        if not isinstance(text, str):
            raise AnonymisationError(f"expected str, got {type(text).__name__}")
        trust = _matcher(staff_names, ward_names, site_names)
        norm, starts, ends = _normalise_mapped(text)
        return [
            Identifier(starts[start], ends[end - 1], kind)
            for start, end, kind in _find(norm, trust)
            if kind is not None
        ]
    except AnonymisationError:
        raise
    except Exception as exc:
        raise AnonymisationError(f"anonymisation failed ({type(exc).__name__})") from None
