"""SMS segments, splitting, carrier keywords, bounded memory and sender keys (no Rasa)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bot import sms
from bot.catalogue import available_languages, catalogue
from bot.renderer import render
from bot.sender_key import SECRET_ENV, SenderKeyError, SenderKeys, secret_from_env
from bot.sms import GSM7, UCS2, count_segments, keyword, split_message, split_whatsapp

SECRET = "test-secret-" + "x" * 40


# -- counting ----------------------------------------------------------------------------


@pytest.mark.parametrize("text, encoding, units, segments", [
    ("", GSM7, 0, 0),
    ("a", GSM7, 1, 1),
    ("a" * 160, GSM7, 160, 1),
    ("a" * 161, GSM7, 161, 2),  # joined segments hold 153
    ("a" * 306, GSM7, 306, 2),
    ("a" * 307, GSM7, 307, 3),
    ("£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà@\n\r", GSM7, 44, 1),  # GSM-7, not ASCII
    ("€" * 80, GSM7, 160, 1),  # extension characters take two septets
    ("€" * 81, GSM7, 162, 2),
    ("{}[]~|^\\", GSM7, 16, 1),
    ("a" * 159 + "€", GSM7, 161, 2),
    # an escape pair is never cut between segments: 152 | 2+151 | 1
    ("a" * 152 + "€" + "a" * 152, GSM7, 306, 3),
    ("ç", UCS2, 1, 1),  # lower-case c cedilla is not in GSM-7 (upper case is)
    ("tab\there", UCS2, 8, 1),
    ("Cymraeg: ŵ ŷ", UCS2, 12, 1),
    ("ą" * 70, UCS2, 70, 1),
    ("ą" * 71, UCS2, 71, 2),  # joined UCS-2 segments hold 67
    ("ą" * 134, UCS2, 134, 2),
    ("ą" * 135, UCS2, 135, 3),
    ("😀" * 35, UCS2, 70, 1),  # emoji outside the BMP are surrogate pairs: two units
    ("😀" * 36, UCS2, 72, 2),
    # a surrogate pair is never cut between segments: 66 | 2+65 | 1
    ("ا" * 66 + "😀" + "ا" * 66, UCS2, 134, 3),
    ("a" * 159 + "😀", UCS2, 161, 3),  # one emoji turns a whole message into UCS-2
])
def test_count_segments(text: str, encoding: str, units: int, segments: int) -> None:
    assert count_segments(text) == sms.Segments(encoding, units, segments)


def test_catalogue_text_is_counted_in_its_encoding() -> None:
    english = render("welcome", language="en", channel="twilio_sms")["text"]
    urdu = render("welcome", language="ur", channel="twilio_sms")["text"]
    assert count_segments(english).encoding == GSM7
    assert count_segments(urdu).encoding == UCS2
    assert count_segments(urdu).segments == -(-len(urdu) // 67)  # no pairs in Urdu letters


# -- splitting ---------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.replace("...", " ").replace("…", " ").split()


def test_a_short_reply_is_sent_as_it_is() -> None:
    assert split_message("Overall, how was your experience of our service?") == [
        "Overall, how was your experience of our service?"]
    assert split_message("  \n ") == []


def test_a_reply_within_the_segments_stays_one_message() -> None:
    text = " ".join(["word"] * 120)  # 599 characters: 4 joined GSM-7 segments
    assert count_segments(text).segments == 4
    assert split_message(text) == [text]


def test_long_english_is_split_at_sentences_never_mid_word() -> None:
    sentence = "We use what you tell us to make services better for everyone. "
    text = (sentence * 30).strip()  # 1,889 characters
    parts = split_message(text, max_segments=2, max_parts=10)
    assert len(parts) > 1
    for part in parts:
        assert count_segments(part).segments <= 2
        assert count_segments(part).encoding == GSM7
        assert part.endswith("better for everyone.")  # cut after a sentence
    assert _words(" ".join(parts)) == _words(text)


def test_numbered_options_are_split_between_lines() -> None:
    text = render("ask_barriers", language="ro", channel="twilio_sms")["text"]
    assert count_segments(text).segments > 4  # Romanian diacritics: UCS-2
    parts = split_message(text)
    assert 1 < len(parts) <= sms.DEFAULT_MAX_PARTS
    lines = text.split("\n")
    assert [line for part in parts for line in part.split("\n")] == lines
    assert all(count_segments(part).segments <= 4 for part in parts)


@pytest.mark.parametrize("language", available_languages())
def test_no_message_loses_a_word_with_the_default_limits(language: str) -> None:
    """Every message of every language arrives whole: only splitting, never an ellipsis."""
    params = {"receipt": "PV-ABC234", "language_name": "Polski"}
    for key in catalogue("en").messages:
        text = render(key, language=language, channel="twilio_sms", params=params)["text"]
        parts = split_message(text)
        assert " ".join(parts).split() == text.split(), key  # every word, in order
        assert all(count_segments(part).segments <= sms.DEFAULT_MAX_SEGMENTS for part in parts)


def test_too_long_is_cut_at_a_word_with_an_ellipsis() -> None:
    text = " ".join(f"word{n}" for n in range(600))
    parts = split_message(text, max_segments=4, max_parts=2)
    assert len(parts) == 2
    assert parts[-1].endswith("...")  # GSM-7 ellipsis: "…" would turn it into UCS-2
    assert count_segments(parts[-1]).encoding == GSM7
    assert all(count_segments(part).segments <= 4 for part in parts)
    assert set(_words(" ".join(parts))) <= set(text.split())  # whole words only


def test_one_segment_reply_keeps_the_lead_rule() -> None:
    """max_parts=1: at most N segments per reply, then an ellipsis."""
    text = render("ask_barriers", language="ur", channel="twilio_sms")["text"]
    [part] = split_message(text, max_segments=4, max_parts=1)
    assert count_segments(part).segments <= 4
    assert part.endswith("…") and count_segments(part).encoding == UCS2
    assert part[:-1].rstrip() in text


def test_emoji_and_urdu_are_split_within_ucs2_limits() -> None:
    text = ("بہت اچھی دیکھ بھال 😀👍🏽 " * 40).strip()
    parts = split_message(text, max_segments=1, max_parts=30)
    assert len(parts) > 5
    for part in parts:
        assert count_segments(part).segments == 1 and count_segments(part).units <= 70
        assert not re.search(r"[\ud800-\udfff]", part)  # no broken surrogate
    assert " ".join(parts).split() == text.split()


def test_a_word_longer_than_a_message_is_the_only_forced_cut() -> None:
    url = "https://example.nhs.uk/" + "a" * 400
    parts = split_message(f"See {url} now", max_segments=1, max_parts=10)
    assert all(count_segments(p).segments == 1 for p in parts)
    assert "".join(parts).replace(" ", "") == f"See{url}now"


def test_forced_cut_keeps_joined_emoji_together() -> None:
    family = "👨\u200d👩\u200d👧"
    parts = split_message(family * 30, max_segments=1, max_parts=10)
    assert "".join(parts) == family * 30
    assert all(not p.startswith("\u200d") and not p.endswith("\u200d") for p in parts)


def test_whatsapp_counts_characters() -> None:
    text = ("Dziękujemy za opinię. " * 150).strip()
    parts = split_whatsapp(text)
    assert all(len(part) <= sms.WHATSAPP_MAX_CHARS for part in parts) and len(parts) == 3
    assert split_whatsapp("Krótko.") == ["Krótko."]


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        split_message("x", max_segments=0)


# -- keywords ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop. ", "StopAll", "stop all",
                                  "UNSUBSCRIBE", "cancel", "End", "QUIT", "optout", "REVOKE!"])
def test_opt_out_words(text: str) -> None:
    assert keyword(text) == sms.STOP
    assert keyword(text, stopped=True) == sms.STOP


@pytest.mark.parametrize("text", ["stop please", "don't stop", "stopping", "the end is near",
                                  "1", "", "quit smoking"])
def test_not_opt_out(text: str) -> None:
    assert keyword(text) != sms.STOP


def test_opt_in_and_help_words() -> None:
    assert keyword("START") == keyword("unstop") == sms.START
    assert keyword("yes") is None  # an answer, unless the sender had opted out
    assert keyword("Yes", stopped=True) == sms.START
    assert keyword("HELP") == keyword("info") == keyword("help?") == sms.HELP
    assert keyword("help me please") is None
    assert keyword("Audio on") == sms.AUDIO_ON and keyword("AUDIO OFF") == sms.AUDIO_OFF
    assert keyword("audio") is None  # an option label on the communication question


# -- bounded memory ----------------------------------------------------------------------


def test_bounded_memory_forgets_the_oldest_and_the_stale() -> None:
    now = [0.0]
    memory: sms.Bounded[str, int] = sms.Bounded(2, ttl_seconds=10, clock=lambda: now[0])
    memory.put("a", 1)
    memory.put("b", 2)
    memory.put("c", 3)
    assert memory.get("a") is None and len(memory) == 2
    assert memory.add_if_new("b", 9) is False and memory.get("b") == 2
    now[0] = 11
    assert "b" not in memory and memory.add_if_new("b", 9) is True
    assert memory.pop("b") == 9 and memory.pop("b") is None


# -- sender keys -------------------------------------------------------------------------


def test_sender_key_is_a_keyed_hash_per_channel() -> None:
    keys = SenderKeys(SECRET)
    sms_key = keys.key("twilio_sms", "+447700900123")
    assert re.fullmatch(r"sms:[0-9a-f]{64}", sms_key)
    assert keys.key("twilio_sms", " +44 7700 900123") == sms_key
    assert keys.key("twilio_whatsapp", "whatsapp:+447700900123").startswith("whatsapp:")
    assert keys.key("twilio_whatsapp", "whatsapp:+447700900123")[9:] != sms_key[4:]
    assert SenderKeys(SECRET + "other").key("twilio_sms", "+447700900123") != sms_key
    assert "7700900123" not in sms_key
    assert SECRET not in repr(keys)


def test_sender_key_needs_a_real_secret() -> None:
    with pytest.raises(SenderKeyError, match=SECRET_ENV):
        secret_from_env({})
    with pytest.raises(SenderKeyError, match="too short"):
        secret_from_env({SECRET_ENV: "short"})
    with pytest.raises(SenderKeyError):
        SenderKeys("short")
    assert SenderKeys.from_env({SECRET_ENV: SECRET}).key("twilio_sms", "+1") == SenderKeys(
        SECRET).key("twilio_sms", "+1")


def test_core_modules_do_not_import_rasa() -> None:
    code = ("import sys, bot.sms, bot.sender_key; "
            "assert not [m for m in sys.modules if m.split('.')[0] in ('rasa', 'rasa_sdk')]")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
