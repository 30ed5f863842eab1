"""Each of our languages, end to end through the real servers, and noticing them offline.

Server tests (marked ``servers``) share one Rasa server and bot server (tests/conftest.py)
and send minimal answers (numbers and the language's own skip word) to keep them fast.
Every word they send or expect comes from ``languages/<code>.yml`` or ``data/nlu/<code>.yml``.
"""

from __future__ import annotations

import re

import pytest
import yaml

from bot.catalogue import available_languages, catalogue, normalise_words
from bot.language_id import identify
from bot.renderer import render
from bot.safety.data import load_examples, train_part
from bot.safety.detector import detector, phrase_hit
from bot.safety.kinds import REVIEWED_BY_DEFAULT, RISK_KINDS
from tests.conftest import ROOT, Patient, Servers
from tests.test_conversations import new_response, responses

servers_test = pytest.mark.servers
LANGUAGES = available_languages()
RECEIPT = re.compile(r"PV-[23456789A-Z]{6}")
# Messages whose sentences identify() must place (unit test below): long and short ones.
IDENTIFY_KEYS = ("welcome", "ask_about_you", "ask_barriers", "ask_improve",
                 "withdraw_not_found")


def said(code: str, key: str, **params: str) -> str:
    """What the bot should say for ``key`` in ``code`` (the message with any hint)."""
    return render(key, language=code, channel="rest", params=params)["text"]


def nlu_examples(code: str, intent: str) -> list[str]:
    data = yaml.safe_load((ROOT / "data" / "nlu" / f"{code}.yml").read_text(encoding="utf-8"))
    return [line.strip()[2:] for block in data["nlu"] if block.get("intent") == intent
            for line in block["examples"].splitlines() if line.strip()]


def a_comment_in(code: str) -> str:
    """The longest feedback example in the language's NLU data that reads as that language
    and names no danger or complaint word (so the reply is just the next question)."""
    words = catalogue(code)
    fitting = [text for text in nlu_examples(code, "inform")
               if identify(text) == code and not phrase_hit(text)
               and not any(w in normalise_words(text) for w in words.complaint_words)]
    return max(fitting, key=len)


def own_word(code: str, command: str) -> str:
    """The language's first word for ``command`` that English does not also use."""
    english = {w for ws in catalogue("en").commands.values() for w in ws}
    words = catalogue(code).commands[command]
    return next((w for w in words if w not in english), words[0])


def choose_language(patient: Patient, code: str) -> None:
    menu = patient.say("hello")
    assert [b["title"] for b in menu[0]["buttons"]] == [catalogue(c).name for c in LANGUAGES]
    welcome = patient.says_and_hears(str(LANGUAGES.index(code) + 1))
    assert welcome == said(code, "welcome")


def step(patient: Patient, code: str, text: str, key: str) -> list[dict]:
    """Send ``text``; the bot's last message must be ``key`` in ``code``."""
    replies = patient.say(text)
    assert replies and replies[-1]["text"] == said(code, key), (code, text, key)
    assert all(r.get("lang") == code for r in replies if r.get("lang")), (code, key)
    return replies


