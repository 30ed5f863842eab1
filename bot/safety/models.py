"""The safeguarding review queue's table (migration 0006), on the store's metadata so the
schema checks and Alembic see it.

What a row holds, and what it never does: the kind of risk, the service, the language, the
day (a ``Date``, never a time of day) and the message text as the anonymiser left it. No
sender, no response id, no receipt: a row cannot be joined to anything the patient said
elsewhere, so it cannot lead back to them. ``acknowledged_by`` is a staff user name.

The kinds are fixed by a check constraint: a new kind in ``bot.safety.kinds.RISK_KINDS``
needs a migration too (``tests/test_safety_review.py`` stores one of every kind).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Date, Integer, String, Table, Text

from bot.safety.kinds import RISK_KINDS
from bot.store import metadata, one_of

safety_reviews = Table(
    "safety_reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("service", String(64), nullable=True),
    Column("language", String(8), nullable=False),
    Column("day", Date, nullable=False),
    Column("text", Text, nullable=False),
    Column("acknowledged_by", String(64), nullable=True),
    Column("acknowledged_on", Date, nullable=True),
    CheckConstraint(one_of("kind", RISK_KINDS), name="kind"),
)
