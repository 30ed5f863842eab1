"""The "needs attention" queue: anonymised copies of flagged messages for the safeguarding team.

The bot cannot contact the patient (they are anonymous), but a trust can act when a message
says someone else is at risk on a named ward or in a care home. So a flagged message of the
kinds the trust reviews is kept here (:func:`keep_for_review`, called by the conversation
with text the anonymiser has already cleaned), shown only to staff with the
``safeguarding`` role (``/needs-attention`` in the staff app), acknowledged by a named staff
member (:func:`acknowledge`), and deleted after ``safeguarding.review_days``
(:func:`purge_reviews`, from ``patient-voice purge``), acknowledged or not.

A row holds the kind, service, language, day and text (``bot.safety.models``): never the
sender, the response id, a receipt or a time of day, so it cannot be traced to the patient.
Acknowledgements and purges are in the audit log (counts only, no content).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, func, insert, select, update

from bot.anonymiser import Anonymised
from bot.erasure import audit_row
from bot.safety import alert
from bot.safety.kinds import RISK_KINDS
from bot.safety.models import safety_reviews
from bot.store import Store

MAX_TEXT = 5_000  # characters of a message kept; the rest is cut
# What staff read for each kind (every kind of bot.safety.kinds.RISK_KINDS has one).
KIND_NAMES = {
    "suicide_self_harm": "Suicide or self-harm",
    "overdose_poisoning": "Overdose or poisoning",
    "medical_emergency": "Medical emergency",
    "domestic_abuse": "Domestic abuse",
    "child_at_risk": "Child at risk",
    "adult_at_risk": "Adult at risk",
    "threat_to_others": "Threat to others",
}


@dataclass(frozen=True)
class Review:
    """A flagged message in the queue."""

    id: int
    kind: str  # one of bot.safety.kinds.RISK_KINDS
    service: str | None  # a service key of the trust settings, or None
    language: str  # the language code of the conversation
    day: date  # the day it was kept (never a time)
    text: str  # anonymised, at most MAX_TEXT characters
    acknowledged_by: str | None = None  # the staff user name
    acknowledged_on: date | None = None

    @property
    def kind_name(self) -> str:
        return kind_name(self.kind)


def kind_name(kind: str) -> str:
    """``adult_at_risk`` -> ``Adult at risk``."""
    return KIND_NAMES.get(kind) or kind.replace("_", " ").capitalize()


def keep_for_review(
    store: Store, *, kind: str, service: str | None, language: str, text: str | Anonymised,
    alert_team: bool = True,
) -> int:
    """Keep a flagged message for the safeguarding team; returns the review's id.

    ``text`` is what ``bot.anonymiser.anonymise()`` made of the message (its ``.text``, or
    the ``Anonymised`` value itself): the caller anonymises, this module never sees the raw
    message. More than :data:`MAX_TEXT` characters are cut. The day is the store's today.
    Then the optional content-free e-mail alert is started in the background
    (``bot.safety.alert``); it never blocks or raises.
    """
    if kind not in RISK_KINDS:
        raise ValueError(f"kind must be one of {RISK_KINDS}, not {kind!r}")
    if isinstance(text, Anonymised):
        text = text.text
    if not isinstance(text, str):
        raise TypeError("text must be the anonymised text of the message")
    if not isinstance(language, str) or not 0 < len(language.strip()) <= 8:
        raise ValueError("language must be a language code such as 'en' or 'pl'")
    if service is not None and (not isinstance(service, str) or len(service) > 64):
        raise ValueError("service must be a service key of at most 64 characters, or None")
    row = dict(kind=kind, service=service, language=language.strip(), day=store.today(),
               text=text[:MAX_TEXT])
    with store.engine.begin() as db:
        review_id = db.execute(insert(safety_reviews).values(**row)).inserted_primary_key[0]
    if alert_team:  # off for make safety-report, whose store is thrown away
        alert.needs_review()
    return review_id


def _review(row) -> Review:
    return Review(row.id, row.kind, row.service, row.language, row.day, row.text,
                  row.acknowledged_by, row.acknowledged_on)


def all_reviews(
    store: Store, *, acknowledged: bool | None = None, limit: int | None = None
) -> list[Review]:
    """The queue, newest first: every review, or only the open (``acknowledged=False``) or
    the acknowledged ones (``True``); at most ``limit``."""
    query = select(safety_reviews).order_by(safety_reviews.c.day.desc(),
                                            safety_reviews.c.id.desc())
    if acknowledged is not None:
        who = safety_reviews.c.acknowledged_by
        query = query.where(who.is_not(None) if acknowledged else who.is_(None))
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as db:
        return [_review(row) for row in db.execute(query)]


def open_reviews(store: Store) -> list[Review]:
    """The reviews nobody has acknowledged yet, newest first."""
    return all_reviews(store, acknowledged=False)


def count_open(store: Store) -> int:
    """How many reviews wait for someone to acknowledge them."""
    query = select(func.count()).select_from(safety_reviews).where(
        safety_reviews.c.acknowledged_by.is_(None))
    with store.engine.connect() as db:
        return db.execute(query).scalar_one()


def acknowledge(store: Store, review_id: int, *, staff_name: str) -> bool:
    """Mark an open review acknowledged by this staff member, today; True if this call did.

    The audit line (``safety_review_acknowledged``, staff, 1; no id, no name, no content) is
    written in the same transaction, so there is never one without the other. A review that
    is already acknowledged keeps its first acknowledgement, and one that is gone (purged)
    stays gone: both return False and write nothing, so acknowledging twice is harmless.
    """
    if not isinstance(staff_name, str) or not 0 < len(staff_name.strip()) <= 64:
        raise ValueError("staff_name must be the staff user's name (1 to 64 characters)")
    statement = (
        update(safety_reviews)
        .where(safety_reviews.c.id == review_id, safety_reviews.c.acknowledged_by.is_(None))
        .values(acknowledged_by=staff_name.strip(), acknowledged_on=store.today())
    )
    with store.session() as s, s.begin():
        if s.execute(statement).rowcount != 1:
            return False
        s.add(audit_row(store, "safety_review_acknowledged", "staff", 1))
    return True


def purge_reviews(store: Store, *, older_than_days: int, dry_run: bool = False) -> int:
    """Delete reviews kept more than ``older_than_days`` days ago (the trust's
    ``safeguarding.review_days``), acknowledged or not; returns how many.

    A review kept exactly ``older_than_days`` ago stays until the next day. The audit line
    (``safety_review_purged``, system, the count) is written in the same transaction;
    ``dry_run`` only counts, and writes nothing.
    """
    if isinstance(older_than_days, bool) or not isinstance(older_than_days, int) \
            or older_than_days < 1:
        raise ValueError("older_than_days must be a whole number of at least 1")
    old = safety_reviews.c.day < store.today() - timedelta(days=older_than_days)
    with store.session() as s, s.begin():
        if dry_run:
            return s.execute(select(func.count()).select_from(safety_reviews).where(old)
                             ).scalar_one()
        count = s.execute(delete(safety_reviews).where(old)).rowcount
        s.add(audit_row(store, "safety_review_purged", "system", count))
    return count
