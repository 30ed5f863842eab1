"""The staff app's tables (migration 0005), on the store's metadata so the schema checks see them.

Times here are whole seconds since the epoch: they are about staff logins, never patients.
A user's ``role`` (migration 0006) is ``engagement`` (every page but the safeguarding queue)
or ``safeguarding`` (that queue too, ``/needs-attention``).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Integer, String, Table

from bot.store import metadata, one_of

ENGAGEMENT, SAFEGUARDING = "engagement", "safeguarding"
ROLES = (ENGAGEMENT, SAFEGUARDING)

staff_users = Table(
    "staff_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_on", Date, nullable=False),
    Column("role", String(16), nullable=False, server_default=ENGAGEMENT),
    CheckConstraint(one_of("role", ROLES), name="role"),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("last_seen_at", Integer, nullable=False),
)

staff_login_failures = Table(
    "staff_login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, index=True),
    Column("failed_at", Integer, nullable=False),
)
