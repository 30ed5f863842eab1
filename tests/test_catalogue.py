"""The words patients read: every key used by the code exists and reads plainly."""

from __future__ import annotations

import re

import pytest

from bot.catalogue import (
    available_languages,
    catalogue,
    fill_placeholders,
    load_raw,
    normalise_words,
    placeholders,
)
from bot.questions import QUESTIONS
from bot.settings import trust_settings

CODE_KEYS = {
    "welcome", "hint_multi", "hint_text", "involvement_contact", "thanks", "signpost_end",
    "signpost_danger", "pals_info", "help", "not_understood", "back_at_start", "cannot_skip",
    "answer_not_saved", "stopped_kept", "stopped_deleted", "stopped_nothing_saved",
    "started_again", "withdrawn", "withdraw_not_found", "withdraw_how", "finished",
}
KNOWN_PLACEHOLDERS = {"trust_name", "pals_phone", "pals_email", "engagement_phone", "language_name",
                      "contact_days",
                      "engagement_email", "receipt"}


def test_every_question_and_message_the_code_uses_has_words() -> None:
    english = catalogue("en")
    wanted = CODE_KEYS | {q.response_key for q in QUESTIONS.values() if q.key != "welcome"}
    assert wanted <= set(english.messages)
    choices = {v for q in QUESTIONS.values() for v in q.options} | {"service_other", "skip"}
    assert choices <= set(english.choices)


@pytest.mark.parametrize("code", available_languages())
def test_each_language_has_the_same_keys_and_placeholders(code: str) -> None:
    english, other = load_raw("en"), load_raw(code)
    assert other["meta"]["code"] == code
    assert other["meta"]["direction"] in ("ltr", "rtl")
    assert isinstance(other["meta"]["reviewed"], bool)
    for section in ("messages", "choices"):
        assert set(other[section]) == set(english[section]), section
        for key, text in other[section].items():
            assert str(text).strip(), f"{code} {section}.{key} is empty"
            assert placeholders(str(text)) == placeholders(str(english[section][key])), key
    used = {p for text in other["messages"].values() for p in placeholders(text)}
    assert used <= KNOWN_PLACEHOLDERS


def test_plain_english_short_sentences() -> None:
    """NHS content guidance: sentences of 20 words or fewer."""
    for key, text in catalogue("en").messages.items():
        for sentence in re.split(r"(?<=[.?!])\s+|\n", text):
            assert len(sentence.split()) <= 20, f"{key}: {sentence}"


def test_the_fft_question_is_word_for_word() -> None:
    english = catalogue("en")
    assert english.messages["ask_rating"] == "Overall, how was your experience of our service?"
    labels = [english.choice(v) for v in QUESTIONS["rating"].options]
    assert labels == ["Very good", "Good", "Neither good nor poor", "Poor", "Very poor",
                      "Don't know"]


def test_signposting_has_every_number() -> None:
    text = catalogue("en").message("signpost_danger")
    for number in ("999", "111", "116 123", "85258", "0800 1111"):
        assert number in text


def test_unknown_language_falls_back_to_english() -> None:
    assert catalogue("xx").code == "en"
    assert catalogue("../../etc/passwd").code == "en"


def test_placeholders_fill_and_unknown_ones_stay() -> None:
    assert fill_placeholders("{a} and {b}", {"a": "1"}) == "1 and {b}"


def test_normalise_words() -> None:
    assert normalise_words("  Don't   KNOW! ") == "dont know"
    assert normalise_words("Ｖｅｒｙ good") == "very good"


def test_trust_settings_example_is_valid() -> None:
    settings = trust_settings()
    assert settings.trust_name("en") and settings.service_keys()
    assert settings.trust_name("cy") == settings.trust_name("en")


@pytest.mark.parametrize("code", available_languages())
def test_easy_read_wording_replaces_real_messages_only(code: str) -> None:
    raw = load_raw(code)
    for key, text in (raw.get("easy_read") or {}).items():
        assert key in raw["messages"], key
        assert placeholders(str(text)) == placeholders(str(raw["messages"][key])), key


def test_easy_read_is_shorter() -> None:
    english = catalogue("en")
    for key, text in english.easy_read.items():
        assert len(text.split()) < len(english.messages[key].split()), key
