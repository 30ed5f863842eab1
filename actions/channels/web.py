"""The web chat: a Rasa input channel that serves the widget and answers it turn by turn.

Mounted by Rasa at ``/webhooks/web/`` (``credentials.yml``):

* ``GET widget.js``: the script a trust pastes into its site (launcher and chat), with the
  widget's own words from every ``languages/<code>.yml`` (``widget:`` section) built in,
  so the "cannot reach the server" message is there even when the server is not.
* ``GET chat``: the full-page chat at a plain URL (``?lang=cy`` picks its first language).
* ``GET chat.css``: the styles of both.
* ``POST webhook`` ``{"sender", "message", "message_id", "metadata": {"easy_read": bool}}``
  answers ``{"messages": [{"text", "buttons", "lang", "dir", "key", "audio_url"}]}``.
* ``GET audio/<id>``: speech for one bot message (``bot.speech.speak``).

What keeps it safe to put on the open web: an origin check (``WEB_ALLOWED_ORIGINS`` plus
same-origin; a request with a foreign ``Origin`` gets 403), a body limit (413), sender
ids that must be random tokens, rate limits per sender and per client (429 with
``Retry-After``), and idempotent retries: a ``message_id`` seen before from the same
sender gets the stored reply and is not sent to Rasa again, so a patient on a bad
connection who presses "Try again" never has an answer recorded twice. Sender ids,
client addresses and message text are never logged. Only bot text is ever spoken: an
audio id maps to a message the bot sent, never to anything from the request.

The widget posts with ``Content-Type: text/plain`` (a CORS "simple request"): Rasa's
own CORS plug-in answers every preflight ``OPTIONS`` itself, so a JSON content type
would make browsers on a trust's site give up before reaching this channel.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import math
import os
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.catalogue import DEFAULT_LANGUAGE, LANGUAGES_DIR, available_languages, load_raw
from bot.settings import PROJECT_ROOT
from bot.speech import speakable

log = logging.getLogger("patient_voice.web")

WEB_DIR = PROJECT_ROOT / "web"
SENDER = re.compile(r"[A-Za-z0-9_-]{16,64}")
MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
AUDIO_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
MAX_MESSAGE_CHARS = 5000
# The marker in web/widget.js replaced by the widget's words in every language.
STRINGS_MARKER = "/*PV_STRINGS*/null"
# sanic-cors (which Rasa installs app-wide) skips responses marked with this, so its
# headers never double ours when Rasa runs with --cors.
_CORS_DONE = "_sanic_cors_e"

DEFAULTS = {
    "allowed_origins": [],
    "messages_per_minute_per_sender": 30,
    "messages_per_minute_per_client": 120,  # a ward, care home or library shares one address
    "trusted_proxy_hops": 0,  # 1 behind one TLS proxy that appends to X-Forwarded-For
    "max_body_bytes": 16 * 1024,
}
ENVIRONMENT = {  # environment variables win over credentials.yml
    "allowed_origins": "WEB_ALLOWED_ORIGINS",
    "messages_per_minute_per_sender": "WEB_SENDER_MESSAGES_PER_MINUTE",
    "messages_per_minute_per_client": "WEB_CLIENT_MESSAGES_PER_MINUTE",
    "trusted_proxy_hops": "WEB_TRUSTED_PROXY_HOPS",
    "max_body_bytes": "WEB_MAX_BODY_BYTES",
}


# -- small pieces, testable without a server ---------------------------------------------


def normalise_origin(origin: str) -> str | None:
    """``https://Trust.nhs.uk:443/`` -> ``https://trust.nhs.uk``; None if not an origin."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def parse_origins(value: str | Iterable[str] | None) -> frozenset[str]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return frozenset(o for o in (normalise_origin(str(i)) for i in items if str(i).strip()) if o)


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key, in memory (sliding window)."""

    def __init__(self, limit: int, window: float = 60.0, *, max_keys: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.max_keys, self.clock = limit, window, max_keys, clock
        self.events: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str) -> int:
        """0 when ``key`` may go now (and counts it); else whole seconds to wait."""
        if self.limit <= 0:
            return 0
        now = self.clock()
        seen = self.events.pop(key, None) or deque()
        while seen and now - seen[0] >= self.window:
            seen.popleft()
        self.events[key] = seen  # most recently used last
        if len(seen) >= self.limit:
            return max(1, math.ceil(self.window - (now - seen[0])))
        seen.append(now)
        while len(self.events) > self.max_keys:
            self.events.popitem(last=False)
        return 0


class ExpiringMap:
    """A bounded, time-limited dict: the oldest entries go first."""

    def __init__(self, *, max_items: int, ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_items, self.ttl, self.clock = max_items, ttl, clock
        self.items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def _expire(self) -> None:
        now = self.clock()
        while self.items and (len(self.items) > self.max_items
                              or now - next(iter(self.items.values()))[0] > self.ttl):
            self.items.popitem(last=False)

    def get(self, key: Any) -> Any:
        self._expire()
        found = self.items.get(key)
        return None if found is None else found[1]

    def put(self, key: Any, value: Any) -> None:
        self.items.pop(key, None)
        self.items[key] = (self.clock(), value)
        self._expire()

    def pop(self, key: Any) -> None:
        self.items.pop(key, None)


class AudioIndex:
    """Audio ids handed to the browser, each standing for one bot message and its language."""

    def __init__(self, *, max_items: int = 50_000, ttl: float = 3 * 3600) -> None:
        self.by_id = ExpiringMap(max_items=max_items, ttl=ttl)
        self.by_text = ExpiringMap(max_items=max_items, ttl=ttl)

    def id_for(self, text: str, language: str) -> str:
        audio_id = self.by_text.get((text, language))
        if audio_id is None or self.by_id.get(audio_id) is None:
            audio_id = secrets.token_urlsafe(18)
        self.by_id.put(audio_id, (text, language))
        self.by_text.put((text, language), audio_id)
        return audio_id

    def lookup(self, audio_id: str) -> tuple[str, str] | None:
        return self.by_id.get(audio_id)


@dataclass
class Options:
    allowed_origins: frozenset[str] = frozenset()
    messages_per_minute_per_sender: int = 30
    messages_per_minute_per_client: int = 120
    trusted_proxy_hops: int = 0
    max_body_bytes: int = 16 * 1024

    @classmethod
    def from_settings(cls, credentials: dict[str, Any] | None,
                      environ: dict[str, str] | None = None) -> Options:
        environ = os.environ if environ is None else environ
        raw = {**DEFAULTS, **{k: v for k, v in (credentials or {}).items() if v is not None}}
        for key, variable in ENVIRONMENT.items():
            if environ.get(variable, "").strip():
                raw[key] = environ[variable]
        return cls(
            allowed_origins=parse_origins(raw["allowed_origins"]),
            messages_per_minute_per_sender=int(raw["messages_per_minute_per_sender"]),
            messages_per_minute_per_client=int(raw["messages_per_minute_per_client"]),
            trusted_proxy_hops=int(raw["trusted_proxy_hops"]),
            max_body_bytes=int(raw["max_body_bytes"]),
        )


class Refused(Exception):
    """A request the channel will not take; becomes a small JSON error reply."""

    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.headers = status, error, headers or {}


@dataclass
class Turn:
    """What one web message asks for, after validation."""

    sender: str
    text: str
    message_id: str
    metadata: dict[str, Any] | None = field(default=None)


def parse_turn(body: bytes) -> Turn:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise Refused(400, "invalid_json") from error
    if not isinstance(data, dict):
        raise Refused(400, "invalid_json")
    sender, text, message_id = data.get("sender"), data.get("message"), data.get("message_id")
    if not isinstance(sender, str) or not SENDER.fullmatch(sender):
        raise Refused(400, "invalid_sender")
    if not isinstance(message_id, str) or not MESSAGE_ID.fullmatch(message_id):
        raise Refused(400, "invalid_message_id")
    if not isinstance(text, str) or not text.strip():
        raise Refused(400, "invalid_message")
    if len(text) > MAX_MESSAGE_CHARS:
        raise Refused(413, "message_too_long")
    metadata = data.get("metadata")
    easy_read = metadata.get("easy_read") if isinstance(metadata, dict) else None
    # Only the easy-read switch rides along; nothing else from the browser reaches Rasa.
    return Turn(sender, text, message_id,
                {"easy_read": easy_read} if isinstance(easy_read, bool) else None)


# -- the widget's words ----------------------------------------------------------------


def widget_strings() -> dict[str, Any]:
    """Every language's ``widget:`` words, name and direction, with English fallback."""
    english = load_raw(DEFAULT_LANGUAGE).get("widget") or {}
    languages = {}
    for code in available_languages():
        raw = load_raw(code)
        meta = raw.get("meta") or {}
        words = {**english, **{k: v for k, v in (raw.get("widget") or {}).items() if v}}
        languages[code] = {
            "name": str(meta.get("name", code)),
            "dir": "rtl" if meta.get("direction") == "rtl" else "ltr",
            "widget": {str(k): str(v) for k, v in words.items()},
        }
    return {"default": DEFAULT_LANGUAGE, "languages": languages}


