"""Fixtures for tests of ``bot.store``: every store test runs on SQLite and on PostgreSQL.

PostgreSQL runs only when ``TEST_POSTGRES_URL`` is set (e.g.
``postgresql://postgres:postgres@127.0.0.1:5432/postgres``); each test then gets its own empty
schema, dropped afterwards. Without it the PostgreSQL cases are skipped, except on CI
(``CI=true``), where they fail so that a missing server cannot go unnoticed.

Import the fixtures (``store``, ``store_url``, ``postgres_url``, ``clock``) into a test module
with ``from store_fixtures import clock_fixture, store_fixture, ...  # noqa: F401``.
"""

from __future__ import annotations

import os
import uuid
from datetime import date

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bot.store import Store

POSTGRES_ENV = "TEST_POSTGRES_URL"
SKIP_REASON = "TEST_POSTGRES_URL not set: PostgreSQL store tests need a running PostgreSQL server"
CI_FAILURE = (
    "TEST_POSTGRES_URL is not set but CI=true: the PostgreSQL store tests must run on CI. "
    "Start PostgreSQL in .ci/run and export TEST_POSTGRES_URL=postgresql://USER:PASSWORD@HOST/DB"
)


class Clock:
    """A settable ``today`` for ``Store(today=...)``."""

    def __init__(self, day: date):
        self.day = day

    def __call__(self) -> date:
        return self.day


def postgres_base_url() -> str:
    """The PostgreSQL URL to test against; skips (or fails on CI) when there is none."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(CI_FAILURE, pytrace=False)
    pytest.skip(SKIP_REASON)


def _admin(url: str, statement: str) -> None:
    engine = create_engine(url, future=True, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(name="postgres_url")
def postgres_url_fixture():
    """A URL whose connections see only a fresh, private schema (dropped after the test)."""
    base = postgres_base_url()
    schema = f"pv_test_{uuid.uuid4().hex[:12]}"
    _admin(base, f'CREATE SCHEMA "{schema}"')
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        _admin(base, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(name="store_url", params=["sqlite", "postgresql"])
def store_url_fixture(request, tmp_path):
    """An empty database URL: a SQLite file under ``tmp_path``, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(name="clock")
def clock_fixture():
    return Clock(date(2024, 3, 1))


@pytest.fixture(name="store")
def store_fixture(store_url, clock):
    store = Store(store_url, today=clock)
    yield store
    store.close()
