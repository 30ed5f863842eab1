"""bot.translation: the real googletrans client against a fake Google, and the pending queue.

Google Translate is faked at the HTTP layer with respx (``FakeGoogle`` in store_fixtures), so
googletrans 4.0.2 builds and sends its real requests; nothing here reaches Google.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from store_fixtures import (  # noqa: F401  (fixtures)
    GOOGLE_TRANSLATE,
    clock_fixture,
    fake_google_fixture,
    postgres_url_fixture,
    store_fixture,
    store_url_fixture,
)

import bot.translation as translation
from bot.anonymiser import AnonymisationError, Anonymised, anonymise
from bot.translation import (
    GoogleTranslator,
    TranslationReport,
    TranslationUnavailable,
    Translator,
    UnsupportedLanguage,
    translate_pending,
)

ROOT = Path(__file__).resolve().parent.parent
POLISH = "Pielęgniarka była bardzo miła"
# The number spelt out in Urdu words, which the anonymiser cannot see; Google writes it in digits.
URDU = "مجھے صفر سات سات صفر صفر نو صفر صفر ایک دو تین پر فون کریں"
URDU_IN_ENGLISH = "Call me on 07700 900123"


def anon(value: str) -> Anonymised:
    return Anonymised(text=value, tags=())


@pytest.fixture
async def google():
    translator = GoogleTranslator(timeout=0.2)
    yield translator
    await translator.aclose()


# --- the client against the fake endpoint ----------------------------------------------------


async def test_success_sends_googletrans_real_request(fake_google, google):
    fake_google.translations[POLISH] = "The nurse was very kind"
    assert await google.to_english(POLISH, "pl") == "The nurse was very kind"
    [request] = fake_google.requests  # the gtx API: no token page first
    assert str(request.url).startswith(GOOGLE_TRANSLATE + "?")
    params = request.url.params
    assert (params["client"], params["sl"], params["tl"], params["q"]) == (
        "gtx",
        "pl",
        "en",
        POLISH,
    )
    assert "t" in params.get_list("dt")


async def test_source_codes_are_normalised_for_google(fake_google, google):
    assert await google.to_english("ਧੰਨਵਾਦ", "pa-Guru") == "EN(pa): ਧੰਨਵਾਦ"
    assert await google.to_english("Diolch", "CY") == "EN(cy): Diolch"
    assert [request.url.params["sl"] for request in fake_google.requests] == ["pa", "cy"]


async def test_results_are_cached_by_text_and_language(fake_google, google):
    assert await google.to_english(POLISH, "pl") == f"EN(pl): {POLISH}"
    assert await google.to_english(POLISH, "pl") == f"EN(pl): {POLISH}"
    assert len(fake_google.requests) == 1
    await google.to_english(POLISH, "ro")  # same text, another language: another request
    assert len(fake_google.requests) == 2


async def test_the_cache_is_small_and_least_recently_used(fake_google):
    async with GoogleTranslator(cache_size=2) as translator:
        for text in ("a1", "b2", "a1", "c3", "a1", "b2"):
            await translator.to_english(text, "pl")
    # a1 stays (used again), b2 is pushed out by c3 and asked for again
    assert fake_google.texts == ["a1", "b2", "c3", "b2"]


@pytest.mark.parametrize("status", ["429", "503"])
async def test_an_error_status_is_unavailable_and_not_cached(fake_google, google, status):
    fake_google.mode = status
    with pytest.raises(TranslationUnavailable) as caught:
        await google.to_english(POLISH, "pl")
    assert caught.value.status == int(status) and caught.value.reason == f"HTTP {status}"
    assert POLISH not in str(caught.value) and not isinstance(caught.value, UnsupportedLanguage)
    fake_google.mode = "up"
    assert await google.to_english(POLISH, "pl") == f"EN(pl): {POLISH}"
    assert len(fake_google.requests) == 2


async def test_a_timeout_is_unavailable(fake_google, google):
    fake_google.mode = "timeout"
    with pytest.raises(TranslationUnavailable, match="timed out"):
        await google.to_english(POLISH, "pl")


async def test_a_reply_that_never_comes_is_cut_off(fake_google, google):
    fake_google.mode = "slow"
    fake_google.slow_seconds = 30
    with pytest.raises(TranslationUnavailable, match="timed out"):
        await google.to_english(POLISH, "pl")  # timeout 0.2 s: gives up after 0.4 s at most


async def test_a_connection_error_is_unavailable(fake_google, google):
    fake_google.mode = "connect"
    with pytest.raises(TranslationUnavailable) as caught:
        await google.to_english(POLISH, "pl")
    assert caught.value.status is None and "ConnectError" in caught.value.reason


@pytest.mark.parametrize(
    "body",
    [
        "<html><body>Our systems have detected unusual traffic</body></html>",
        "",
        "{}",
        "[]",
        "null",
        '[null, null, "pl"]',
        '[["abc"]]',
        '[[[5, "x"]]]',
        '[[["", "x", null, null, 10]], null, "pl"]',
        '[[[null, null, "x"]], null, "pl"]',
    ],
    ids=[
        "html",
        "empty",
        "object",
        "empty-list",
        "null",
        "no-segments",
        "flat",
        "number",
        "blank-text",
        "no-text",
    ],
)
async def test_a_malformed_reply_is_unavailable(fake_google, google, body):
    fake_google.mode = "malformed"
    fake_google.malformed_body = body
    with pytest.raises(TranslationUnavailable) as caught:
        await google.to_english(POLISH, "pl")
    assert POLISH not in str(caught.value)
    fake_google.mode = "up"
    assert await google.to_english(POLISH, "pl") == f"EN(pl): {POLISH}"  # nothing cached


async def test_english_and_blank_text_need_no_request(fake_google, google):
    assert await google.to_english("Lovely staff", "en") == "Lovely staff"
    assert await google.to_english("Lovely staff", "en-GB") == "Lovely staff"
    assert await google.to_english("  ", "pl") == "  "
    assert fake_google.requests == []


async def test_an_unknown_language_is_unsupported_without_a_request(fake_google, google):
    with pytest.raises(UnsupportedLanguage):
        await google.to_english(POLISH, "xx")
    assert isinstance(UnsupportedLanguage("x"), TranslationUnavailable)
    assert fake_google.requests == []


@pytest.mark.parametrize("code", "cy pl ro pa ur bn gu ar pt es uk so".split())
async def test_every_language_of_the_bot_is_translated(fake_google, google, code):
    assert await google.to_english("text", code) == f"EN({code}): text"


async def test_the_client_is_made_on_first_use_and_closed(fake_google):
    translator = GoogleTranslator()
    assert isinstance(translator, Translator)
    assert translator._client is None
    async with translator:
        await translator.to_english("Dziękuję", "pl")
        client = translator._client
        assert client is not None and client.raise_exception is True
        assert client.client_type == "gtx"
        assert client.client.timeout.read == translator.timeout
    assert translator._client is None and client.client.is_closed
    assert await translator.to_english("Dzięki", "pl") == "EN(pl): Dzięki"  # a new client
    await translator.aclose()


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        GoogleTranslator(timeout=0)
    with pytest.raises(ValueError):
        GoogleTranslator(cache_size=-1)


def test_importing_makes_no_client_and_no_rasa():
    code = (
        "import sys, bot.translation\n"
        "assert 'googletrans' not in sys.modules, 'googletrans imported at import time'\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('rasa', 'rasa_sdk')]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- the pending queue -----------------------------------------------------------------------


def comment(store, language: str, text: str, *, written_in: str | None = None) -> str:
    """A response with one comment, anonymised as the bot does it (must not change here)."""
    response_id = store.start_response(language=language, channel="web")
    cleaned = anonymise(text)
    assert cleaned.text == text
    store.save_answer(response_id, "comment", text=cleaned, language=written_in)
    return response_id


def stored(store, response_id: str) -> tuple:
    [answer] = store.answers_for(response_id)
    return answer.text, answer.text_en, answer.translation_state


async def test_the_queue_waits_while_google_fails_and_drains_when_it_comes_back(
    store, fake_google, google
):
    polish = comment(store, "pl", POLISH)
    urdu = comment(store, "ur", URDU)
    english = comment(store, "ur", "The food was cold", written_in="en")
    assert store.count_pending() == 2

    for mode in ("429", "timeout", "connect", "malformed", "503"):
        fake_google.mode = mode
        before = len(fake_google.requests)
        report = await translate_pending(store, google)
        assert report.done == 0 and report.failed == 1 and report.left == 2
        assert report.unavailable
        assert len(fake_google.requests) - before == 1  # stopped after the first failure
        assert stored(store, polish) == (POLISH, None, "pending")
        assert stored(store, urdu) == (URDU, None, "pending")

    fake_google.mode = "up"
    fake_google.translations = {POLISH: "The nurse was very kind", URDU: URDU_IN_ENGLISH}
    report = await translate_pending(store, google)
    assert report == TranslationReport(done=2, failed=0, left=0, unavailable=None)
    assert stored(store, polish) == (POLISH, "The nurse was very kind", "done")
    assert stored(store, urdu) == (URDU, "Call me on [PHONE]", "done")
    assert stored(store, english) == ("The food was cold", "The food was cold", "not_needed")
    assert "07700 900123" not in str(store.export_rows())

    before = len(fake_google.requests)
    assert await translate_pending(store, google) == TranslationReport(0, 0, 0)
    assert len(fake_google.requests) == before


async def test_a_failure_midway_keeps_what_was_done(store, fake_google, google):
    first = comment(store, "pl", "jeden")
    second = comment(store, "pl", "dwa")
    third = comment(store, "pl", "trzy")
    fake_google.upcoming = ["up", "429"]
    report = await translate_pending(store, google)
    assert report == TranslationReport(done=1, failed=1, left=2, unavailable="HTTP 429")
    assert [stored(store, i)[2] for i in (first, second, third)] == ["done", "pending", "pending"]
    assert fake_google.texts == ["jeden", "dwa"]  # "trzy" was not tried


async def test_limit_takes_the_oldest_first(store, fake_google, google):
    ids = [comment(store, "so", f"qoraal {n}") for n in range(3)]
    assert await translate_pending(store, google, limit=2) == TranslationReport(2, 0, 1)
    assert [stored(store, i)[2] for i in ids] == ["done", "done", "pending"]
    assert fake_google.texts == ["qoraal 0", "qoraal 1"]


async def test_an_anonymisation_error_leaves_only_that_answer_pending(
    store, fake_google, google, monkeypatch
):
    bad = comment(store, "pl", "zły")
    good = comment(store, "pl", "dobry")
    real = translation.anonymise

    def anonymise(text: str) -> Anonymised:
        if "zły" in text:
            raise AnonymisationError("anonymiser failed")
        return real(text)

    monkeypatch.setattr(translation, "anonymise", anonymise)
    report = await translate_pending(store, google)
    assert report == TranslationReport(done=1, failed=1, left=1)
    assert stored(store, bad) == ("zły", None, "pending")
    assert stored(store, good) == ("dobry", "EN(pl): dobry", "done")


async def test_an_unsupported_language_does_not_block_the_queue(store, fake_google, google):
    odd = comment(store, "xx", "???")
    good = comment(store, "ro", "Mulțumesc")
    report = await translate_pending(store, google)
    assert report == TranslationReport(done=1, failed=1, left=1)
    assert stored(store, odd)[2] == "pending" and stored(store, good)[2] == "done"


class ChangingTranslator:
    """A Translator during whose call the patient changes their answer."""

    def __init__(self, store, response_id: str):
        self.store, self.response_id = store, response_id

    async def to_english(self, text: str, source: str) -> str:
        self.store.save_answer(self.response_id, "comment", text=anon("nowy tekst"))
        return "old text"


async def test_a_translation_never_lands_on_a_changed_answer(store):
    response_id = comment(store, "pl", "stary tekst")
    translator = ChangingTranslator(store, response_id)
    assert isinstance(translator, Translator)
    report = await translate_pending(store, translator)
    assert report == TranslationReport(done=0, failed=0, left=1)
    assert stored(store, response_id) == ("nowy tekst", None, "pending")


async def test_no_answer_text_is_logged(store, fake_google, google, caplog):
    caplog.set_level(logging.DEBUG)
    comment(store, "ur", URDU)
    comment(store, "pl", POLISH)
    fake_google.translations[URDU] = URDU_IN_ENGLISH
    fake_google.mode = "429"
    await translate_pending(store, google)
    fake_google.mode = "up"
    await translate_pending(store, google)
    logged = caplog.text
    assert "unavailable" in logged and "HTTP 429" in logged
    assert "translate_a/single?[query hidden]" in logged  # httpx's request log, cut short
    for secret in (URDU, POLISH, URDU_IN_ENGLISH, "07700", "Pielęgniarka", "[PHONE]"):
        for form in (secret, quote(secret), quote_plus(secret)):
            assert form not in logged
