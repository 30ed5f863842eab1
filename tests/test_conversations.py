"""Patients' visits through the real Rasa server and bot server (REST channel), then the store.

Each test reads like a visit: what the patient types, what they should see, and what the
trust's engagement team will find in the store afterwards.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import Patient, Servers, stored_responses

pytestmark = pytest.mark.servers
RECEIPT = re.compile(r"PV-[23456789A-Z]{6}")


def responses(servers: Servers) -> dict[str, dict]:
    return stored_responses(servers.database_url)


def new_response(servers: Servers, before: dict) -> dict:
    fresh = [r for rid, r in responses(servers).items() if rid not in before]
    assert len(fresh) == 1, f"expected one new response, found {len(fresh)}"
    return fresh[0]


def begin(patient: Patient) -> None:
    """Open the chat, choose English, agree, say who is answering, reach the services."""
    assert "Which language" in patient.says_and_hears("hello")
    assert "wants to hear about your care" in patient.says_and_hears("1")
    assert "Who is answering" in patient.says_and_hears("yes")
    assert "Which service" in patient.says_and_hears("1")


def test_a_full_visit_is_stored_anonymised(servers: Servers, patient: Patient) -> None:
    before = responses(servers)
    languages = patient.say("hello")
    assert [b["title"] for b in languages[0]["buttons"]][:3] == ["English", "Cymraeg", "Polski"]
    welcome = patient.click(languages, "English")
    assert "Example NHS Foundation Trust" in welcome[0]["text"]
    assert [b["title"] for b in welcome[0]["buttons"]] == ["Yes, start", "No, not now"]
    asked = patient.click(welcome, "Yes, start")
    assert asked[0]["text"] == "Who is answering these questions?"
    asked = patient.say("1")
    services = patient.click(asked, "Maternity")
    assert services[0]["text"] == "Overall, how was your experience of our service?"
    assert [b["title"] for b in services[0]["buttons"]] == [
        "Very good", "Good", "Neither good nor poor", "Poor", "Very poor", "Don't know"]
    assert "why you gave that answer" in patient.says_and_hears("very good")
    said = "Sister Jones was so kind. Ring me on 07700 900123 or email jo@example.com."
    assert "hard to get care" in patient.says_and_hears(said)
    assert "Tell us more" in patient.says_and_hears("1 3")
    assert "made your experience better" in patient.says_and_hears("The bus comes twice a day")
    assert "questions about you" in patient.says_and_hears("An interpreter who speaks Urdu")
    for answer, next_question in [
        ("yes", "How old are you?"), ("3", "ethnic group"), ("White", "White background"),
        ("Gypsy or Irish Traveller", "religion"), ("prefer not to say", "sexual orientation"),
        ("skip", "gender you identify with"), ("1", "12 months or more"),
        ("yes", "harder to do day-to-day"), ("2", "help to communicate"),
        ("1 2", "Where do you live"), ("no settled home", "plan and change services"),
    ]:
        assert next_question in patient.says_and_hears(answer), answer
    ending = patient.says_and_hears("yes")
    assert "involvement team" in ending and "0300 123 4568" in ending
    assert RECEIPT.search(ending) and "PALS" in ending and "999" in ending

    stored = new_response(servers, before)
    assert stored["status"] == "complete"
    assert (stored["service"], stored["respondent"], stored["channel"]) == (
        "maternity", "patient", "rest")
    answers = stored["answers"]
    assert answers["rating"]["choices"] in ('["very_good"]', ["very_good"])
    reason = answers["rating_reason"]["text"]
    assert "[NAME]" in reason and "[PHONE]" in reason and "[EMAIL]" in reason
    assert "Jones" not in reason and "07700" not in reason and "jo@example.com" not in reason
    assert "travel" in str(answers["barriers"]["choices"])
    assert "language" in str(answers["barriers"]["choices"])
    assert "white_gypsy_traveller" in str(answers["ethnic_white"]["choices"])
    assert "housing_none" in str(answers["housing"]["choices"])
    assert "sexual_orientation" not in answers
    assert all(a["service"] == "maternity" for a in answers.values())


def test_skipping_everything_still_finishes(servers: Servers, patient: Patient) -> None:
    before = responses(servers)
    patient.say("hi")
    patient.say("English")
    patient.say("yes")
    said = ""
    for _ in range(30):
        said = patient.says_and_hears("skip")
        if RECEIPT.search(said):
            break
    assert "Thank you for your feedback" in said
    stored = new_response(servers, before)
    assert stored["status"] == "complete" and stored["answers"] == {}


def test_stop_and_keep(servers: Servers, patient: Patient) -> None:
    before = responses(servers)
    begin(patient)
    patient.say("2")
    asked = patient.says_and_hears("stop")
    assert "keep the answers" in asked
    ending = patient.says_and_hears("keep")
    assert "We have kept your answers" in ending and RECEIPT.search(ending)
    stored = new_response(servers, before)
    assert stored["status"] == "stopped"
    assert set(stored["answers"]) == {"respondent", "service"}
    assert "You have finished" in patient.says_and_hears("very good")


def test_stop_and_delete(servers: Servers, patient: Patient) -> None:
    before = responses(servers)
    begin(patient)
    patient.say("2")
    patient.say("stop")
    assert "We have deleted your answers" in patient.says_and_hears("Delete my answers")
    assert responses(servers).keys() == before.keys()


def test_stop_then_carry_on(servers: Servers, patient: Patient) -> None:
    begin(patient)
    patient.say("stop")
    assert "Which service" in patient.says_and_hears("carry on")


def test_back_changes_the_previous_answer(servers: Servers, patient: Patient) -> None:
    before = responses(servers)
    begin(patient)
    patient.say("1")
    patient.say("poor")
    assert "how was your experience" in patient.says_and_hears("back")
    patient.say("good")
    stored = new_response(servers, before)
    assert "good" in str(stored["answers"]["rating"]["choices"])
    assert "poor" not in str(stored["answers"]["rating"]["choices"])


def test_withdraw_by_receipt_code(servers: Servers, patient: Patient) -> None:
    before = responses(servers)
    begin(patient)
    patient.say("1")
    patient.say("stop")
    receipt = RECEIPT.search(patient.says_and_hears("keep")).group(0)
    assert new_response(servers, before)["status"] == "stopped"
    later = Patient(servers)
    assert "We have deleted the answers" in later.says_and_hears(f"withdraw {receipt.lower()}")
    assert responses(servers).keys() == before.keys()
    assert "could not find" in later.says_and_hears(f"withdraw {receipt}")


def test_danger_in_the_middle_signposts_then_carries_on(
    servers: Servers, patient: Patient
) -> None:
    before = responses(servers)
    begin(patient)
    patient.say("1")
    replies = patient.say("I want to kill myself")
    assert replies[0]["text"].startswith("Thank you for telling us.")
    assert "116 123" in replies[1]["text"] and "999" in replies[1]["text"]
    assert "SHOUT" in replies[1]["text"] and "press 55" in replies[1]["text"]
    assert "cannot contact you" in replies[2]["text"]
    assert [b["title"] for b in replies[-1]["buttons"]] == [
        "Carry on with the questions", "Stop for now"]
    assert patient.says_and_hears("Carry on with the questions") == (
        "Overall, how was your experience of our service?")
    assert "why you gave that answer" in patient.says_and_hears("1")
    assert "very_good" in str(new_response(servers, before)["answers"]["rating"]["choices"])


def test_a_carer_answers_for_someone(servers: Servers, patient: Patient) -> None:
    before = responses(servers)
    patient.say("hello")
    patient.say("1")
    patient.say("yes")
    patient.say("I am helping someone else")
    assert new_response(servers, before)["respondent"] == "helper"


def test_complaint_gets_pals(servers: Servers, patient: Patient) -> None:
    begin(patient)
    said = patient.says_and_hears("I want to make a complaint")
    assert "PALS" in said and "0300 123 4567" in said and "Which service" in said


def test_help_repeat_and_start_again(servers: Servers, patient: Patient) -> None:
    before = responses(servers)
    begin(patient)
    assert "skip, back, stop" in patient.says_and_hears("help")
    assert "Which service" in patient.says_and_hears("repeat")
    said = patient.says_and_hears("start again")
    assert "cleared your answers" in said and "wants to hear about your care" in said
    assert responses(servers).keys() == before.keys()


BAD_INPUT = [
    "",
    "x" * 10_000,
    "😀🙃🏥",
    "שלום, הטיפול היה טוב מאוד",  # right-to-left, and not one of our languages
    '/inform{"rating":"x"}',
    '/inform{"survey":{"current":"involvement","response_id":"0"}}',
    '/choose{"option":"not_a_choice"}',
    '/choose{"option":',
    "/nonexistent_intent",
    "/back",
    "/restart",
    "<script>alert('hi')</script><b>bold</b>",
    "'; DROP TABLE answers; --",
    "\x00\x01\x1b[31mred\x7f",
]


@pytest.mark.parametrize("bad", BAD_INPUT, ids=range(len(BAD_INPUT)))
def test_bad_input_at_a_choice_question(servers: Servers, patient: Patient, bad: str) -> None:
    before = responses(servers)
    begin(patient)
    patient.say("1")
    reply = patient.says_and_hears(bad)
    assert "how was your experience" in reply
    stored = new_response(servers, before)
    assert "rating" not in stored["answers"]
    assert set(stored["answers"]) == {"respondent", "service"}
    assert "why you gave that answer" in patient.says_and_hears("2")


@pytest.mark.parametrize("bad", BAD_INPUT[1:4] + BAD_INPUT[11:], ids=range(6))
def test_bad_input_as_free_text_is_stored_safely(
    servers: Servers, patient: Patient, bad: str
) -> None:
    before = responses(servers)
    begin(patient)
    patient.say("1")
    patient.say("1")
    assert "hard to get care" in patient.says_and_hears(bad)
    stored = new_response(servers, before)["answers"]["rating_reason"]["text"]
    assert "\x00" not in stored and len(stored) <= 5000
    assert stored.strip()


def test_no_phone_number_sender_or_raw_text_in_store_or_logs(servers: Servers) -> None:
    phone_sender = "whatsapp:+447700900456"
    patient = Patient(servers, sender=phone_sender)
    begin(patient)
    patient.say("1")
    patient.say("1")
    patient.say("Call Nurse Bloggs on 07700 900987, my NHS number is 943 476 5919")
    for payload in ('/inform{"note":"Nurse Bloggs 07700 900987"}', "/", '/{"x":"Bloggs"}',
                    "/@0.5Bloggs", "/session_start"):
        patient.say(payload)
    for row in responses(servers).values():
        flat = repr(row)
        assert "7700900456" not in flat and "900987" not in flat and "Bloggs" not in flat
        assert "943 476 5919" not in flat and "9434765919" not in flat
    db_bytes = open(servers.database_url.removeprefix("sqlite:///"), "rb").read()
    for secret in (b"7700900456", b"900987", b"Bloggs", b"9434765919", b"943 476 5919"):
        assert secret not in db_bytes
    logs = servers.log_text()
    for secret in ("7700900456", "900987", "Bloggs", "476 5919", "Call Nurse"):
        assert secret not in logs
    tracker = json.dumps(servers.tracker(phone_sender), ensure_ascii=False)
    for secret in ("900987", "Bloggs", "476 5919", "Call Nurse"):
        assert secret not in tracker


def test_a_typed_session_start_does_not_lose_the_place(servers: Servers, patient: Patient) -> None:
    before = responses(servers)
    begin(patient)
    patient.say("1")
    patient.say("/session_start")
    assert "why you gave that answer" in patient.says_and_hears("2")
    assert set(new_response(servers, before)["answers"]) == {"respondent", "service", "rating"}


def test_writing_in_one_of_our_languages_gets_an_offer_in_it(
    servers: Servers, patient: Patient
) -> None:
    begin(patient)
    patient.say("1")
    offer = patient.say("مرحبا، كانت الرعاية جيدة جدا والممرضات لطيفات")
    assert "العربية" in offer[0]["text"]
    assert "how was your experience" in patient.says_and_hears("2")
