"""English translations of patients' free text, for staff, made after the conversation.

The patient never waits for a translation and never notices when there is none: answers are
stored in the language they were written in with the state ``pending`` (see ``bot.store``),
and :func:`translate_pending` (``patient-voice translate-pending``) translates them later.
Whatever goes wrong with the service (no network, a timeout, HTTP 429 or another status, a
block page, a reply in an unexpected shape) becomes :class:`TranslationUnavailable`; the answer
then stays pending, with its original text, for the next run.

* :class:`Translator` is the protocol the rest of the code depends on: one coroutine,
  ``to_english(text, source)``. Tests and other services plug in here.
* :class:`GoogleTranslator` implements it with googletrans 4.0.2 (async, ``raise_exception=True``,
  a timeout, a small in-process LRU cache). Its HTTP client is made on first use, never at
  import time; close it with ``async with GoogleTranslator() as translator:`` or ``aclose()``.
  googletrans calls ``GET https://translate.googleapis.com/translate_a/single?client=gtx&sl=SRC&
  tl=en&dt=t&...&q=TEXT`` and reads ``reply[0]``, a list of ``[translated, original, ...]``
  segments.
* :func:`translate_pending` runs the queue: translate, run ``anonymise()`` again on the English
  text (a translation can turn a spelt-out number into digits, or a name into a capitalised
  one), and store it with ``Store.set_translation``.

Privacy: the text is sent to Google, so only anonymised text is ever translated. Log lines and
exception messages carry answer ids, language codes, counts and HTTP statuses, never text.
googletrans puts the text in the URL's query, and httpx logs every request URL at INFO, so a
filter on the ``httpx`` logger cuts the query off those URLs; HTTP/2 is off by default
because its header library (hpack) logs headers, the path included, at DEBUG.
This module imports neither ``rasa`` nor ``rasa_sdk``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.anonymiser import AnonymisationError, anonymise

if TYPE_CHECKING:  # pragma: no cover
    from bot.store import Store

__all__ = [
    "DEFAULT_SERVICE_URLS",
    "DEFAULT_TIMEOUT",
    "GoogleTranslator",
    "TranslationReport",
    "TranslationUnavailable",
    "Translator",
    "UnsupportedLanguage",
    "translate_pending",
]

log = logging.getLogger(__name__)

TARGET = "en"
DEFAULT_TIMEOUT = 10.0  # seconds, for each request (connect, read, write, pool)
DEFAULT_SERVICE_URLS = ("translate.googleapis.com",)  # googletrans's "gtx" API, no token
DEFAULT_CACHE_SIZE = 512
_STATUS = re.compile(r'status code "(\d{3})"')
_TRANSLATE_PATH = "/translate_a/single"


class _HideTranslateQueries(logging.Filter):
    """Cuts the query (which holds the patient's text) off translate URLs in log records."""

    @staticmethod
    def _redact(value: object) -> object:
        if isinstance(value, (int, float)) or value is None:
            return value
        text = str(value)
        if _TRANSLATE_PATH in text and "?" in text:
            return re.sub(r"(/translate_a/single)\?\S*", r"\1?[query hidden]", text)
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._redact(arg) for arg in record.args)
        elif record.args:  # a mapping
            record.args = {key: self._redact(arg) for key, arg in record.args.items()}
        if isinstance(record.msg, str) and _TRANSLATE_PATH in record.msg:
            record.msg = self._redact(record.msg)
        return True


_QUERY_FILTER = _HideTranslateQueries()


def _hide_queries_in_http_logs() -> None:
    http_logger = logging.getLogger("httpx")
    if _QUERY_FILTER not in http_logger.filters:
        http_logger.addFilter(_QUERY_FILTER)


