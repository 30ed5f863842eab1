"""Alembic environment: migrates the URL set by ``bot.store.migrate`` or else ``database_url()``."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bot.settings import database_url
from bot.store import ensure_sqlite_folder, metadata

config = context.config

if config.config_file_name and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    return config.attributes.get("database_url") or database_url()


def _options(dialect_name: str) -> dict:
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    return {"target_metadata": metadata, "render_as_batch": dialect_name == "sqlite"}


def run_migrations_offline() -> None:
    url = _url()
    dialect_name = make_url(url).get_backend_name()
    context.configure(url=url, literal_binds=True, **_options(dialect_name))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    ensure_sqlite_folder(url)
    # A plain engine: SQLite foreign keys stay off here, so batch table copies cascade nothing.
    engine = create_engine(url, future=True, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, **_options(connection.dialect.name))
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
