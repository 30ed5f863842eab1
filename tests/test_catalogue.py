"""The words patients read: every key used by the code exists, in every language, plainly.

What every ``languages/<code>.yml`` must have, section by section (README "Languages"
says the same):

- the sections of en.yml (easy_read may be left out);
- EXACT keys, en.yml's, one entry per thing the code shows or reads: meta, messages,
  choices, choice_words, commands, widget;
- an OPTIONAL override, per key: easy_read. A key a language lacks is read from its own
  messages; a key it has must be one of en.yml's easy_read keys, with the placeholders
  of the message it stands in for;
- OPEN lists of the language's own words, any number of them, at least one: and_words,
  danger_words, complaint_words, each list in choice_words and commands, and
  number_words (its words are open; the numbers they stand for are en.yml's);
- in messages, choices, widget and easy_read: en.yml's placeholders and numbers;
- no empty string anywhere; null only for the meta keys in NULLABLE_META.

Adding a language is one file: a test makes ``xx.yml`` in a temporary folder and finds
it in the menu, the danger words, language detection and the voices.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from tools import require_tool

import bot.catalogue
from bot import speech
from bot.catalogue import (
    all_danger_words,
    available_languages,
    catalogue,
    fill_placeholders,
    languages_by_script,
    load_raw,
    normalise_words,
    placeholders,
    use_languages_dir,
)
from bot.language_id import identify, main_script, script_of
from bot.questions import QUESTIONS
from bot.safety.detector import phrase_hit
from bot.safety.kinds import RISK_KINDS
from bot.settings import trust_settings

ROOT = Path(__file__).resolve().parent.parent

CODE_KEYS = {
    "welcome", "hint_multi", "hint_text", "involvement_contact", "thanks", "signpost_end",
    "signpost_danger", "pals_info", "help", "not_understood", "back_at_start", "cannot_skip",
    "answer_not_saved", "stopped_kept", "stopped_deleted", "stopped_nothing_saved",
    "started_again", "withdrawn", "withdraw_not_found", "withdraw_how", "finished",
    "safety_intro", "safety_kept_for_review", "safety_not_kept",
    *(f"safety_{kind}" for kind in RISK_KINDS),
}
KNOWN_PLACEHOLDERS = {"trust_name", "pals_phone", "pals_email", "engagement_phone", "language_name",
                      "contact_days", "safeguarding_phone",
                      "engagement_email", "receipt"}


def test_every_question_and_message_the_code_uses_has_words() -> None:
    english = catalogue("en")
    wanted = CODE_KEYS | {key for q in QUESTIONS.values() if q.key != "welcome"
                          for key in (q.response_key, q.helper_response_key)}
    assert wanted <= set(english.messages)
    choices = {v for q in QUESTIONS.values() for v in q.options} | {"service_other", "skip"}
    assert choices <= set(english.choices)


# The sections, as the module docstring describes them.
EXACT_SECTIONS = ("meta", "messages", "choices", "choice_words", "commands", "widget")
OPTIONAL_SECTIONS = ("easy_read",)
OPEN_LISTS = ("and_words", "danger_words", "complaint_words")
TEXT_SECTIONS = ("messages", "choices", "widget", "easy_read")  # placeholders and numbers
NULLABLE_META = {"distinctive_letters", "gtts_voice", "espeak_voice"}
# Numbers a patient may need to dial or text, written with these digits in every language.
SIGNPOST_NUMBERS = {"signpost_danger": ("999", "111", "116 123", "85258", "0800 1111"),
                    "signpost_end": ("111", "999"),
                    # the help that fits each kind of risk (bot.safety)
                    "safety_suicide_self_harm": ("999", "55", "116 123", "85258", "111"),
                    "safety_overdose_poisoning": ("999", "55", "111"),
                    "safety_medical_emergency": ("999", "55", "111"),
                    "safety_domestic_abuse": ("999", "55", "0808 2000 247", "020 7008 0151"),
                    "safety_child_at_risk": ("999", "0808 800 5000", "0800 1111"),
                    "safety_adult_at_risk": ("999",),
                    "safety_threat_to_others": ("999", "55", "111", "116 123")}
_NUMBER = re.compile(r"\d+")


def numbers(text: str) -> list[int]:
    """The numbers in a text, in any script's digits (৫ and ٥ are 5), placeholders aside."""
    return sorted(int(n) for n in _NUMBER.findall(re.sub(r"\{[a-z_]+\}", " ", str(text))))


