"""Rasa's tracker (raw text, sender id) lives only while the patient is chatting."""

from __future__ import annotations

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from actions.tracker_store import ExpiringInMemoryTrackerStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_idle_conversations_are_forgotten() -> None:
    clock = Clock()
    store = ExpiringInMemoryTrackerStore(Domain.empty(), idle_minutes=30, clock=clock)
    tracker = DialogueStateTracker("whatsapp:+447700900111", slots=[])
    tracker.update(UserUttered("my number is 07700 900111"))
    await store.save(tracker)
    clock.now += 29 * 60
    assert await store.retrieve("whatsapp:+447700900111") is not None
    other = DialogueStateTracker("someone-else", slots=[])
    await store.save(other)
    clock.now += 2 * 60
    assert await store.retrieve("whatsapp:+447700900111") is None
    assert "whatsapp:+447700900111" not in store.store
    assert "07700 900111" not in repr(store.store)
    assert await store.retrieve("someone-else") is not None


async def test_what_the_patient_typed_is_not_kept() -> None:
    store = ExpiringInMemoryTrackerStore(Domain.empty())
    tracker = DialogueStateTracker("someone", slots=[])
    tracker.update(UserUttered(
        "Dr Bloggs, 07700 900111",
        intent={"name": "inform", "confidence": 0.9},
        entities=[{"entity": "option", "value": "very_good"},
                  {"entity": "option", "value": "Nurse Bloggs 07700"}],
        metadata={"note": "Bloggs"},
    ))
    await store.save(tracker)
    kept = store.store["someone"]
    assert "Bloggs" not in kept and "07700" not in kept
    again = await store.retrieve("someone")
    latest = again.latest_message
    assert latest.intent["name"] == "inform" and latest.text == "[redacted]"
    assert [e["value"] for e in latest.entities] == ["very_good"]
