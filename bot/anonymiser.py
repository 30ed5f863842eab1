"""Remove personal identifiers from patient free text before anything stores it.

``anonymise(text)`` is the one door patient free text passes through: the store only
accepts :class:`Anonymised` objects. Identifiers are replaced by ASCII tags in square
brackets: ``[NHS_NUMBER]``, ``[PHONE]``, ``[EMAIL]``, ``[POSTCODE]``, ``[DATE]`` and
``[NAME]`` (a title such as "Dr" is kept: "Dr [NAME]").

How it works, in order:

1. Normalise: Unicode NFKC (full-width digits, non-breaking spaces, ligatures ...),
   remove zero-width and other invisible characters (but keep the zero-width
   joiner and non-joiner between two non-ASCII characters, where emoji sequences
   and Persian or Indic spelling need them), remove control characters other than
   newline and tab, and remove bidi marks that sit between two digits.
2. E-mail addresses, including simple spelt-out ones ("jo dot bloggs at nhs dot net").
3. NHS numbers: ten digits, grouped any way, that pass the NHS modulus 11 check.
4. Dates that carry a year, and any date written after "born", "DOB", "date of birth".
5. Phone numbers: ``phonenumbers.PhoneNumberMatcher`` (region GB, leniency POSSIBLE)
   and then a regex for the forms it misses (Ofcom drama numbers such as
   07700 900123, long digit runs). Signposting numbers (111, 999, 116 123,
   0800 1111 ...) and short numbers (ages, hours, ward numbers) are never touched.
6. UK postcodes, in any case, with or without the space.
7. Names after a title (Dr, Nurse, Mrs ...) and after "my name is", "call me" ...

Why plain ``re`` rather than a library for everything but phone numbers: there is no
well-kept library for UK NHS numbers and postcodes that fits here. The general PII
tools (Presidio, scrubadub and the like) need spaCy language models for names, which
cannot be downloaded at run time here and would be far too slow for thousands of
comments a second; their UK recognisers are thin. The rules below are small, fast,
work offline and are tested in ``tests/test_anonymiser.py``.

Known gaps (deliberate, see the tests):

* names without a title or an introduction ("thanks to Jo on ward 5"), the second
  name in "Drs Smith and Jones", and a name on the line after its title;
* a name that is also a common English word written in lowercase ("nurse will",
  "Sister ward" is read as the ward, not Sister Ward);
* after a lowercase "the nurse", "a doctor" only a capitalised word counts as a name;
* local phone numbers without an area code (7 or 8 digits) and numbers spelt in
  words ("oh seven seven ...");
* street addresses, and hospital numbers that mix letters and digits ("RXH123456");
* years alone and month-and-year dates ("born in 1954", "in March 2023") unless
  they follow "born in"/"DOB" with a month;
* spelt-out e-mail addresses whose domain does not end in a common top-level domain.

The function fails closed: any unexpected error becomes :class:`AnonymisationError`,
whose message never contains the input text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers

__all__ = ["AnonymisationError", "Anonymised", "anonymise", "SIGNPOSTING_NUMBERS"]


class AnonymisationError(RuntimeError):
    """Anonymisation failed; the message never contains the input text."""


@dataclass(frozen=True)
class Anonymised:
    text: str  # the text with identifiers replaced by tags
    tags: tuple[str, ...]  # which tag kinds were replaced, e.g. ("NAME", "PHONE")


# --------------------------------------------------------------------------- tags

NHS_NUMBER = "NHS_NUMBER"
PHONE = "PHONE"
EMAIL = "EMAIL"
POSTCODE = "POSTCODE"
DATE = "DATE"
NAME = "NAME"


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


# ------------------------------------------------------------------------- e-mail

_EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'-]+[ \t]?@[ \t]?[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)

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


def _emails(text: str, kinds: set[str]) -> str:
    def replace(_m: re.Match[str]) -> str:
        kinds.add(EMAIL)
        return _tag(EMAIL)

    def replace_spelt(m: re.Match[str]) -> str:
        # "I was at home dot com": a plain English word before "at" is no mailbox.
        local = _SPELT_AT_WORD.split(m.group(), maxsplit=1)[0]
        if local.lower() in STOPWORDS:
            return m.group()
        return replace(m)

    text = _EMAIL.sub(replace, text)
    return _EMAIL_SPELT.sub(replace_spelt, text)


# -------------------------------------------------------------------- NHS numbers

_NHS_CANDIDATE = re.compile(
    r"(?<![\d+])(?<!\d[ \t.\-])\d(?:[ \t]{0,2}[.\-]?[ \t]{0,2}\d){9}(?!\d)(?![ \t.\-]\d)"
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


def _nhs_numbers(text: str, kinds: set[str]) -> str:
    def replace(m: re.Match[str]) -> str:
        if _nhs_grouping_ok(m.group()) and nhs_checksum_ok(_digits(m.group())):
            kinds.add(NHS_NUMBER)
            return _tag(NHS_NUMBER)
        return m.group()  # failed the checksum: left for the phone rules

    return _NHS_CANDIDATE.sub(replace, text)


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


def _dates(text: str, kinds: set[str]) -> str:
    def with_year(m: re.Match[str]) -> str:
        s = m.group()
        if s[0].isdigit() and s[-1].isdigit() and re.fullmatch(r"[\d/.\-]+", s):
            if not _valid_numeric_date(s):
                return s
        kinds.add(DATE)
        return _tag(DATE)

    def after_trigger(m: re.Match[str]) -> str:
        kinds.add(DATE)
        return m.group("trigger") + _tag(DATE)

    text = _DATE_WITH_YEAR.sub(with_year, text)
    return _DOB_DATE.sub(after_trigger, text)


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


def _phone_replacement(raw: str, kinds: set[str]) -> str:
    """The replacement for a matched span, keeping a signposting number at its start."""
    groups = list(re.finditer(r"\d+", raw))
    for k in range(1, len(groups)):
        if _is_signposting("".join(g.group() for g in groups[:k])):
            cut = groups[k].start()
            rest = raw[cut:]
            # "0800 1111 24 hours" keeps everything; "999 07700 900123" loses the
            # second number; "999 000 0000" is one number and is removed whole.
            if len(_digits(rest)) <= 4 or _looks_like_phone(rest):
                return raw[:cut] + _phone_replacement(rest, kinds)
            break
    if _looks_like_phone(raw):
        kinds.add(PHONE)
        return _tag(PHONE)
    return raw


def _phones(text: str, kinds: set[str]) -> str:
    if sum(ch.isdigit() for ch in text) < _MIN_PHONE_DIGITS:
        return text
    spans = [
        (m.start, m.end)
        for m in phonenumbers.PhoneNumberMatcher(
            text, "GB", leniency=phonenumbers.Leniency.POSSIBLE
        )
    ]
    for start, end in reversed(spans):
        text = text[:start] + _phone_replacement(text[start:end], kinds) + text[end:]
    return _PHONE_FALLBACK.sub(lambda m: _phone_replacement(m.group(), kinds), text)


# ---------------------------------------------------------------------- postcodes

_POSTCODE = re.compile(
    r"(?<![\w\[])"
    r"(?:GIR[ \t]{0,2}0AA"
    r"|(?:[A-PR-UWYZ]\d{1,2}|[A-PR-UWYZ][A-HK-Y]\d{1,2}|[A-PR-UWYZ]\d[A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y]\d[ABEHMNPRVWXY])[ \t]{0,2}\d[ABD-HJLNP-UW-Z]{2})"
    r"(?![\w\]])",
    re.IGNORECASE,
)


def _postcodes(text: str, kinds: set[str]) -> str:
    def replace(_m: re.Match[str]) -> str:
        kinds.add(POSTCODE)
        return _tag(POSTCODE)

    return _POSTCODE.sub(replace, text)


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

_TITLES_ABBREVIATED = ("dr", "drs", "mrs", "mr", "ms", "mx", "prof")
_TITLES_WORDS = ("doctor", "nurse", "sister", "matron", "professor", "miss")

_TITLE = re.compile(
    r"(?<![\w'’-])(?P<title>" + "|".join(_TITLES_ABBREVIATED + _TITLES_WORDS) + r")"
    r"(?P<sep>\.[ \t]*|[ \t]+)",
    re.IGNORECASE,
)
_INTRO = re.compile(
    r"(?<![\w'’-])(?:my[ \t]+name[ \t]+is|my[ \t]+name['’]s|i['’]?m[ \t]+called|"
    r"i[ \t]+am[ \t]+called|call[ \t]+me|name[ \t]*:)[ \t]+",
    re.IGNORECASE,
)
_NAME_TOKEN = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
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


def _is_name(word: str, *, strict: bool, verb_check: bool) -> bool:
    lower = word.lower()
    if lower in STOPWORDS:
        return _capitalised(word) and lower in _NAME_LIKE
    if strict and not _capitalised(word):
        return False
    return not (verb_check and not _capitalised(word) and _looks_like_verb(word))


def _name_end(
    text: str, pos: int, *, strict: bool, verb_check: bool, lower_initials: bool = False
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
            if after and _is_name(after.group(), strict=strict, verb_check=True):
                m = after
        word = m.group()
        if not _is_name(word, strict=strict, verb_check=verb_check or words > 0):
            break
        if words and first_capitalised and not _capitalised(word):
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


def _names(text: str, kinds: set[str]) -> str:
    spans: list[tuple[int, int]] = []
    for m in _TITLE.finditer(text):
        title = m.group("title")
        lower = title.lower()
        before = _PREVIOUS_WORD.search(text[max(0, m.start() - 40) : m.start()])
        strict = (
            (before is not None and before.group(1).lower() in _DETERMINERS)
            or title == "miss"  # "I miss having ..." is a verb
            or title in ("MS", "MR")  # multiple sclerosis, MR scans
        )
        verb_check = lower in _TITLES_WORDS
        start = m.end()
        end = _name_end(
            text,
            start,
            strict=strict,
            verb_check=verb_check,
            lower_initials=lower in _TITLES_ABBREVIATED and not strict,
        )
        if end > start:
            spans.append((start, end))
    for m in _INTRO.finditer(text):
        start = m.end()
        end = _name_end(text, start, strict=False, verb_check=True)
        if end > start:
            spans.append((start, end))
    if not spans:
        return text
    kinds.add(NAME)
    out: list[str] = []
    last = 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(text[last:start])
        out.append(_tag(NAME))
        last = end
    out.append(text[last:])
    return "".join(out)


# ------------------------------------------------------------------------ the door

_STEPS: tuple[Callable[[str, set[str]], str], ...] = (
    _emails,
    _nhs_numbers,
    _dates,
    _phones,
    _postcodes,
    _names,
)


def anonymise(text: str) -> Anonymised:
    """Replace identifiers in patient free text with tags such as ``[PHONE]``.

    Raises :class:`AnonymisationError` (whose message never holds the text) if
    anything goes wrong, so nothing un-anonymised can be stored by mistake.
    """
    try:
        if not isinstance(text, str):
            raise AnonymisationError(f"expected str, got {type(text).__name__}")
        kinds: set[str] = set()
        result = _normalise(text)
        for step in _STEPS:
            result = step(result, kinds)
        return Anonymised(text=result, tags=tuple(sorted(kinds)))
    except AnonymisationError:
        raise
    except Exception as exc:  # fail closed, and never echo the input
        raise AnonymisationError(f"anonymisation failed ({type(exc).__name__})") from None