def empty_strings(value: object, where: str = "") -> list[str]:
    """Paths of every blank string, and every empty list or mapping, inside ``value``."""
    if isinstance(value, str):
        return [] if value.strip() else [where]
    if isinstance(value, dict):
        found = [] if value else [where]
        return found + [p for k, v in value.items() for p in empty_strings(v, f"{where}.{k}")]
    if isinstance(value, list):
        found = [] if value else [where]
        return found + [p for i, v in enumerate(value) for p in empty_strings(v, f"{where}[{i}]")]
    return []


@pytest.mark.parametrize("code", available_languages())
def test_each_language_has_the_sections_and_keys_of_english(code: str) -> None:
    """EXACT_SECTIONS have en.yml's keys; easy_read's keys are some of en.yml's."""
    english, other = load_raw("en"), load_raw(code)
    assert set(english) - set(OPTIONAL_SECTIONS) <= set(other) <= set(english)
    for section in EXACT_SECTIONS:
        assert set(other[section]) == set(english[section]), section
    for key in other.get("easy_read") or {}:
        assert key in english["easy_read"] and key in english["messages"], key


@pytest.mark.parametrize("code", available_languages())
def test_each_language_has_the_same_placeholders_and_numbers(code: str) -> None:
    english, other = load_raw("en"), load_raw(code)
    for section in TEXT_SECTIONS:
        for key, text in (other.get(section) or {}).items():
            model = english[section][key]
            assert placeholders(str(text)) == placeholders(str(model)), f"{section}.{key}"
            assert numbers(text) == numbers(model), f"{section}.{key}"
    used = {p for text in other["messages"].values() for p in placeholders(text)}
    assert used <= KNOWN_PLACEHOLDERS
    # easy_read stands in for the message of the same key: the same placeholders.
    for key, text in (other.get("easy_read") or {}).items():
        assert placeholders(str(text)) == placeholders(str(other["messages"][key])), key
    for key, wanted in SIGNPOST_NUMBERS.items():
        for number in wanted:
            assert number in other["messages"][key], f"{key} lacks {number}"


@pytest.mark.parametrize("code", available_languages())
def test_each_language_has_no_empty_words(code: str) -> None:
    raw = load_raw(code)
    meta = {k: v for k, v in raw["meta"].items() if not (k in NULLABLE_META and v is None)}
    assert None not in meta.values(), "only " + ", ".join(sorted(NULLABLE_META)) + " may be null"
    assert empty_strings({**raw, "meta": meta}, code) == []
    for section in ("choice_words", "commands"):
        for key, words in raw[section].items():
            assert isinstance(words, list) and words, f"{section}.{key}"
    for section in OPEN_LISTS:
        assert isinstance(raw[section], list) and raw[section], section
    assert set(raw["number_words"].values()) == set(load_raw("en")["number_words"].values())


@pytest.mark.parametrize("code", available_languages())
def test_help_lists_the_commands_of_its_own_language_in_order(code: str) -> None:
    """The help message's list ("help, repeat, ...") names each command in the language."""
    def listed(language: str) -> list[str]:
        words = catalogue(language)
        line = words.messages["help"].splitlines()[1].replace("،", ",")
        items = [normalise_words(item) for item in line.split(",")]
        by_word = {w: command for command, ws in words.commands.items() for w in ws}
        assert all(item in by_word for item in items), (language, items)
        return [by_word[item] for item in items]

    assert listed(code) == listed("en")


@pytest.mark.parametrize("code", available_languages())
def test_meta_describes_the_language(code: str) -> None:
    raw, words = load_raw(code), catalogue(code)
    meta = raw["meta"]
    assert meta["code"] == code
    assert meta["direction"] in ("ltr", "rtl")
    assert isinstance(meta["reviewed"], bool) and isinstance(meta["order"], int)
    # script: the script of the language's own name and of its messages.
    assert main_script(words.name) == words.script, meta["script"]
    assert main_script(words.messages["welcome"]) == words.script
    assert all(script_of(letter) == words.script for letter in words.distinctive_letters)
    # distinctive letters: not written by the other languages of the same script.
    for other in languages_by_script()[words.script]:
        if other != code:
            text = "".join(load_raw(other)["messages"].values())
            assert not set(words.distinctive_letters) & set(text), other
    if words.gtts_voice is not None:
        from gtts.lang import tts_langs

        assert words.gtts_voice in tts_langs(), words.gtts_voice


