"""Custom actions with hermetic tracker fixtures (JSON), a real store, and no Rasa server."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import (
    ActionBack,
    ActionDefaultFallback,
    ActionRestart,
    ActionSessionStart,
    ActionSurvey,
    language_of,
    message_from,
)
from bot.store import Store

FIXTURES = Path(__file__).parent / "fixtures"


def tracker_from(raw: dict) -> Tracker:
    return Tracker(
        raw["sender_id"], raw["slots"], raw["latest_message"], raw["events"], raw["paused"],
        raw["followup_action"], raw["active_loop"], raw["latest_action_name"],
    )


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    url = f"sqlite:///{tmp_path / 'actions.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return Store(url)


@pytest.fixture
def rating_tracker(store: Store) -> dict:
    raw = json.loads((FIXTURES / "tracker_rating.json").read_text())
    rid = store.start_response(language="en", channel="rest")
    raw["slots"]["survey"]["response_id"] = rid
    return raw


async def run(action, raw: dict) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker_from(raw), {})
    return events, dispatcher.messages


async def test_an_answer_is_stored_and_the_next_question_sent(rating_tracker, store) -> None:
    events, messages = await run(ActionSurvey(), rating_tracker)
    assert [m["response"] for m in messages] == ["ask_rating_reason"]
    assert messages[0]["language"] == "en"
    survey = next(e for e in events if e["name"] == "survey")["value"]
    assert survey["current"] == "rating_reason" and survey["choices"]["rating"] == ["very_good"]
    rid = rating_tracker["slots"]["survey"]["response_id"]
    assert [a.question_key for a in store.answers_for(rid)] == ["rating"]


async def test_the_sender_id_never_reaches_the_store(rating_tracker, store) -> None:
    await run(ActionSurvey(), rating_tracker)
    rid = rating_tracker["slots"]["survey"]["response_id"]
    row = store.get_response(rid)
    assert "7700900111" not in repr(row) and row.channel == "rest"


async def test_danger_signposting_comes_first(rating_tracker) -> None:
    raw = copy.deepcopy(rating_tracker)
    raw["latest_message"].update(text="I have just swallowed a whole packet of paracetamol",
                                 intent={"name": "danger", "confidence": 0.99})
    _, messages = await run(ActionSurvey(), raw)
    assert [m["response"] for m in messages] == [
        "safety_intro", "safety_overdose_poisoning", "safety_not_kept", "ask_safety_check"]


@pytest.mark.parametrize("action", [ActionDefaultFallback(), ActionBack(), ActionRestart()])
async def test_rasa_default_actions_are_handled_by_the_survey(action, rating_tracker) -> None:
    raw = copy.deepcopy(rating_tracker)
    raw["latest_message"].update(text="/restart", intent={"name": "restart", "confidence": 1.0})
    events, messages = await run(action, raw)
    assert [m["response"] for m in messages] == ["not_understood", "ask_rating"]
    assert next(e for e in events if e["name"] == "survey")["value"]["current"] == "rating"


async def test_a_tampered_survey_slot_restarts_cleanly(rating_tracker) -> None:
    raw = copy.deepcopy(rating_tracker)
    raw["slots"]["survey"] = {"current": "'; drop table answers; --"}
    _, messages = await run(ActionSurvey(), raw)
    assert [m["response"] for m in messages] == ["ask_language"]


async def test_a_failing_turn_still_answers_the_patient(rating_tracker, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("Dr Secret 07700 900123")

    monkeypatch.setattr("bot.survey.Survey.handle", broken)
    events, messages = await run(ActionSurvey(), rating_tracker)
    assert [m["response"] for m in messages] == ["answer_not_saved"] and events == []


def test_message_from_ignores_odd_shapes(rating_tracker) -> None:
    raw = copy.deepcopy(rating_tracker)
    raw["latest_message"] = {"text": 5, "intent": {"name": ["x"], "confidence": "high"},
                             "entities": [{"entity": "option", "value": {"a": 1}}]}
    message = message_from(tracker_from(raw))
    assert (message.text, message.intent, message.confidence, message.option) == ("", None,
                                                                                  0.0, None)


def test_unknown_language_slot_falls_back_to_english(rating_tracker) -> None:
    raw = copy.deepcopy(rating_tracker)
    raw["slots"]["language"] = "../../x"
    assert language_of(tracker_from(raw)) == "en"


async def test_a_new_session_keeps_the_survey(rating_tracker) -> None:
    events, messages = await run(ActionSessionStart(), rating_tracker)
    assert [e["event"] for e in events] == ["session_started", "slot", "slot", "action"]
    assert events[1]["value"]["current"] == "rating" and messages == []


async def test_a_failed_turn_logs_no_patient_text(rating_tracker, monkeypatch, caplog) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("Dr Secret 07700 900123")

    monkeypatch.setattr("bot.survey.Survey.handle", broken)
    await run(ActionSurvey(), rating_tracker)
    assert "RuntimeError" in caplog.text and "Secret" not in caplog.text


async def test_the_easy_read_switch_rides_on_message_metadata(rating_tracker) -> None:
    raw = copy.deepcopy(rating_tracker)
    raw["latest_message"]["metadata"] = {"easy_read": True}
    events, messages = await run(ActionSurvey(), raw)
    assert messages[0]["easy_read"] is True
    assert next(e for e in events if e["name"] == "survey")["value"]["easy_read"] is True
