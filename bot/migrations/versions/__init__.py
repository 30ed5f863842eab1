"""Alembic revisions, applied in order by ``bot.store.migrate``."""
