"""The bot server's background chores: translation for staff, then themes, while patients chat.

A patient never waits for either. These run the real chores of actions/bot_server.py on a
real store: Google is faked at the HTTP layer (respx), the themes model is a small real one.
"""

from __future__ import annotations

import asyncio

import pytest
from store_fixtures import (  # noqa: F401  (fixtures)
    clock_fixture,
    fake_google_fixture,
    postgres_url_fixture,
    store_fixture,
    store_url_fixture,
)
from test_themes import data, model  # noqa: F401  (fixtures: a small model from the shared data)

from actions import bot_server
from bot import themes
from bot.anonymiser import anonymise

POLISH = "Pielęgniarka była bardzo miła"


def comment(store, language: str, text: str, question: str = "rating_reason") -> str:
    response_id = store.start_response(language=language, channel="web")
    store.save_answer(response_id, question, text=anonymise(text))
    return response_id


async def run_for(seconds: float, interval: float, chore, store) -> None:
    """Let ``every`` run a chore for a while, then stop it as the server would.

    """
    task = asyncio.create_task(bot_server.every(interval, chore, store))
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_every_keeps_going_after_a_chore_fails(store, caplog):
    calls: list[int] = []

    async def flaky(_store) -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError(POLISH)  # a message that must not reach the log

    await run_for(0.3, 0.02, flaky, store)
    assert len(calls) >= 3
    assert "flaky failed: RuntimeError" in caplog.text
    assert POLISH not in caplog.text


async def test_every_stops_at_once_even_if_a_chore_swallows_its_cancellation(store):
    finished: list[bool] = []

    async def stubborn(_store) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:  # as a cancellation lost inside an HTTP client
            pass
        finished.append(True)

    await asyncio.wait_for(run_for(0.1, 0.01, stubborn, store), timeout=5)
    await asyncio.sleep(0)  # the round in flight is cancelled on its own
    assert finished == [True]


async def test_translation_waits_for_google_then_drains(store, fake_google):
    polish = comment(store, "pl", POLISH)
    fake_google.mode = "429"
    await bot_server.translate_once(store)
    [answer] = store.answers_for(polish)
    assert (answer.text_en, answer.translation_state) == (None, "pending")

    fake_google.mode = "up"
    fake_google.translations[POLISH] = "The nurse was very kind"
    await bot_server.translate_once(store)
    [answer] = store.answers_for(polish)
    assert (answer.text_en, answer.translation_state) == ("The nurse was very kind", "done")
    assert store.count_pending() == 0


async def test_themes_come_once_there_is_a_model(store, model, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv(themes.MODEL_ENV, str(tmp_path / "themes.joblib"))
    comment(store, "en", "The staff on the ward were lovely and caring")
    comment(store, "en", "The food was cold and there was not enough of it", "improve")
    waiting = store.unthemed_answers(10, question_keys=themes.QUESTION_KINDS)
    assert len(waiting) == 2

    await bot_server.theme_once(store)  # no model yet: nothing, no error
    assert len(store.unthemed_answers(10, question_keys=themes.QUESTION_KINDS)) == 2

    themes.save(model, tmp_path / "themes.joblib")
    await run_for(1.0, 0.05, bot_server.theme_once, store)  # as the server runs it
    assert store.unthemed_answers(10, question_keys=themes.QUESTION_KINDS) == []
    for answer in waiting:
        tagged = store.themes_for(answer.answer_id)
        assert tagged is not None and tagged.themes
        assert tagged.model_version == model.version
