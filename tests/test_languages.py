"""A whole visit, and a danger message, in each of our languages, through the real servers."""

from __future__ import annotations

import re

import pytest
import yaml

from bot.catalogue import available_languages, catalogue
from bot.renderer import render
from tests.conftest import ROOT, Patient, Servers
from tests.test_conversations import new_response, responses

pytestmark = pytest.mark.servers
LANGUAGES = available_languages()
RECEIPT = re.compile(r"PV-[23456789A-Z]{6}")


def said(code: str, key: str, **params: str) -> str:
    """What the bot should say for ``key`` in ``code`` (text only, before any list)."""
    return render(key, language=code, channel="rest", params=params)["text"]


def a_comment_in(code: str) -> str:
    """The longest free-text feedback example in the language's NLU data."""
    data = yaml.safe_load((ROOT / "data" / "nlu" / f"{code}.yml").read_text(encoding="utf-8"))
    block = next(b for b in data["nlu"] if b.get("intent") == "inform")
    examples = [line.strip()[2:] for line in block["examples"].splitlines() if line.strip()]
    return max(examples, key=len)


def choose_language(patient: Patient, code: str) -> None:
    menu = patient.say("hello")
    assert [b["title"] for b in menu[0]["buttons"]] == [catalogue(c).name for c in LANGUAGES]
    welcome = patient.says_and_hears(str(LANGUAGES.index(code) + 1))
    assert welcome == said(code, "welcome")


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_visit_in_each_language(servers: Servers, patient: Patient, code: str) -> None:
    before = responses(servers)
    choose_language(patient, code)
    assert patient.says_and_hears("1") == said(code, "ask_respondent")
    assert patient.says_and_hears("1") == said(code, "ask_service")
    assert patient.says_and_hears("1") == said(code, "ask_rating")
    assert patient.says_and_hears("1") == said(code, "ask_rating_reason")
    patient.say(a_comment_in(code))
    stop_word = catalogue(code).commands["stop"][0]
    assert patient.says_and_hears(stop_word) == said(code, "ask_confirm_stop")
    ending = patient.says_and_hears("1")
    assert said(code, "stopped_kept") in ending and RECEIPT.search(ending)
    stored = new_response(servers, before)
    assert stored["language"] == code and stored["status"] == "stopped"
    reason = stored["answers"]["rating_reason"]
    assert reason["language"] == code and reason["text"]
    assert reason["translation_state"] == ("not_needed" if code == "en" else "pending")


@pytest.mark.parametrize("code", LANGUAGES)
def test_danger_in_each_language_is_signposted_in_it(
    servers: Servers, patient: Patient, code: str
) -> None:
    choose_language(patient, code)
    patient.say("1")
    danger = catalogue(code).danger_words[0]
    replies = patient.say(danger)
    assert replies[0]["text"] == said(code, "signpost_danger")
    assert "116 123" in replies[0]["text"] and "999" in replies[0]["text"]
    assert replies[-1]["text"] == said(code, "ask_respondent")


def test_changing_language_midway_keeps_the_answers(servers: Servers, patient: Patient) -> None:
    before = responses(servers)
    choose_language(patient, "en")
    patient.say("yes")
    patient.say("1")
    assert patient.says_and_hears("change language") == said("en", "ask_language")
    other = LANGUAGES[1]
    reply = patient.says_and_hears(catalogue(other).name)
    assert reply == "\n".join([said(other, "language_changed"), said(other, "ask_service")])
    stored = new_response(servers, before)
    assert stored["language"] == other and "respondent" in stored["answers"]
