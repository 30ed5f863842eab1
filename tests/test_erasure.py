"""Withdrawal, retention (purge), the audit log, and contact details kept apart."""

from __future__ import annotations

import os
import time
from datetime import date

import pytest
from sqlalchemy import inspect

from bot.anonymiser import Anonymised
from bot.contacts import ContactKeyMissing, delete_contact, list_contacts, new_key, save_contact
from bot.erasure import audit_log, purge, record, withdraw
from bot.store import Store


class Day:
    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


@pytest.fixture
def day() -> Day:
    return Day(date(2026, 1, 10))


@pytest.fixture
def store(tmp_path, day: Day) -> Store:
    return Store(f"sqlite:///{tmp_path / 'erasure.db'}", today=day)


def finished_response(store: Store) -> tuple[str, str]:
    rid = store.start_response(language="en", channel="rest")
    store.save_answer(rid, "rating_reason", text=Anonymised("Lovely staff", ()))
    store.save_answer(rid, "rating", choices=["good"])
    return rid, store.complete_response(rid)


def test_withdraw_deletes_everything_and_audits_without_content(store: Store) -> None:
    rid, receipt = finished_response(store)
    answer_id = store.unthemed_answers()[0].answer_id
    store.save_themes(answer_id, ["Staff manner & personal attributes"], 1, "test")
    store.correct_themes(answer_id, ["Positive experience & gratitude"], 1)
    assert withdraw(store, receipt.lower(), actor="staff")
    assert store.get_response(rid) is None and store.answers_for(rid) == []
    assert store.themes_for(answer_id) is None and store.corrections() == []
    entry = audit_log(store)[-1]
    assert (entry.action, entry.actor, entry.count) == ("withdraw", "staff", 1)
    assert not withdraw(store, receipt, actor="patient")
    assert len(audit_log(store)) == 1


def test_the_audit_log_has_no_column_for_ids_or_content(store: Store) -> None:
    columns = {c["name"] for c in inspect(store.engine).get_columns("audit_log")}
    assert columns == {"id", "happened_on", "action", "actor", "count"}
    with pytest.raises(ValueError):
        record(store, "read_everything", "staff", 1)


def test_purge_deletes_what_is_past_retention(store: Store, day: Day, tmp_path) -> None:
    old_rid, _ = finished_response(store)
    save_contact(store, "old@example.com", language="en", keep_days=30, key=KEY)
    day.day = date(2026, 3, 1)
    new_rid, _ = finished_response(store)
    save_contact(store, "new@example.com", language="en", keep_days=30, key=KEY)
    audio = tmp_path / "audio"
    audio.mkdir()
    stale, fresh = audio / "a.wav", audio / "b.wav"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(stale, (time.time() - 60 * 86400, time.time() - 60 * 86400))
    preview = purge(store, answers_days=30, contact_days=30, audio_dir=audio, dry_run=True)
    assert (preview.responses, preview.contacts, preview.audio_files) == (1, 1, 1)
    assert store.get_response(old_rid) is not None
    report = purge(store, answers_days=30, contact_days=30, audio_dir=audio)
    assert (report.responses, report.contacts, report.audio_files) == (1, 1, 1)
    assert store.get_response(old_rid) is None and store.get_response(new_rid) is not None
    assert [c.details for c in list_contacts(store, key=KEY)] == ["new@example.com"]
    assert not stale.exists() and fresh.exists()
    assert audit_log(store)[-1].action == "purge" and audit_log(store)[-1].count == 3


KEY = new_key()


def test_contact_details_are_encrypted_and_not_linked(store: Store, tmp_path) -> None:
    contact_id = save_contact(store, "07700 900123, evenings", language="ur", keep_days=90,
                              key=KEY)
    raw = (tmp_path / "erasure.db").read_bytes()
    assert b"07700" not in raw and b"evenings" not in raw
    columns = {c["name"] for c in inspect(store.engine).get_columns("contact_requests")}
    assert columns == {"id", "created_on", "expires_on", "language", "secret"}
    [contact] = list_contacts(store, key=KEY)
    assert contact.details == "07700 900123, evenings" and contact.language == "ur"
    assert list_contacts(store, key=new_key())[0].details.startswith("[cannot decrypt")
    assert delete_contact(store, contact_id) and list_contacts(store, key=KEY) == []


def test_contact_details_need_a_key(store: Store, monkeypatch) -> None:
    monkeypatch.delenv("CONTACT_KEY", raising=False)
    with pytest.raises(ContactKeyMissing):
        save_contact(store, "x@example.com", language="en", keep_days=1)
    with pytest.raises(ContactKeyMissing):
        list_contacts(store, key="not a key")


def test_the_command_line_withdraws_purges_and_lists_contacts(
    tmp_path, monkeypatch, capsys
) -> None:
    from bot.cli import main

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = Store(url)
    _, receipt = finished_response(store)
    key = new_key()
    monkeypatch.setenv("CONTACT_KEY", key)
    save_contact(store, "jo@example.com", language="pl", keep_days=90)
    assert main(["export", "--format", "json", "--database-url", url]) == 0
    assert main(["contacts", "list", "--database-url", url]) == 0
    assert "jo@example.com" in capsys.readouterr().out
    assert main(["withdraw", receipt, "--database-url", url]) == 0
    assert main(["withdraw", receipt, "--database-url", url]) == 1
    assert main(["purge", "--dry-run", "--database-url", url]) == 0
    assert "would delete 0 responses, 0 contact requests" in capsys.readouterr().out
    assert [e.action for e in audit_log(store)] == ["export", "withdraw"]
    assert main(["contacts", "new-key"]) == 0
