"""Answers get an English translation and a translation state.

``text_en`` holds the English text, anonymised (the original stays in ``text`` with its
``language``). ``translation_state`` is ``not_needed`` (English, or no text), ``pending``
(waiting for ``patient-voice translate-pending``) or ``done``. Answers that existed before
this revision are brought in line: English text becomes its own ``text_en``, text in any
other language becomes ``pending``, answers without text stay ``not_needed``.

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Same rule as bot.store.is_english: "en", "EN", "en-GB", "en_GB".
ENGLISH = (
    "lower(substr(language, 1, 2)) = 'en' "
    "AND (length(language) = 2 OR substr(language, 3, 1) IN ('-', '_'))"
)


def upgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.add_column(sa.Column("text_en", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column(
                "translation_state",
                sa.String(16),
                nullable=False,
                server_default="not_needed",
            )
        )
        batch.create_check_constraint(
            op.f("ck_answers_translation_state"),
            "translation_state IN ('not_needed', 'pending', 'done')",
        )
        batch.create_index(
            op.f("ix_answers_translation_state"), ["translation_state"], unique=False
        )
    op.execute(f"UPDATE answers SET text_en = text WHERE text IS NOT NULL AND {ENGLISH}")
    op.execute(
        "UPDATE answers SET translation_state = 'pending' "
        f"WHERE text IS NOT NULL AND NOT ({ENGLISH})"
    )


def downgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.drop_index(op.f("ix_answers_translation_state"))
        batch.drop_constraint(op.f("ck_answers_translation_state"), type_="check")
        batch.drop_column("translation_state")
        batch.drop_column("text_en")
