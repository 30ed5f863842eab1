"""What Rasa's NLG endpoint sends back for a response key, per channel."""

from __future__ import annotations

import json

from bot.renderer import choose_payload, render, render_nlg_request


def test_question_on_the_web_has_buttons_with_choose_payloads() -> None:
    reply = render("ask_rating", language="en", channel="rest")
    assert reply["text"] == "Overall, how was your experience of our service?"
    assert reply["buttons"][0] == {"title": "Very good", "payload": '/choose{"option":"very_good"}'}
    assert len(reply["buttons"]) == 6


def test_question_on_sms_is_a_numbered_list() -> None:
    reply = render("ask_rating", language="en", channel="twilio_sms")
    assert reply["buttons"] == []
    assert reply["text"].splitlines()[1:] == [
        "1 Very good", "2 Good", "3 Neither good nor poor", "4 Poor", "5 Very poor",
        "6 Don't know"]


def test_service_choices_come_from_the_trust_settings() -> None:
    titles = [b["title"] for b in render("ask_service", language="en", channel="rest")["buttons"]]
    assert titles[0] == "A&E (emergency department)" and titles[-1] == "Somewhere else"


def test_multi_and_text_questions_carry_their_hint() -> None:
    assert "more than one" in render("ask_barriers", language="en", channel="rest")["text"]
    reply = render("ask_improve", language="en", channel="rest")
    assert "skip" in reply["text"] and reply["buttons"] == [{"title": "Skip this question",
                                                             "payload": "/skip"}]


def test_trust_details_and_receipt_are_filled() -> None:
    text = render("thanks", language="en", channel="rest", params={"receipt": "PV-ABC234"})["text"]
    assert "PV-ABC234" in text and "{" not in text
    assert "0300 123 4567" in render("pals_info", language="en", channel="rest")["text"]


def test_nlg_request_from_rasa() -> None:
    body = {"response": "thanks", "arguments": {"receipt": "PV-ABC234", "text": None,
                                                "evil": "{trust_name}"},
            "tracker": {"slots": {"language": "en"}}, "channel": {"name": "collector"}}
    reply = render_nlg_request(body)
    assert "PV-ABC234" in reply["text"]


def test_unknown_key_gives_empty_text_rather_than_an_error() -> None:
    assert render_nlg_request({"response": "utter_nonsense"})["text"] == ""
    assert render_nlg_request({})["text"] == ""


def test_each_message_carries_its_language_and_direction() -> None:
    reply = render("ask_rating", language="en", channel="rest")
    assert (reply["lang"], reply["dir"], reply["key"]) == ("en", "ltr", "ask_rating")


def test_the_language_menu_shows_each_language_in_its_own_name() -> None:
    titles = [b["title"] for b in render("ask_language", language="en", channel="rest")["buttons"]]
    assert titles[0] == "English" and "Cymraeg" in titles


def test_payload_is_valid_json() -> None:
    assert json.loads(choose_payload('a"b').removeprefix("/choose")) == {"option": 'a"b'}


def test_easy_read_uses_the_shorter_wording() -> None:
    easy = render("welcome", language="en", channel="rest", easy_read=True)["text"]
    assert easy.startswith("Hello. Tell Example NHS Foundation Trust about your care.")
    body = {"response": "ask_improve", "arguments": {"easy_read": True, "language": "en"}}
    assert render_nlg_request(body)["text"].endswith("Type your answer. Or type skip.")
