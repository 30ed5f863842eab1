"""Text messages: segment counting, splitting long replies, and carrier keywords.

Core code for the SMS and WhatsApp channels (``actions/channels/twilio.py``); it imports
neither ``rasa`` nor ``rasa_sdk``.

**Segments.** An SMS is sent in GSM-7 when every character is in the GSM 03.38 basic
table or its extension table (``^ { } [ ] ~ | \\ €`` and form feed, which take two
septets each); otherwise the whole message goes in UCS-2 (UTF-16), where a character
outside the Basic Multilingual Plane (most emoji) takes two code units. A message that
fits one segment holds 160 septets (GSM-7) or 70 code units (UCS-2); longer messages are
sent as several segments of 153 septets or 67 code units (the rest is the header that lets
the phone join them). An escape pair or a surrogate pair is never cut between segments,
so such a segment holds one unit less. Twilio bills per segment.

**Splitting.** :func:`split_message` keeps each SMS within a number of segments: a longer
reply becomes several SMS, cut at a blank line, a line break, the end of a sentence, or a
space, in that order of preference, never inside a word (a "word" longer than a whole SMS,
like a long link, is the only thing ever cut, and never inside a character). After the
most parts allowed, the rest is dropped and the last part ends with an ellipsis.

**Keywords.** Carriers and Twilio expect STOP (and the other opt-out words) to stop all
messages until START, and HELP to get a short help text. :func:`keyword` recognises a
whole message that is one of them, in any case, with surrounding punctuation ignored.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

# -- GSM-7 -------------------------------------------------------------------------------

# GSM 03.38 default alphabet (0x1B, the escape to the extension table, is not a character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each of these is sent as ESC + character, two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
LIMITS = {  # encoding -> (units in a single-segment message, units per joined segment)
    GSM7: (160, 153),
    UCS2: (70, 67),
}
ELLIPSIS = {GSM7: "...", UCS2: "\u2026"}  # "…" is not in GSM-7: it would force UCS-2

DEFAULT_MAX_SEGMENTS = 4  # segments in one SMS we send
DEFAULT_MAX_PARTS = 3  # SMS one bot message may become; the rest is cut with an ellipsis
WHATSAPP_MAX_CHARS = 1600  # Twilio's limit for the body of one WhatsApp message


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def encoding_of(text: str) -> str:
    return GSM7 if is_gsm7(text) else UCS2


def _units(text: str, encoding: str) -> list[int]:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) taken by each character."""
    if encoding == GSM7:
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


@dataclass(frozen=True)
class Segments:
    """How an SMS body is sent: its encoding, its length in units, and its segments."""

    encoding: str
    units: int
    segments: int


def count_segments(text: str) -> Segments:
    """The segments Twilio (and the network) will use for ``text``; 0 for empty text."""
    encoding = encoding_of(text)
    units = _units(text, encoding)
    total = sum(units)
    single, joined = LIMITS[encoding]
    if total == 0:
        return Segments(encoding, 0, 0)
    if total <= single:
        return Segments(encoding, total, 1)
    segments, used = 1, 0
    for size in units:
        if used + size > joined:  # an escape or surrogate pair is never cut in two
            segments, used = segments + 1, 0
        used += size
    return Segments(encoding, total, segments)


def sms_fits(max_segments: int) -> Callable[[str], bool]:
    """A test that a text fits in ``max_segments`` SMS segments."""
    return lambda text: count_segments(text).segments <= max_segments


def chars_fit(limit: int) -> Callable[[str], bool]:
    """A test that a text has at most ``limit`` characters (WhatsApp counts characters)."""
    return lambda text: len(text) <= limit


# -- splitting ---------------------------------------------------------------------------

# Places to cut, best first: a blank line, a line break, after a sentence, a space.
# Sentence ends include the Devanagari/Gurmukhi/Bengali danda and the Urdu full stop.
_BREAKS = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?\u0964\u06d4\u061f])\s+"),
    re.compile(r"\s+"),
)
_JOINERS = frozenset("\u200d\ufe0f\ufe0e")  # zero-width joiner, variation selectors


