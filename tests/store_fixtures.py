"""Fixtures for tests of ``bot.store``: every store test runs on SQLite and on PostgreSQL.

PostgreSQL runs only when ``TEST_POSTGRES_URL`` is set (e.g.
``postgresql://postgres:postgres@127.0.0.1:5432/postgres``); each test then gets its own empty
schema, dropped afterwards. Without it the PostgreSQL cases are skipped, except on CI
(``CI=true``), where they fail so that a missing server cannot go unnoticed.

Import the fixtures (``store``, ``store_url``, ``postgres_url``, ``clock``) into a test module
with ``from store_fixtures import clock_fixture, store_fixture, ...  # noqa: F401``.

:class:`FakeGoogle` stands in for Google Translate at the HTTP layer (with respx), so the real
googletrans client runs in tests and nothing ever reaches Google; the ``fake_google``
fixture installs it, and any other HTTP request made by httpx during the test fails.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import date

import httpx
import pytest
import respx
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


# --- a fake Google Translate ------------------------------------------------------------------

GOOGLE_TRANSLATE = "https://translate.googleapis.com/translate_a/single"
FAKE_MODES = ("up", "429", "503", "timeout", "slow", "connect", "malformed")


class FakeGoogle:
    """The ``client=gtx`` endpoint that googletrans 4.0.2 calls, answering as ``mode`` says.

    ``up``: a reply in Google's shape, ``[[[english, original, null, null, 10]], null, src]``,
    with the English from ``translations`` (original -> English) or ``"EN(<src>): <text>"``;
    ``429``/``503``: that status; ``timeout``: httpx's read timeout; ``slow``: waits
    ``slow_seconds`` before answering; ``connect``: connection refused; ``malformed``: a 200
    with ``malformed_body`` (an HTML block page unless set). ``upcoming`` modes, if any, are
    used first, one per request. ``requests`` keeps every request.
    """

    def __init__(self, router: respx.MockRouter):
        self.mode = "up"
        self.upcoming: list[str] = []
        self.translations: dict[str, str] = {}
        self.malformed_body = "<html><body>Our systems have detected unusual traffic</body></html>"
        self.slow_seconds = 5.0
        self.requests: list[httpx.Request] = []
        self.route = router.get(GOOGLE_TRANSLATE).mock(side_effect=self._reply)

    @property
    def texts(self) -> list[str]:
        """The ``q`` (text) of each request, in order."""
        return [request.url.params["q"] for request in self.requests]

    def _reply(self, request: httpx.Request):
        mode = self.upcoming.pop(0) if self.upcoming else self.mode
        assert mode in FAKE_MODES, mode
        self.requests.append(request)
        if mode in ("429", "503"):
            return httpx.Response(int(mode), text="Too many requests or unavailable")
        if mode == "timeout":
            raise httpx.ReadTimeout("read timed out", request=request)
        if mode == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if mode == "malformed":
            return httpx.Response(200, text=self.malformed_body)
        if mode == "slow":
            return self._slow(request)
        return self._translation(request)

    async def _slow(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.slow_seconds)
        return self._translation(request)

    def _translation(self, request: httpx.Request) -> httpx.Response:
        text, src = request.url.params["q"], request.url.params["sl"]
        english = self.translations.get(text, f"EN({src}): {text}")
        return httpx.Response(
            200, json=[[[english, text, None, None, 10]], None, src, None, None, None, None, []]
        )


@pytest.fixture(name="fake_google")
def fake_google_fixture():
    """A :class:`FakeGoogle`; every other HTTP request through httpx fails the test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield FakeGoogle(router)
