"""Rasa's tracker store for patient-voice: in memory, and forgotten when idle.

Rasa's tracker holds the raw conversation, the slots and the sender id (a phone number
on SMS and WhatsApp). Answers are already in the anonymised store the moment they are
given, so the tracker is only needed while the patient is chatting. Rasa's own
``InMemoryTrackerStore`` keeps every conversation until the process stops; this one
drops a conversation after ``idle_minutes`` without a message (endpoints.yml).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

DEFAULT_IDLE_MINUTES = 30


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
        await super().save(tracker)
        self.last_seen[tracker.sender_id] = self.clock()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        self.forget_idle()
        return await super().retrieve(sender_id)

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        self.forget_idle()
        return await super().retrieve_full_tracker(sender_id)