@servers_test
@pytest.mark.parametrize("code", LANGUAGES)
def test_a_whole_visit_in_each_language(servers: Servers, patient: Patient, code: str) -> None:
    """From the menu to the receipt: every question of the survey, in the language."""
    before = responses(servers)
    skip = own_word(code, "skip")
    choose_language(patient, code)
    for text, key in [
        ("1", "ask_respondent"), ("1", "ask_service"), ("1", "ask_rating"),
        ("1", "ask_rating_reason"), (a_comment_in(code), "ask_barriers"),
        ("1", "ask_barriers_more"), (skip, "ask_improve"), (skip, "ask_about_you"),
        ("1", "ask_age_band"), ("2", "ask_ethnic_group"), ("1", "ask_ethnic_white"),
        ("1", "ask_religion"), (skip, "ask_sexual_orientation"),
        (skip, "ask_gender_identity"), ("1", "ask_long_term_condition"),
        ("1", "ask_condition_impact"), (skip, "ask_communication_needs"),
        (skip, "ask_housing"), ("1", "ask_involvement"),
    ]:
        step(patient, code, text, key)
    ending = patient.say("2")  # no thanks to the involvement team
    receipt = RECEIPT.search(ending[0]["text"]).group(0)
    assert [m["text"] for m in ending] == [said(code, "thanks", receipt=receipt),
                                          said(code, "signpost_end")]
    stored = new_response(servers, before)
    assert stored["language"] == code and stored["status"] == "complete"
    answers = stored["answers"]
    assert set(answers) == {"respondent", "service", "rating", "rating_reason", "barriers",
                            "about_you", "age_band", "ethnic_group", "ethnic_white",
                            "gender_identity", "long_term_condition", "housing",
                            "involvement"}  # the skipped ones are not stored
    assert all(a["language"] == code for a in answers.values() if a.get("language"))
    reason = answers["rating_reason"]
    assert reason["language"] == code and reason["text"]
    assert reason["translation_state"] == ("not_needed" if code == "en" else "pending")


@servers_test
@pytest.mark.parametrize("code", LANGUAGES)
def test_own_words_change_language_and_stop_keeping_the_answers(
    servers: Servers, patient: Patient, code: str
) -> None:
    """The language's own "language" word opens the menu; the answers stay; then the next
    language's own "stop" word ends the visit, answers kept."""
    before = responses(servers)
    other = LANGUAGES[(LANGUAGES.index(code) + 1) % len(LANGUAGES)]
    choose_language(patient, code)
    step(patient, code, "1", "ask_respondent")
    step(patient, code, "2", "ask_service")
    replies = patient.say(own_word(code, "change_language"))
    assert [m["text"] for m in replies] == [said(code, "ask_language")]
    replies = patient.say(str(LANGUAGES.index(other) + 1))
    assert [m["text"] for m in replies] == [said(other, "language_changed"),
                                           said(other, "ask_service")]
    step(patient, other, own_word(other, "stop"), "ask_confirm_stop")
    ending = patient.says_and_hears("1")
    assert ending.startswith(said(other, "stopped_kept")) and RECEIPT.search(ending)
    stored = new_response(servers, before)
    assert stored["language"] == other and stored["status"] == "stopped"
    assert stored["answers"]["respondent"]["choices"] in ('["helper"]', ["helper"])


def danger_examples(code: str) -> dict[str, list[str]]:
    """Two training examples of each kind of risk in the language (data/safety/) that the
    detector is sure of, kind and all: this test is about the path through the servers;
    how often the detector is right is `make safety-report`'s business."""
    found: dict[str, list[str]] = {}
    for example in train_part(load_examples()):
        if example.language != code or not example.danger or identify(example.text) not in (
                None, code):
            continue
        risk = detector().assess(example.text)
        if risk.urgent and risk.kind == example.label:
            found.setdefault(example.label, []).append(example.text)
    return {kind: texts[:2] for kind, texts in found.items()}


def a_look_alike(code: str) -> str:
    """A written look-alike the detector does not flag, in the language."""
    return next(e.text for e in train_part(load_examples())
                if e.language == code and not e.danger and len(e.text) > 30
                and identify(e.text) in (None, code) and not detector().assess(e.text).danger)


def hears_the_help(patient: Patient, code: str, text: str, kind: str, question: str) -> None:
    """The help of the kind, in the language; then "carry on" asks the question again."""
    replies = patient.say(text)
    follow = "safety_kept_for_review" if kind in REVIEWED_BY_DEFAULT else "safety_not_kept"
    assert [m["text"] for m in replies] == [
        said(code, "safety_intro"), said(code, f"safety_{kind}"), said(code, follow),
        said(code, "ask_safety_check")], (code, kind, text)
    step(patient, code, "1", question)


