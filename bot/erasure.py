"""Withdrawal, retention and the audit log of both.

* ``withdraw`` deletes every row of a response (answers, translations, themes and theme
  corrections go with it through the foreign keys) and writes an audit line.
* ``purge`` deletes what is older than the trust's retention settings: responses by the
  day they were started, contact requests by their expiry day, and cached audio.
* The audit log says what happened, on which day, by whom (patient, staff, system) and
  to how many rows: never which response, never any content. ``bot.safety.review`` writes
  its acknowledgements and purges here too (:func:`audit_row`, in its own transactions).

Rasa's tracker store needs no purge: it lives in memory and forgets a conversation
after 30 idle minutes (actions/tracker_store.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import delete, select

from bot.store import AUDIT_ACTIONS, AuditRow, ContactRow, ResponseRow, Store

ACTIONS = AUDIT_ACTIONS
ACTORS = ("patient", "staff", "system")


@dataclass(frozen=True)
class AuditEntry:
    happened_on: date
    action: str
    actor: str
    count: int


@dataclass(frozen=True)
class PurgeReport:
    responses: int
    contacts: int
    audio_files: int


def audit_row(store: Store, action: str, actor: str, count: int) -> AuditRow:
    """One audit line (no ids, no content), to add in the caller's own transaction when the
    line must be written together with the change it records (or not at all)."""
    if action not in ACTIONS or actor not in ACTORS:
        raise ValueError("unknown audit action or actor")
    return AuditRow(happened_on=store.today(), action=action, actor=actor, count=count)


def record(store: Store, action: str, actor: str, count: int) -> None:
    """Write one audit line (no ids, no content)."""
    row = audit_row(store, action, actor, count)
    with store.session() as s, s.begin():
        s.add(row)


def audit_log(store: Store) -> list[AuditEntry]:
    with store.session() as s:
        rows = s.execute(select(AuditRow).order_by(AuditRow.id)).scalars().all()
        return [AuditEntry(r.happened_on, r.action, r.actor, r.count) for r in rows]


def withdraw(store: Store, receipt_code: str, *, actor: str) -> bool:
    """Delete the response with this receipt code, and say so in the audit log."""
    if actor not in ACTORS:
        raise ValueError("unknown actor")
    found = store.withdraw(receipt_code)
    if found:
        record(store, "withdraw", actor, 1)
    return found


def purge(store: Store, *, answers_days: int, contact_days: int,
          audio_dir: Path | None = None, dry_run: bool = False) -> PurgeReport:
    """Delete responses started more than ``answers_days`` ago, expired contact requests
    and cached audio older than ``answers_days``."""
    today = store.today()
    oldest = today - timedelta(days=answers_days)
    with store.session() as s, s.begin():
        old = s.execute(select(ResponseRow).where(ResponseRow.created_on < oldest)).scalars().all()
        expired = s.execute(select(ContactRow.id).where(
            (ContactRow.expires_on < today)
            | (ContactRow.created_on < today - timedelta(days=contact_days)))).scalars().all()
        if not dry_run:
            for row in old:
                s.delete(row)  # answers, themes and corrections cascade
            s.execute(delete(ContactRow).where(ContactRow.id.in_(expired)))
    audio = _old_audio(audio_dir, answers_days)
    if not dry_run:
        for path in audio:
            path.unlink(missing_ok=True)
        record(store, "purge", "system", len(old) + len(expired) + len(audio))
    return PurgeReport(len(old), len(expired), len(audio))


def _old_audio(audio_dir: Path | None, days: int) -> list[Path]:
    if audio_dir is None or not audio_dir.is_dir():
        return []
    cutoff = time.time() - days * 86400
    return [p for p in audio_dir.iterdir() if p.is_file() and p.stat().st_mtime < cutoff]
