"""Rasa's tracker store for patient-voice: in memory, redacted, and forgotten when idle.

Rasa's tracker holds the raw conversation, the slots and the sender id (a phone number
on SMS and WhatsApp, which our Twilio channels replace with a keyed hash). Answers are
already in the anonymised store the moment they are given, so the tracker is only
needed while the patient is chatting, and only its intents and slots at that. This
store therefore

* keeps trackers in memory only (nothing on disk),
* redacts what the patient typed before keeping a tracker: the text of every user
  message, its metadata and any entity value that is not a plain choice value are
  replaced (the action has already stored the anonymised answer, and the rules only
  need the intent), and
* drops a conversation after ``idle_minutes`` without a message (endpoints.yml).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

DEFAULT_IDLE_MINUTES = 30
REDACTED = "[redacted]"
_CHOICE_VALUE = re.compile(r"[a-z0-9_]{1,40}")


def redact_user_event(event: dict[str, Any]) -> dict[str, Any]:
    """A user event without what the patient typed: intent and choice values only."""
    parse = dict(event.get("parse_data") or {})
    parse["text"] = REDACTED
    parse["entities"] = [e for e in parse.get("entities") or []
                         if isinstance(e.get("value"), str) and _CHOICE_VALUE.fullmatch(e["value"])]
    parse.pop("metadata", None)
    return {**event, "text": REDACTED, "parse_data": parse, "metadata": {}}


def redact_serialised(serialised: str) -> str:
    dialogue = json.loads(serialised)
    dialogue["events"] = [redact_user_event(e) if e.get("event") == "user" else e
                          for e in dialogue.get("events") or []]
    return json.dumps(dialogue)


class ExpiringInMemoryTrackerStore(InMemoryTrackerStore):
    """In-memory trackers that are deleted after a quiet spell."""

    def __init__(
        self,
        domain: Domain,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        idle_minutes: float = DEFAULT_IDLE_MINUTES,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        self.idle_seconds = float(idle_minutes) * 60
        self.clock = clock
        self.last_seen: dict[str, float] = {}

    def forget_idle(self) -> int:
        """Delete every conversation idle for longer than the limit; say how many."""
        now = self.clock()
        idle = [sid for sid, seen in self.last_seen.items() if now - seen > self.idle_seconds]
        for sender_id in idle:
            self.store.pop(sender_id, None)
            self.last_seen.pop(sender_id, None)
        return len(idle)

    async def save(self, tracker: DialogueStateTracker) -> None:
        self.forget_idle()
        await self.stream_events(tracker)  # no event broker is configured: a no-op
        self.store[tracker.sender_id] = redact_serialised(self.serialise_tracker(tracker))
        self.last_seen[tracker.sender_id] = self.clock()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        self.forget_idle()
        return await super().retrieve(sender_id)

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        self.forget_idle()
        return await super().retrieve_full_tracker(sender_id)
