"""The safeguarding review queue, staff roles, and the audit actions of both.

``safety_reviews`` keeps anonymised copies of flagged messages for the safeguarding team
(kind, service, language, day, text; never a sender, response id, receipt or time of day).
``staff_users.role`` is ``engagement`` (every account so far) or ``safeguarding``. The audit
log may now also say ``safety_review_acknowledged`` and ``safety_review_purged``.

Downgrading deletes the audit lines of those two actions, which the old constraint forbids.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Written out, not imported: a migration must keep meaning what it meant when written.
KINDS = ("suicide_self_harm", "overdose_poisoning", "medical_emergency", "domestic_abuse",
         "child_at_risk", "adult_at_risk", "threat_to_others")
OLD_ACTIONS = ("withdraw", "purge", "export", "contact_deleted")
NEW_ACTIONS = ("safety_review_acknowledged", "safety_review_purged")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _audit_actions(actions: tuple[str, ...]) -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint(op.f("ck_audit_log_audit_action"), type_="check")
        batch.create_check_constraint(op.f("ck_audit_log_audit_action"),
                                      _one_of("action", actions))


def upgrade() -> None:
    op.create_table(
        "safety_reviews",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("service", sa.String(64), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("acknowledged_on", sa.Date, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_reviews")),
        sa.CheckConstraint(_one_of("kind", KINDS), name=op.f("ck_safety_reviews_kind")),
    )
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False,
                                   server_default="engagement"))
        batch.create_check_constraint(op.f("ck_staff_users_role"),
                                      "role IN ('engagement', 'safeguarding')")
    _audit_actions(OLD_ACTIONS + NEW_ACTIONS)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM audit_log WHERE " + _one_of("action", NEW_ACTIONS)))
    _audit_actions(OLD_ACTIONS)
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_constraint(op.f("ck_staff_users_role"), type_="check")
        batch.drop_column("role")
    op.drop_table("safety_reviews")
