"""Initial schema: responses and their answers.

Revision ID: 0001
Revises:
Create Date: 2024-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("service", sa.String(64), nullable=True),
        sa.Column("respondent", sa.String(16), nullable=True),
        sa.Column("receipt_hash", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
        sa.UniqueConstraint("receipt_hash", name=op.f("uq_responses_receipt_hash")),
        sa.CheckConstraint(
            "status IN ('in_progress', 'complete', 'stopped')", name=op.f("ck_responses_status")
        ),
        sa.CheckConstraint(
            "respondent IN ('patient', 'helper')", name=op.f("ck_responses_respondent")
        ),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("response_id", sa.String(32), nullable=False),
        sa.Column("question_key", sa.String(64), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("service", sa.String(64), nullable=True),
        sa.Column("respondent", sa.String(16), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_answers_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "response_id", "question_key", name=op.f("uq_answers_response_question")
        ),
    )


def downgrade() -> None:
    op.drop_table("answers")
    op.drop_table("responses")