class TranslationUnavailable(RuntimeError):
    """No translation now (network, timeout, 429, bad reply ...); try again later.

    The message never contains the text. ``status`` is the HTTP status when there was one.
    """

    def __init__(self, reason: str, *, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


class UnsupportedLanguage(TranslationUnavailable):
    """The service does not know this source language: retrying will not help."""


@runtime_checkable
class Translator(Protocol):
    """Anything that can put a patient's (anonymised) text into English."""

    async def to_english(self, text: str, source: str) -> str:
        """The English text; raises :class:`TranslationUnavailable` when it cannot."""
        ...


def _is_english(code: str) -> bool:
    return code == TARGET or code.startswith((TARGET + "-", TARGET + "_"))


def _google_code(source: str) -> str:
    """googletrans's code for ``source`` (``'pl'``, ``'PL'``, ``'pa-Guru'`` -> ``'pa'``)."""
    from googletrans.constants import LANGUAGES, SPECIAL_CASES

    code = source.strip().lower().replace("_", "-")
    for candidate in (code, code.split("-", 1)[0]):
        if candidate in LANGUAGES:
            return candidate
        if candidate in SPECIAL_CASES:
            return SPECIAL_CASES[candidate]
    raise UnsupportedLanguage(f"googletrans does not translate from {source!r}")


def _translated_text(result: object) -> str:
    """The translation, after checking the reply had the shape googletrans expects."""
    text = getattr(result, "text", None)
    extra = getattr(result, "extra_data", None) or {}
    segments = extra.get("translation") if isinstance(extra, dict) else None
    if not isinstance(text, str) or not isinstance(segments, list) or not segments:
        raise TranslationUnavailable("malformed reply")
    for segment in segments:
        if not isinstance(segment, list) or not segment:
            raise TranslationUnavailable("malformed reply")
        if segment[0] is not None and not isinstance(segment[0], str):
            raise TranslationUnavailable("malformed reply")
    if not text.strip():
        raise TranslationUnavailable("empty translation")
    return text


class GoogleTranslator:
    """:class:`Translator` with googletrans 4.0.2, made for running unattended.

    ``timeout`` bounds each HTTP request and (twice over) the whole call; ``cache_size``
    translations are kept in memory, keyed by ``(text, source, 'en')``; failures are not
    cached. ``service_urls`` are googletrans's: a ``*.googleapis.com`` host uses the "gtx"
    API (googletrans then always calls ``translate.googleapis.com``); other hosts use the
    web app API, which first fetches a token page. ``http2`` is passed to googletrans (off by
    default: see the module's notes on logging).
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        service_urls: Sequence[str] = DEFAULT_SERVICE_URLS,
        cache_size: int = DEFAULT_CACHE_SIZE,
        http2: bool = False,
    ):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if cache_size < 0:
            raise ValueError("cache_size must not be negative")
        self.timeout = float(timeout)
        self.service_urls = tuple(service_urls)
        self.cache_size = cache_size
        self.http2 = http2
        self._client = None  # googletrans.Translator, made on first use
        self._cache: OrderedDict[tuple[str, str, str], str] = OrderedDict()

    async def __aenter__(self) -> GoogleTranslator:
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client, if one was made (a later call makes a new one)."""
        client, self._client = self._client, None
        if client is not None:
            await client.client.aclose()

    def _googletrans(self):
        if self._client is None:
            import googletrans
            import httpx

            _hide_queries_in_http_logs()
            self._client = googletrans.Translator(
                service_urls=list(self.service_urls),
                raise_exception=True,
                timeout=httpx.Timeout(self.timeout),
                http2=self.http2,
            )
        return self._client

    def _cached(self, key: tuple[str, str, str]) -> str | None:
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
        return found

    def _remember(self, key: tuple[str, str, str], english: str) -> None:
        if self.cache_size == 0:
            return
        self._cache[key] = english
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def to_english(self, text: str, source: str) -> str:
        """``text`` (written in ``source``) in English; English and blank text come back as is.

        Raises :class:`UnsupportedLanguage` for a language googletrans does not know and
        :class:`TranslationUnavailable` for everything else that goes wrong.
        """
        if not isinstance(text, str) or not isinstance(source, str):
            raise TypeError("text and source must be str")
        if not text.strip() or _is_english(source.strip().lower()):
            return text
        try:
            src = _google_code(source)
        except ImportError:
            raise TranslationUnavailable("googletrans is not installed") from None
        key = (text, src, TARGET)
        cached = self._cached(key)
        if cached is not None:
            return cached
        english = await self._call(text, src)
        self._remember(key, english)
        return english

    async def _call(self, text: str, src: str) -> str:
        import httpx

        client = self._googletrans()
        try:
            result = await asyncio.wait_for(
                client.translate(text, dest=TARGET, src=src), timeout=2 * self.timeout
            )
        except (asyncio.TimeoutError, httpx.TimeoutException):
            raise TranslationUnavailable("timed out") from None
        except httpx.HTTPError as error:
            raise TranslationUnavailable(f"HTTP error ({type(error).__name__})") from None
        except Exception as error:  # googletrans raises bare Exception for a status other than 200
            match = _STATUS.search(str(error))
            if match:
                status = int(match.group(1))
                raise TranslationUnavailable(f"HTTP {status}", status=status) from None
            # JSON or shape errors: the reply was not a translation (a block page, a change)
            raise TranslationUnavailable(f"malformed reply ({type(error).__name__})") from None
        return _translated_text(result)


@dataclass(frozen=True)
class TranslationReport:
    """What one :func:`translate_pending` run did.

    ``done``: translated and stored; ``failed``: tried and left pending (service unavailable,
    unsupported language, anonymisation error); ``left``: answers still pending after the run
    (including those not tried); ``unavailable``: why the run stopped early, if the service was
    unavailable (e.g. ``"HTTP 429"``), else None.
    """

    done: int
    failed: int
    left: int
    unavailable: str | None = None


async def translate_pending(
    store: Store, translator: Translator, *, limit: int = 100
) -> TranslationReport:
    """Translate up to ``limit`` pending answers, oldest first, and store the English text.

    The English text goes through ``anonymise()`` before it is stored. When the service is
    unavailable the run stops at once (no point hammering a service that is down or has said
    429); answers it could not do stay pending for the next run. An answer whose translation
    cannot be anonymised, or whose language the service does not know, stays pending and the
    run goes on. An answer changed or withdrawn by the patient during the run is left alone.
    """
    done = failed = 0
    unavailable: str | None = None
    for item in store.pending_translations(limit):
        try:
            english = await translator.to_english(item.text, item.language)
        except UnsupportedLanguage:
            failed += 1
            log.warning("answer %d: no translation from language %r", item.answer_id, item.language)
            continue
        except TranslationUnavailable as error:
            failed += 1
            unavailable = error.reason
            log.warning(
                "translation unavailable (%s); stopping, answers stay pending", error.reason
            )
            break
        try:
            cleaned = anonymise(english)
        except AnonymisationError:
            failed += 1
            log.error("answer %d: anonymising the translation failed; left pending", item.answer_id)
            continue
        if store.set_translation(item.answer_id, cleaned, source_text=item.text):
            done += 1
        else:
            log.info("answer %d changed or was withdrawn during translation", item.answer_id)
    report = TranslationReport(done, failed, store.count_pending(), unavailable)
    log.info(
        "translations: %d done, %d failed, %d still pending",
        report.done,
        report.failed,
        report.left,
    )
    return report
