"""Custom actions: the only place (with the channel classes) that imports rasa_sdk.

``action_survey`` hands each message to the core's state machine (``bot.survey``) and
sends back response keys; Rasa's NLG endpoint (``actions.bot_server``) renders them.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, FollowupAction, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.catalogue import available_languages
from bot.settings import database_url
from bot.store import Store
from bot.survey import Message, Survey, SurveyState

DEFAULT_LANGUAGE = "en"
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def survey_for(url: str) -> Survey:
    """One Survey (and database engine) per database URL, made on first use."""
    return Survey(Store(url))


def message_from(tracker: Tracker) -> Message:
    latest = tracker.latest_message or {}
    intent = latest.get("intent") or {}
    options = [e.get("value") for e in latest.get("entities") or [] if e.get("entity") == "option"]
    option = options[0] if options and isinstance(options[0], str) else None
    confidence = intent.get("confidence")
    return Message(
        text=latest.get("text") if isinstance(latest.get("text"), str) else "",
        intent=intent.get("name") if isinstance(intent.get("name"), str) else None,
        confidence=float(confidence) if isinstance(confidence, (int, float)) else 0.0,
        option=option,
    )


def easy_read_of(tracker: Tracker) -> bool | None:
    """The web chat's easy-read switch, sent as message metadata; None when not sent."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    value = metadata.get("easy_read") if isinstance(metadata, dict) else None
    return value if isinstance(value, bool) else None


def language_of(tracker: Tracker) -> str:
    language = tracker.get_slot("language")
    return language if language in available_languages() else DEFAULT_LANGUAGE


class ActionSurvey(Action):
    """Handle one patient message: answer, command, safety signposting."""

    def name(self) -> str:
        return "action_survey"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        state = SurveyState.from_dict(tracker.get_slot("survey"))
        try:
            replies = survey_for(database_url()).handle(
                state, message_from(tracker), language=language_of(tracker),
                channel=tracker.get_latest_input_channel() or "unknown",
                easy_read=easy_read_of(tracker),
            )
        except Exception as error:  # noqa: BLE001 - the patient must always get an answer
            # Only the kind of error: its text could quote the patient.
            log.error("survey turn failed: %s", type(error).__name__)
            dispatcher.utter_message(response="answer_not_saved", language=state.language)
            return []
        for reply in replies:
            dispatcher.utter_message(response=reply.key, language=reply.language or state.language,
                                     easy_read=state.easy_read, **reply.params)
        return [SlotSet("survey", state.to_dict()), SlotSet("language", state.language)]


class _ThenListen(ActionSurvey):
    """A survey turn standing in for one of Rasa's own actions.

    Rasa's versions revert the user's message so that the next prediction is "listen";
    ours answer instead, so they ask for "listen" explicitly (otherwise no rule fits and
    Rasa predicts the fallback again and again until its circuit breaker trips).
    """

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        events = await super().run(dispatcher, tracker, domain)
        return [*events, FollowupAction("action_listen")]


class ActionDefaultFallback(_ThenListen):
    """When no rule fits (an unknown or injected intent), carry on with the survey."""

    def name(self) -> str:
        return "action_default_fallback"


class ActionBack(_ThenListen):
    """Rasa's "/back" payload: handled by the survey, which re-asks the question."""

    def name(self) -> str:
        return "action_back"


class ActionRestart(_ThenListen):
    """Rasa's "/restart" payload: handled by the survey instead of wiping the tracker."""

    def name(self) -> str:
        return "action_restart"


class ActionSessionStart(Action):
    """A new Rasa session keeps the survey where it was.

    Rasa starts a session on the first message and, by default, wipes the slots when a
    patient types "/session_start". Carrying the survey over means a typed payload cannot
    lose the patient's place; the tracker store forgets idle conversations anyway.
    """

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        kept = [SlotSet(slot, tracker.get_slot(slot)) for slot in ("survey", "language")
                if tracker.get_slot(slot) is not None]
        return [SessionStarted(), *kept, ActionExecuted("action_listen")]
