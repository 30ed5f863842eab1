"""Contact details of patients who want to hear about co-production.

Kept apart from feedback on purpose: a contact request has no response id, no answer id,
no service and a day only, so nobody can join it to what the person said. The details
are encrypted (Fernet: AES-128-CBC with HMAC-SHA256, from the `cryptography` package)
with a key from the environment (``CONTACT_KEY``); without the key nobody, the database
administrator included, can read them. Only engagement staff hold the key. Each request
carries its expiry day and ``patient-voice purge`` deletes it after that.

When ``CONTACT_KEY`` is not set the bot does not ask for contact details at all: the
patient is given the engagement team's phone and email instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from bot.store import ContactRow, Store

MAX_CONTACT = 500  # characters: a phone number, an email, a note on the best time


class ContactKeyMissing(RuntimeError):
    """CONTACT_KEY is not set, or is not a Fernet key."""


@dataclass(frozen=True)
class ContactRequest:
    id: int
    created_on: date
    expires_on: date
    language: str
    details: str


def _fernet(key: str | None = None) -> Fernet:
    key = key or os.environ.get("CONTACT_KEY")
    if not key:
        raise ContactKeyMissing("CONTACT_KEY is not set")
    try:
        return Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError) as error:
        raise ContactKeyMissing("CONTACT_KEY is not a valid key") from error


def new_key() -> str:
    """A fresh key for CONTACT_KEY (`patient-voice contacts new-key`)."""
    return Fernet.generate_key().decode()


def save_contact(store: Store, details: str, *, language: str, keep_days: int,
                 key: str | None = None) -> int:
    """Encrypt and keep ``details``; returns the request's id."""
    secret = _fernet(key).encrypt(details.strip()[:MAX_CONTACT].encode("utf-8"))
    today = store.today()
    with store.session() as s, s.begin():
        row = ContactRow(created_on=today, expires_on=today + timedelta(days=keep_days),
                         language=language[:8], secret=secret)
        s.add(row)
        s.flush()
        return row.id


def list_contacts(store: Store, *, key: str | None = None) -> list[ContactRequest]:
    """Every contact request, decrypted (engagement staff only: needs the key)."""
    fernet = _fernet(key)
    with store.session() as s:
        rows = s.execute(select(ContactRow).order_by(ContactRow.id)).scalars().all()
        return [ContactRequest(r.id, r.created_on, r.expires_on, r.language,
                               _decrypt(fernet, r.secret)) for r in rows]


def _decrypt(fernet: Fernet, secret: bytes) -> str:
    try:
        return fernet.decrypt(secret).decode("utf-8")
    except InvalidToken:
        return "[cannot decrypt: made with another key]"


def delete_contact(store: Store, contact_id: int) -> bool:
    with store.session() as s, s.begin():
        row = s.get(ContactRow, contact_id)
        if row is None:
            return False
        s.delete(row)
    return True