def _longest_prefix(text: str, fits: Callable[[str], bool]) -> int:
    """The most characters from the start of ``text`` that fit (binary search)."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(text[:middle]):
            low = middle
        else:
            high = middle - 1
    return low


def _safe_cut(text: str, at: int) -> int:
    """Move a forced cut back so it never separates a character from its marks or joiners."""
    while at > 1 and (unicodedata.category(text[at])[0] == "M" or text[at] in _JOINERS
                      or text[at - 1] in _JOINERS):
        at -= 1
    return at


def _cut(text: str, room: int) -> tuple[str, str]:
    """Split ``text`` where a reader would: the first part has at most ``room`` characters."""
    window = text[: room + 1]  # a break just after the room is fine: the space is dropped
    for index, pattern in enumerate(_BREAKS):
        found = [m for m in pattern.finditer(window) if 0 < m.start() <= room]
        if index < len(_BREAKS) - 1:  # a tiny first part reads badly: not before half-way
            found = [m for m in found if m.start() >= room // 2]
        if found:
            match = found[-1]
            return text[: match.start()].rstrip(), text[match.end():].lstrip()
    at = _safe_cut(text, room)  # one word longer than the room: the only forced cut
    return text[:at], text[at:]


def truncate(text: str, fits: Callable[[str], bool]) -> str:
    """``text`` if it fits, else as much as fits, cut at a word, with an ellipsis."""
    if fits(text):
        return text
    for ellipsis in (ELLIPSIS[encoding_of(text)], ELLIPSIS[GSM7]):
        room = _longest_prefix(text, lambda head, e=ellipsis: fits(head + e))
        if room <= 0:
            continue
        head, _ = _cut(text, room)
        head = head.rstrip(" \n,;:-")
        if head and fits(head + ellipsis):
            return head + ellipsis
    return text[: _longest_prefix(text, fits)]


def split_text(text: str, fits: Callable[[str], bool], max_parts: int) -> list[str]:
    """``text`` in at most ``max_parts`` parts that each ``fit``, cut where a reader would."""
    text = text.strip()
    parts: list[str] = []
    while text and len(parts) < max_parts - 1 and not fits(text):
        room = _longest_prefix(text, fits)
        if room == 0:
            break
        head, text = _cut(text, room)
        if head:
            parts.append(head)
    if text:
        parts.append(truncate(text, fits))
    return [part for part in parts if part]


def split_message(
    text: str, *, max_segments: int = DEFAULT_MAX_SEGMENTS, max_parts: int = DEFAULT_MAX_PARTS
) -> list[str]:
    """An SMS reply as the SMS bodies to send, each at most ``max_segments`` segments.

    Each part is counted in its own encoding (a part in plain English stays GSM-7 even if
    another part needs UCS-2). ``max_parts=1`` keeps a whole reply within ``max_segments``
    and cuts the rest with an ellipsis.
    """
    if max_segments < 1 or max_parts < 1:
        raise ValueError("max_segments and max_parts must be at least 1")
    return split_text(text, sms_fits(max_segments), max_parts)


def split_whatsapp(text: str, *, limit: int = WHATSAPP_MAX_CHARS,
                   max_parts: int = DEFAULT_MAX_PARTS) -> list[str]:
    """A WhatsApp reply as message bodies within Twilio's character limit."""
    return split_text(text, chars_fit(limit), max_parts)


# -- keywords ----------------------------------------------------------------------------

# Twilio's default opt-out, opt-in and help keywords (matched as the whole message).
OPT_OUT_WORDS = frozenset({"stop", "stopall", "stop all", "unsubscribe", "cancel", "end",
                           "quit", "optout", "opt out", "revoke"})
OPT_IN_WORDS = frozenset({"start", "unstop"})
# "yes" re-subscribes on Twilio only when the sender had opted out: it is also an answer.
OPT_IN_WHEN_STOPPED = OPT_IN_WORDS | {"yes"}
HELP_WORDS = frozenset({"help", "info"})
# Read-aloud on WhatsApp: two words each, so no survey answer is ever taken for them.
AUDIO_ON_WORDS = frozenset({"audio on", "read aloud", "read aloud on", "voice on"})
AUDIO_OFF_WORDS = frozenset({"audio off", "read aloud off", "voice off", "no audio"})

STOP, START, HELP, AUDIO_ON, AUDIO_OFF = "stop", "start", "help", "audio_on", "audio_off"
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def _bare(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(_EDGES.sub("", text.strip()).split())


def keyword(text: str, *, stopped: bool = False) -> str | None:
    """STOP, START, HELP, AUDIO_ON or AUDIO_OFF when the whole message is such a keyword."""
    word = _bare(text)
    if word in OPT_OUT_WORDS:
        return STOP
    if word in (OPT_IN_WHEN_STOPPED if stopped else OPT_IN_WORDS):
        return START
    if word in HELP_WORDS:
        return HELP
    if word in AUDIO_ON_WORDS:
        return AUDIO_ON
    if word in AUDIO_OFF_WORDS:
        return AUDIO_OFF
    return None


# -- bounded memory ----------------------------------------------------------------------

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Bounded(Generic[K, V]):
    """A small LRU map with an optional time to live: memory that cannot grow without end.

    Used for the MessageSids already answered, the senders who sent STOP and the
    conversation key -> address map, all keyed by the sender's keyed hash.
    """

    def __init__(self, max_items: int, ttl_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self.ttl = ttl_seconds
        self.clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None  # type: ignore[arg-type]

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is None:
            return None
        stamp, value = found
        if self.ttl is not None and self.clock() - stamp > self.ttl:
            del self._items[key]
            return None
        return value

    def put(self, key: K, value: V) -> None:
        self._items.pop(key, None)
        self._items[key] = (self.clock(), value)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    def pop(self, key: K) -> V | None:
        found = self._items.pop(key, None)
        return None if found is None else found[1]

    def add_if_new(self, key: K, value: V) -> bool:
        """Remember ``key``; False when it was already there (a repeat)."""
        if key in self:
            return False
        self.put(key, value)
        return True