def test_espeak_ng_has_every_offline_voice_named() -> None:
    binary = require_tool("espeak-ng")
    listing = subprocess.run([binary, "--voices"], capture_output=True, text=True, check=True)
    voices = {line.split()[1] for line in listing.stdout.splitlines()[1:] if line.split()}
    named = {catalogue(code).espeak_voice for code in available_languages()} - {None}
    assert named <= voices


def test_menu_order_is_unique() -> None:
    orders = [load_raw(code)["meta"]["order"] for code in available_languages()]
    assert len(orders) == len(set(orders)) and orders == sorted(orders)


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


def test_easy_read_is_shorter() -> None:
    english = catalogue("en")
    for key, text in english.easy_read.items():
        assert len(text.split()) < len(english.messages[key].split()), key


# -- adding a language is one file -----------------------------------------------------

EXTRA_META = {"code": "xx", "name": "परीक्षा", "english_name": "Test language",
              "direction": "ltr", "reviewed": False, "order": 14, "script": "Devanagari",
              "distinctive_letters": None, "gtts_voice": "hi", "espeak_voice": "hi"}
EXTRA_WORDS = {"change_language": "भाषा बदलें", "danger": "परीक्षा खतरा"}


@contextmanager
def extra_language(folder: Path, **meta: object) -> Iterator[dict]:
    """Our language files copied to ``folder``, plus ``xx.yml``: a copy of en.yml with its
    own meta (``EXTRA_META`` updated by ``meta``), a command word and a danger word. The
    catalogue reads that folder until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in bot.catalogue.LANGUAGES_DIR.glob("*.yml"):
        shutil.copy(path, folder / path.name)
    raw = load_raw("en")
    raw["meta"] = {**EXTRA_META, **meta}
    raw["messages"]["language_changed"] = "OK. We will carry on in the test language."
    raw["commands"]["change_language"].append(EXTRA_WORDS["change_language"])
    raw["danger_words"].append(EXTRA_WORDS["danger"])
    (folder / "xx.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    previous = use_languages_dir(folder)
    try:
        yield raw
    finally:
        use_languages_dir(previous)


async def test_a_new_language_file_is_picked_up_without_code(tmp_path: Path) -> None:
    """Menu, catalogue, danger words, detection and voices all come from the new file."""
    shipped = available_languages()
    with extra_language(tmp_path / "languages"):
        assert available_languages() == [*shipped, "xx"]
        words = catalogue("xx")
        assert (words.name, words.script, words.code) == ("परीक्षा", "DEVANAGARI", "xx")
        assert normalise_words(EXTRA_WORDS["danger"]) in all_danger_words()
        assert phrase_hit(f"मुझे {EXTRA_WORDS['danger']} है")
        # A script only the new language uses is enough to notice it.
        assert identify("डॉक्टर बहुत अच्छे थे लेकिन इंतजार लंबा था") == "xx"
        assert identify(catalogue("pl").messages["ask_barriers"]) == "pl"
        assert speech.voices("xx") == ("hi", "hi")
    with extra_language(tmp_path / "no-voice", gtts_voice=None, espeak_voice=None):
        assert speech.voices("xx") == (None, None)
        said = await speech.speak("Hello", "xx", online=True)
        assert said.path is None and said.reason == "no voice for xx"
    # Back to the shipped files.
    assert available_languages() == shipped
    assert identify("डॉक्टर बहुत अच्छे थे लेकिन इंतजार लंबा था") is None


def test_no_module_lists_our_language_codes() -> None:
    """What each language is (script, voices, words) lives in its file, not in code."""
    codes = set(available_languages()) - {"en"}  # English is the default, named once
    for folder in ("bot", "actions"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            named = {node.value for node in ast.walk(tree)
                     if isinstance(node, ast.Constant) and node.value in codes}
            assert len(named) < 3, f"{path.relative_to(ROOT)} names {sorted(named)}"