@servers_test
@pytest.mark.parametrize("code", LANGUAGES)
def test_every_kind_of_danger_in_each_language_gets_its_help(
    servers: Servers, patient: Patient, code: str
) -> None:
    """Each kind of risk, at a choice question and at a free-text question: the help of that
    kind in the language, carry on, the question again; a look-alike is just an answer;
    stop after the help keeps the answers."""
    before = responses(servers)
    examples = danger_examples(code)
    assert set(examples) == set(RISK_KINDS), code
    choose_language(patient, code)
    step(patient, code, "1", "ask_respondent")
    for kind, texts in examples.items():
        hears_the_help(patient, code, texts[0], kind, "ask_respondent")
    for text, key in [("1", "ask_service"), ("1", "ask_rating"), ("1", "ask_rating_reason")]:
        step(patient, code, text, key)
    for kind, texts in examples.items():
        hears_the_help(patient, code, texts[-1], kind, "ask_rating_reason")
    replies = step(patient, code, a_look_alike(code), "ask_barriers")
    assert said(code, "ask_safety_check") not in [m["text"] for m in replies]
    patient.say(examples["suicide_self_harm"][0])
    ending = patient.say("2")  # stop for now
    assert ending[0]["text"] == said(code, "stopped_kept") and RECEIPT.search(ending[1]["text"])
    stored = new_response(servers, before)
    assert stored["status"] == "stopped" and "rating_reason" in stored["answers"]


@servers_test
def test_writing_in_another_language_and_saying_yes_carries_on_in_it(
    servers: Servers, patient: Patient
) -> None:
    before = responses(servers)
    choose_language(patient, "en")
    for text, key in [("1", "ask_respondent"), ("1", "ask_service"), ("1", "ask_rating"),
                      ("1", "ask_rating_reason")]:
        step(patient, "en", text, key)
    offer = patient.say(a_comment_in("pl"))
    assert [m["text"] for m in offer] == [said("pl", "offer_language",
                                               language_name=catalogue("pl").name)]
    yes = patient.say("1")
    assert [m["text"] for m in yes] == [said("pl", "language_changed"),
                                        said("pl", "ask_barriers")]
    stored = new_response(servers, before)
    assert stored["language"] == "pl"
    assert stored["answers"]["rating_reason"]["language"] == "pl"


# -- noticing the language, offline ------------------------------------------------------


def sentences(code: str) -> list[str]:
    """The sentences of IDENTIFY_KEYS' messages, placeholders out, of 3 words or more."""
    found = []
    for key in IDENTIFY_KEYS:
        text = re.sub(r"\{[a-z_]+\}", "", catalogue(code).messages[key])
        found += [s for s in re.split(r"(?<=[.?!؟۔।])\s+|\n", text) if len(s.split()) >= 3]
    return found


@pytest.mark.parametrize("code", LANGUAGES)
def test_identify_each_language_from_its_messages(code: str) -> None:
    """Whole messages and single sentences of them come out as the language."""
    for key in IDENTIFY_KEYS:
        assert identify(catalogue(code).messages[key]) == code, key
    placed = [identify(sentence) for sentence in sentences(code)]
    assert all(found in (code, None) for found in placed), placed  # never another language
    assert placed.count(code) >= 0.8 * len(placed), placed


def test_identify_urdu_and_arabic_apart_by_their_letters() -> None:
    assert identify("شکریہ") == "ur"  # Urdu "thank you": ہ, one word is enough
    assert identify("شكرا جزيلا") == "ar"  # Arabic "thank you": ك ي
    assert identify("ہاں") == "ur"


def test_identify_says_nothing_when_unsure() -> None:
    assert identify("hola") is None  # too short for langdetect
    assert identify("OK") is None
    assert identify("1 3") is None
    assert identify("डॉक्टर बहुत अच्छे थे लेकिन इंतजार लंबा था") is None  # Hindi: not ours
    assert identify("پزشک خیلی مهربان بود ولی انتظار طولانی بود") is None  # Persian
    assert identify("Le médecin était très gentil mais l'attente était trop longue") is None
