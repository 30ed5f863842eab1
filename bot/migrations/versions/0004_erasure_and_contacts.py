"""Audit log of withdrawals and purges; contact requests kept apart from feedback.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("happened_on", sa.Date, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.CheckConstraint(
            "action IN ('withdraw', 'purge', 'export', 'contact_deleted')", name="audit_action"),
        sa.CheckConstraint("actor IN ('patient', 'staff', 'system')", name="audit_actor"),
    )
    op.create_table(
        "contact_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_on", sa.Date, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("contact_requests")
    op.drop_table("audit_log")
