"""The bot server on port 5055: rasa-sdk's action server plus the NLG endpoint.

One process serves both so the renderer and the actions share one code base and one
set of catalogues. Errors are answered without echoing the request, because Rasa's
requests carry the conversation (the stock handler returns the body).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Awaitable, Callable

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request

from actions.actions import survey_for
from bot import themes
from bot.anonymiser import anonymise
from bot.renderer import render_nlg_request
from bot.safety.detector import detector
from bot.settings import database_url, themes_interval, translation_interval
from bot.store import Store
from bot.translation import GoogleTranslator, translate_pending

log = logging.getLogger("patient_voice.bot_server")
DEFAULT_PORT = 5055


def build_app() -> Sanic:
    app = create_app("actions.actions", cors_origins=[])

    @app.before_server_start
    async def open_store(app: Sanic, *_: object) -> None:
        """Bring the database schema up to date before the first patient arrives."""
        survey_for(database_url())
        anonymise("warm up")  # loads the name lists now, not on a patient's first answer
        detector()  # the safety detector, loaded (or trained) before the first message
        store = survey_for(database_url()).store
        if translation_interval() > 0:
            app.add_task(every(translation_interval(), translate_once, store))
        if themes_interval() > 0:
            app.add_task(every(themes_interval(), theme_once, store))

    @app.post("/nlg")
    async def nlg(request: Request) -> response.HTTPResponse:
        body = request.json
        if not isinstance(body, dict):
            return response.json({"error": "expected a JSON object"}, status=400)
        return response.json(render_nlg_request(body))

    @app.exception(Exception)
    async def quiet_errors(request: Request, exception: Exception) -> response.HTTPResponse:
        log.error("bot server error on %s: %s", request.path, type(exception).__name__)
        return response.json({"error": "internal error"}, status=500)

    return app


Chore = Callable[[Store], Awaitable[None]]


async def every(interval: float, chore: Chore, store: Store) -> None:
    """Run ``chore(store)`` every ``interval`` seconds, quietly, for as long as the server runs.

    The patient never waits for these: a chore that fails (Google unreachable, no themes
    model yet) is logged by the name of its error only and tried again next time.
    """
    while True:
        await asyncio.sleep(interval)
        # Shielded, so stopping the server stops this loop at once even when a cancellation
        # landing inside an HTTP client is swallowed there (asyncio.wait_for in Python 3.10
        # can do that); the round in flight is then cancelled on its own.
        job = asyncio.ensure_future(chore(store))
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            job.cancel()
            raise
        except Exception as error:  # noqa: BLE001 - a background chore must not die
            log.warning("%s failed: %s", chore.__name__, type(error).__name__)


async def translate_once(store: Store) -> None:
    """Translate pending answers for staff (``patient-voice translate-pending`` by hand)."""
    async with GoogleTranslator() as translator:
        report = await translate_pending(store, translator)
    log.info("translations: %s done, %s failed, %s pending", report.done, report.failed,
             report.left)


async def theme_once(store: Store) -> None:
    """Theme answers whose English text has arrived (``patient-voice themes tag`` by hand).

    Without a model file (``make run`` makes one from ../shared/data when it can) answers
    simply wait; the model is read once and cached by bot.themes.load. Runs in a thread:
    scikit-learn is CPU work and must not hold up the conversations.
    """
    try:
        model = themes.load()
    except FileNotFoundError:
        log.info("no themes model yet: answers wait to be themed")
        return
    report = await asyncio.to_thread(themes.tag_answers, store, model)
    if report.themed or report.changed:
        log.info("themes: %s answers themed, %s changed meanwhile", report.themed,
                 report.changed)


def main() -> None:
    parser = argparse.ArgumentParser(description="patient-voice bot server (actions + NLG)")
    parser.add_argument("--host", default=os.environ.get("BOT_SERVER_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("BOT_SERVER_PORT",
                                                                      DEFAULT_PORT)))
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("BOT_SERVER_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    build_app().run(args.host, args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
