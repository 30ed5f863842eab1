"""Themes and sentiment of free-text answers, and staff corrections of them.

``answer_themes``: one row per themed answer (QDC categories as a JSON list, sentiment 1..5,
the model version or ``corrected``, the sha256 of the English text that was themed, the day).
``theme_corrections``: staff corrections with a copy of the anonymised English text and the
question key, used the next time the model is trained. Both reference ``answers`` with
``ON DELETE CASCADE``: withdrawing a response deletes its themes and corrections too.

Revision ID: 0003
Revises: 0002
Create Date: 2024-07-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SENTIMENT = "sentiment BETWEEN 1 AND 5"


def upgrade() -> None:
    op.create_table(
        "answer_themes",
        sa.Column("answer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("sentiment", sa.Integer(), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("text_digest", sa.String(64), nullable=False),
        sa.Column("themed_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("answer_id", name=op.f("pk_answer_themes")),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answers.id"],
            name=op.f("fk_answer_themes_answer_id_answers"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(SENTIMENT, name=op.f("ck_answer_themes_sentiment")),
    )
    op.create_table(
        "theme_corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("question_key", sa.String(64), nullable=False),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("sentiment", sa.Integer(), nullable=True),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_corrections")),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answers.id"],
            name=op.f("fk_theme_corrections_answer_id_answers"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(SENTIMENT, name=op.f("ck_theme_corrections_sentiment")),
    )
    op.create_index(
        op.f("ix_theme_corrections_answer_id"), "theme_corrections", ["answer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_theme_corrections_answer_id"), table_name="theme_corrections")
    op.drop_table("theme_corrections")
    op.drop_table("answer_themes")