def _languages_stamp() -> tuple:
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in LANGUAGES_DIR.glob("*.yml")))


def script_json(value: Any) -> str:
    """JSON that is safe inside JavaScript source, even inside an HTML <script>."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


class Assets:
    """web/ files, read once and again when they or the language files change."""

    def __init__(self, directory: Path = WEB_DIR) -> None:
        self.directory = directory
        self.cache: dict[str, tuple[tuple, str]] = {}

    def _read(self, name: str, build: Callable[[str], str]) -> str:
        path = self.directory / name
        stamp = (path.stat().st_mtime_ns, _languages_stamp())
        cached = self.cache.get(name)
        if cached is None or cached[0] != stamp:
            cached = (stamp, build(path.read_text(encoding="utf-8")))
            self.cache[name] = cached
        return cached[1]

    def widget_js(self) -> str:
        return self._read("widget.js", lambda source: source.replace(
            STRINGS_MARKER, script_json(widget_strings()), 1))

    def chat_css(self) -> str:
        return self._read("chat.css", lambda source: source)

    def chat_html(self, language: str) -> str:
        strings = widget_strings()
        entry = strings["languages"].get(language) or strings["languages"][DEFAULT_LANGUAGE]
        language = language if language in strings["languages"] else DEFAULT_LANGUAGE
        words = entry["widget"]
        template = self._read("chat.html", lambda source: source)
        return (template.replace("{{lang}}", html.escape(language))
                .replace("{{dir}}", html.escape(entry["dir"]))
                .replace("{{title}}", html.escape(words.get("title", "")))
                .replace("{{noscript}}", html.escape(words.get("noscript", ""))))


# -- the output channel ------------------------------------------------------------------


class WebOutput(OutputChannel):
    """Collects the bot's messages for one turn, keeping the renderer's lang, dir and key."""

    @classmethod
    def name(cls) -> str:
        return "web"  # the renderer draws buttons for this channel

    def __init__(self, audio: AudioIndex, audio_base: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self.audio = audio
        self.audio_base = audio_base

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        buttons = [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                   for b in message.get("buttons") or [] if isinstance(b, dict)]
        if not text and not buttons:
            return
        lang = message.get("lang")
        lang = lang if isinstance(lang, str) and LANGUAGE_CODE.fullmatch(lang) else "en"
        out: dict[str, Any] = {"text": text, "buttons": buttons, "lang": lang,
                               "dir": "rtl" if message.get("dir") == "rtl" else "ltr"}
        if isinstance(message.get("key"), str):
            out["key"] = message["key"]
        if speakable(text):
            out["audio_url"] = self.audio_base + self.audio.id_for(text, lang)
        self.messages.append(out)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, **kwargs})


# -- the input channel -------------------------------------------------------------------


class WebChatInput(InputChannel):
    """patient-voice's web chat (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return "web"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebChatInput:
        return cls(Options.from_settings(credentials))

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or Options.from_settings(None)
        self.per_sender = RateLimiter(self.options.messages_per_minute_per_sender)
        self.per_client = RateLimiter(self.options.messages_per_minute_per_client)
        self.replies = ExpiringMap(max_items=20_000, ttl=3600)
        self.turns: set[asyncio.Task] = set()  # running turns, referenced until they end
        self.audio = AudioIndex()
        self.assets = Assets()

    # -- checks --

    def client_of(self, request: Request) -> str:
        hops = self.options.trusted_proxy_hops
        if hops > 0:
            forwarded = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")
                         if h.strip()]
            if len(forwarded) >= hops:
                return forwarded[-hops]
        return request.ip or "unknown"

    def origin_allowed(self, request: Request) -> tuple[bool, str | None]:
        """(allowed, the origin to name in CORS headers when it is a foreign one)."""
        origin = request.headers.get("origin")
        if origin is None:
            return True, None  # not a browser's cross-site request: nothing to protect
        normal = normalise_origin(origin)
        if normal is None:
            return False, None  # "null" (sandboxed frames, files) and other oddities
        host = request.headers.get("x-forwarded-host") if self.options.trusted_proxy_hops \
            else None
        host = (host or request.headers.get("host") or "").split(",")[0].strip().lower()
        if host and urlsplit(normal).netloc == host:
            return True, None
        default_port = {"http": ":80", "https": ":443"}[urlsplit(normal).scheme]
        if host and urlsplit(normal).netloc + default_port == host:
            return True, None
        if normal in self.options.allowed_origins:
            return True, normal
        return False, None

    def cors_headers(self, request: Request, origin: str | None) -> dict[str, str]:
        setattr(request.ctx, _CORS_DONE, "1")
        headers = {"X-Content-Type-Options": "nosniff", "Vary": "Origin"}
        if origin:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = "Retry-After"
        return headers

    def check_origin(self, request: Request) -> dict[str, str]:
        allowed, origin = self.origin_allowed(request)
        headers = self.cors_headers(request, origin)
        if not allowed:
            log.info("web chat: refused a request from an origin that is not allowed: %s",
                     (request.headers.get("origin") or "")[:100])
            raise Refused(403, "origin_not_allowed", headers)
        return headers

    async def read_body(self, request: Request, headers: dict[str, str]) -> bytes:
        limit = self.options.max_body_bytes
        try:
            declared = int(request.headers.get("content-length", "0") or 0)
        except ValueError as error:
            raise Refused(400, "bad_length", headers) from error
        if declared > limit:
            raise Refused(413, "too_large", headers)
        body = b""
        if request.stream is None:  # a test client without streaming
            body = request.body or b""
        else:
            while True:
                chunk = await request.stream.read()
                if not chunk:
                    break
                body += chunk
                if len(body) > limit:
                    raise Refused(413, "too_large", headers)
        if len(body) > limit:
            raise Refused(413, "too_large", headers)
        return body

    def check_rate(self, sender: str, client: str, headers: dict[str, str]) -> None:
        wait = self.per_sender.retry_after("s:" + sender) or self.per_client.retry_after(
            "c:" + client)
        if wait:
            log.info("web chat: rate limit reached")
            raise Refused(429, "rate_limited", {**headers, "Retry-After": str(wait)})

    # -- the turn --

    async def answer(self, turn: Turn, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                     audio_base: str) -> tuple[list[dict[str, Any]], bool]:
        """The bot's reply to ``turn``; (messages, replayed). Sent to Rasa at most once."""
        key = (turn.sender, turn.message_id)
        earlier = self.replies.get(key)
        if earlier is not None:
            return await asyncio.shield(earlier), True
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.replies.put(key, future)
        collector = WebOutput(self.audio, audio_base)
        message = UserMessage(turn.text, collector, turn.sender, input_channel=self.name(),
                              metadata=turn.metadata)
        # The turn runs as its own task: a browser that gives up (or a cancelled request)
        # must not stop it halfway, or the retry with the same message_id would wait for
        # a reply that never comes. The retry gets this turn's reply instead.
        task = asyncio.create_task(self.run_turn(key, future, collector, on_new_message,
                                                 message))
        self.turns.add(task)
        task.add_done_callback(self.turns.discard)
        return await asyncio.shield(future), False

    async def run_turn(self, key: tuple[str, str], future: asyncio.Future, collector: WebOutput,
                       on_new_message: Callable[[UserMessage], Awaitable[Any]],
                       message: UserMessage) -> None:
        try:
            await on_new_message(message)
        except Exception as error:  # noqa: BLE001 - the waiting request gets a 503
            # Not kept: a retry may try again. Only the kind of error, never the text.
            log.error("web chat: the message could not be handled: %s", type(error).__name__)
            self.replies.pop(key)
            future.set_exception(Refused(503, "not_handled"))
            future.exception()  # retrieved, so asyncio does not warn when nobody waits
            return
        future.set_result(collector.messages)

    # -- routes --

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        web = Blueprint("patient_voice_web", __name__)
        channel = self

        def refused(error: Refused) -> HTTPResponse:
            return response.json({"error": error.error}, status=error.status,
                                 headers=error.headers)

        @web.get("/")
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        def asset(body: str, content_type: str) -> HTTPResponse:
            return response.text(body, content_type=f"{content_type}; charset=utf-8",
                                 headers={"Cache-Control": "public, max-age=300",
                                          "X-Content-Type-Options": "nosniff"})

        @web.get("/widget.js")
        async def widget(request: Request) -> HTTPResponse:
            return asset(channel.assets.widget_js(), "application/javascript")

        @web.get("/chat.css")
        async def styles(request: Request) -> HTTPResponse:
            return asset(channel.assets.chat_css(), "text/css")

        @web.get("/chat")
        async def chat(request: Request) -> HTTPResponse:
            language = str(request.args.get("lang") or DEFAULT_LANGUAGE)
            language = language if LANGUAGE_CODE.fullmatch(language) else DEFAULT_LANGUAGE
            ancestors = " ".join(["'self'", *sorted(channel.options.allowed_origins)])
            policy = ("default-src 'none'; script-src 'self'; style-src 'self'; "
                      "connect-src 'self'; media-src 'self'; img-src 'self'; "
                      f"base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}")
            return response.html(channel.assets.chat_html(language), headers={
                "Content-Security-Policy": policy, "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})

        @web.post("/webhook", stream=True)
        async def receive(request: Request) -> HTTPResponse:
            try:
                headers = channel.check_origin(request)
                turn = parse_turn(await channel.read_body(request, headers))
                channel.check_rate(turn.sender, channel.client_of(request), headers)
                audio_base = request.path.rsplit("/", 1)[0] + "/audio/"
                messages, replayed = await channel.answer(turn, on_new_message, audio_base)
            except Refused as error:
                error.headers.setdefault("X-Content-Type-Options", "nosniff")
                return refused(error)
            return response.json({"messages": messages, "replayed": replayed},
                                 headers={**headers, "Cache-Control": "no-store"})

        @web.get("/audio/<audio_id:str>")
        async def audio(request: Request, audio_id: str) -> HTTPResponse:
            try:
                headers = channel.check_origin(request)
            except Refused as error:
                return refused(error)
            found = channel.audio.lookup(audio_id) if AUDIO_ID.fullmatch(audio_id) else None
            if found is None:
                return response.json({"error": "unknown_audio"}, status=404, headers=headers)
            text, language = found
            try:
                from bot.speech import speak
                speech = await speak(text, language)
            except Exception as error:  # noqa: BLE001 - the chat goes on without sound
                log.warning("web chat: speech failed: %s", type(error).__name__)
                return response.json({"error": "speech_failed"}, status=503, headers=headers)
            if speech.path is None:
                return response.json({"error": "no_voice", "reason": speech.reason,
                                      "lang": language}, status=404, headers=headers)
            return await response.file(
                speech.path, mime_type=speech.media_type or "application/octet-stream",
                headers={**headers, "Cache-Control": "private, max-age=3600"})

        return web
