"""SMS and WhatsApp through Twilio: two Rasa channels, ``twilio_sms`` and ``twilio_whatsapp``.

Rasa's own ``twilio`` channel does not check Twilio's signature, sends with a blocking
client inside the event loop and has one number, so these replace it. Each channel has its
own number and webhook (``credentials.yml`` lists the classes; Rasa mounts them at
``/webhooks/twilio_sms/webhook`` and ``/webhooks/twilio_whatsapp/webhook``).

A message from Twilio, in order:

1. Not configured (its number is not set): 503, nothing else happens.
2. ``X-Twilio-Signature`` is checked with the twilio package's ``RequestValidator``
   against ``PUBLIC_BASE_URL`` + the path (the URL Twilio called, even behind a proxy
   that ends TLS), then the ``AccountSid`` and our number in ``To``. Missing or wrong:
   403, and the message never reaches Rasa.
3. The sender's address becomes a keyed hash (``bot.sender_key``): the Rasa sender id is
   ``sms:<hex>`` or ``whatsapp:<hex>``; the address is kept in memory only, to reply,
   and forgotten an hour after the last message. It is never logged or stored.
4. A MessageSid seen before (Twilio retries) is answered with an empty response only.
5. STOP and the other opt-out words: nothing more is sent to that sender until START
   (Twilio itself confirms on SMS; on WhatsApp, where Twilio does not, we confirm once).
   HELP gets a short help text with the trust's PALS contact. A picture or voice note
   gets a kind reply: we can only read text, and how to get help another way.
6. Twilio gets an empty TwiML ``<Response/>`` at once; Rasa handles the message in the
   background and the replies go out through Twilio's REST API (httpx, non-blocking,
   with a timeout and retries with backoff on 429 and 5xx). A failed send is logged with
   the HTTP status and Twilio's error code only, never the text or the number.

Replies are split for SMS (``bot.sms``: GSM-7/UCS-2 segments, never mid-word). On
WhatsApp a patient can type ``audio on``: each bot message then also goes as audio
(``bot.speech``: MP3 from the online voice, or the offline voice's WAV turned into
OGG/Opus, both of which WhatsApp plays), served from ``/webhooks/twilio_whatsapp/
audio/<id>`` for audio ids this channel sent.

Configuration comes from environment variables (see ``docs/twilio.md``), never from the
repository.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import httpx
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from bot import sms
from bot.catalogue import CatalogueError, available_languages
from bot.renderer import render
from bot.sender_key import SenderKeyError, SenderKeys
from bot.speech import speakable

log = logging.getLogger("patient_voice.twilio")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
API_PATH = "/2010-04-01/Accounts/{sid}/Messages.json"
DEFAULT_API_BASE_URL = "https://api.twilio.com"
MAX_TEXT = 5000  # characters of a message passed to Rasa (Twilio sends at most 1600)
ADDRESS_TTL_SECONDS = 3600  # an address is forgotten an hour after its last message
MAX_RETRY_AFTER = 30.0  # seconds we are willing to wait when Twilio says Retry-After
# Audio types WhatsApp plays; bot.speech makes MP3 (online voice) or WAV (offline voice),
# and bot.speech.for_whatsapp turns the WAV into OGG/Opus.
WHATSAPP_AUDIO_TYPES = frozenset({"audio/mpeg", "audio/ogg", "audio/amr", "audio/mp4",
                                  "audio/aac"})
AUDIO_NAME = re.compile(r"[0-9a-f]{64}\.(?:mp3|wav|ogg)")

ENV_ACCOUNT_SID = "TWILIO_ACCOUNT_SID"
ENV_AUTH_TOKEN = "TWILIO_AUTH_TOKEN"
ENV_PUBLIC_BASE_URL = "PUBLIC_BASE_URL"
ENV_API_BASE_URL = "TWILIO_API_BASE_URL"


class TwilioConfigError(RasaException):
    """A Twilio channel is half configured: Rasa must not start."""


def _int(env: Mapping[str, str], name: str, default: int, low: int = 0) -> int:
    raw = env.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError as error:
        raise TwilioConfigError(f"{name} must be a whole number") from error
    if value < low:
        raise TwilioConfigError(f"{name} must be at least {low}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError as error:
        raise TwilioConfigError(f"{name} must be a number of seconds") from error
    if value < 0:
        raise TwilioConfigError(f"{name} must not be negative")
    return value


def _base_url(value: str, name: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise TwilioConfigError(f"{name} must look like https://feedback.example.nhs.uk")
    return value.strip().rstrip("/")


@dataclass(frozen=True)
class TwilioConfig:
    """One channel's settings, from environment variables."""

    account_sid: str
    auth_token: str = field(repr=False)
    number: str  # as Twilio writes it in To/From: "+447700900000" or "whatsapp:+44..."
    public_base_url: str  # the public https origin Twilio calls (no trailing slash)
    api_base_url: str = DEFAULT_API_BASE_URL
    max_segments: int = sms.DEFAULT_MAX_SEGMENTS
    max_parts: int = sms.DEFAULT_MAX_PARTS
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5

    @classmethod
    def from_env(cls, channel: type[TwilioInput],
                 env: Mapping[str, str] | None = None) -> TwilioConfig | None:
        """None when the channel's number is not set (the channel is off)."""
        env = os.environ if env is None else env
        number = "".join(env.get(channel.number_env, "").split())
        if not number:
            return None
        missing = [name for name in (ENV_ACCOUNT_SID, ENV_AUTH_TOKEN, ENV_PUBLIC_BASE_URL)
                   if not env.get(name, "").strip()]
        if missing:
            raise TwilioConfigError(f"{channel.number_env} is set but {', '.join(missing)} "
                                    "is not: see docs/twilio.md")
        if channel.address_prefix and not number.startswith(channel.address_prefix):
            number = channel.address_prefix + number
        if not re.fullmatch(re.escape(channel.address_prefix) + r"\+[1-9][0-9]{6,14}", number):
            raise TwilioConfigError(f"{channel.number_env} must be a number in E.164 form, "
                                    "like +447700900000")
        return cls(
            account_sid=env[ENV_ACCOUNT_SID].strip(),
            auth_token=env[ENV_AUTH_TOKEN].strip(),
            number=number,
            public_base_url=_base_url(env[ENV_PUBLIC_BASE_URL], ENV_PUBLIC_BASE_URL),
            api_base_url=_base_url(env.get(ENV_API_BASE_URL) or DEFAULT_API_BASE_URL,
                                   ENV_API_BASE_URL),
            max_segments=_int(env, "TWILIO_SMS_MAX_SEGMENTS", sms.DEFAULT_MAX_SEGMENTS, 1),
            max_parts=_int(env, "TWILIO_MAX_PARTS", sms.DEFAULT_MAX_PARTS, 1),
            timeout=_float(env, "TWILIO_SEND_TIMEOUT_SECONDS", 10.0) or 10.0,
            retries=_int(env, "TWILIO_SEND_RETRIES", 3),
            backoff=_float(env, "TWILIO_RETRY_BACKOFF_SECONDS", 0.5),
        )


class Params(dict):
    """POST parameters, every value of each: what Twilio signed, blank values included.

    Sanic's ``request.form`` drops blank values, but Twilio signs them (a voice note comes
    with ``Body=``), so the body is parsed here.
    """

    @classmethod
    def from_request(cls, request: Request) -> Params:
        params = cls()
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            body = (request.body or b"").decode("utf-8", errors="replace")
            for name, value in parse_qsl(body, keep_blank_values=True):
                params.setdefault(name, []).append(value)
        return params

    def getlist(self, name: str) -> list[str]:
        return self.get(name, [])


# -- sending -----------------------------------------------------------------------------


class TwilioRest:
    """Sends messages with Twilio's REST API, without blocking the event loop."""

    def __init__(self, config: TwilioConfig, channel: str,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.channel = channel
        self.transport = transport
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(
                base_url=self.config.api_base_url,
                auth=(self.config.account_sid, self.config.auth_token),
                timeout=httpx.Timeout(self.config.timeout),
                transport=self.transport,
                headers={"User-Agent": "patient-voice"},
            )
            self._clients[loop] = client
        return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    def _delay(self, attempt: int, reply: httpx.Response | None) -> float:
        delay = self.config.backoff * (2 ** attempt)
        if reply is not None and reply.status_code == 429:
            try:
                delay = max(delay, float(reply.headers.get("Retry-After", "")))
            except ValueError:
                pass
        return min(delay, MAX_RETRY_AFTER)

    @staticmethod
    def _outcome(reply: httpx.Response) -> str:
        """HTTP status and Twilio's error code: never its message, which can quote a number."""
        code = None
        try:
            body = reply.json()
            code = body.get("code") if isinstance(body, dict) else None
        except ValueError:
            pass
        return f"HTTP {reply.status_code}" + (f", Twilio error {int(code)}"
                                              if isinstance(code, int) else "")

    async def send(self, *, to: str, body: str | None = None,
                   media_url: str | None = None) -> bool:
        """One message; True when Twilio accepted it. Never raises, never logs to or body."""
        data = {"To": to, "From": self.config.number}
        if body:
            data["Body"] = body
        if media_url:
            data["MediaUrl"] = media_url
        path = API_PATH.format(sid=self.config.account_sid)
        tries = self.config.retries + 1
        outcome = "not sent"
        for attempt in range(tries):
            reply = None
            try:
                reply = await self._client().post(path, data=data)
            except httpx.HTTPError as error:  # timeouts, refused connections, broken replies
                outcome = type(error).__name__
            except Exception as error:  # noqa: BLE001 - a reply must never crash a turn
                log.error("%s: message not sent: %s", self.channel, type(error).__name__)
                return False
            else:
                if reply.status_code < 300:
                    return True
                outcome = self._outcome(reply)
                if reply.status_code != 429 and reply.status_code < 500:
                    log.error("%s: message not sent: %s", self.channel, outcome)
                    return False
            if attempt + 1 < tries:
                delay = self._delay(attempt, reply)
                log.warning("%s: send failed (%s); try %d of %d in %.1f s", self.channel,
                            outcome, attempt + 2, tries, delay)
                await asyncio.sleep(delay)
        log.error("%s: message not sent after %d tries (%s)", self.channel, tries, outcome)
        return False


# -- memory per conversation ---------------------------------------------------------------


@dataclass
class Conversation:
    """What the channel holds for one conversation key, in memory only."""

    address: str  # the phone number: needed to reply, never logged or stored
    language: str = "en"  # the language of the bot's last message, for our own messages
    audio: bool = False  # WhatsApp read-aloud, turned on with "audio on"
    pending_audio: list[tuple[str, str]] = field(default_factory=list)


class KeyedLocks:
    """One asyncio lock per conversation key, so replies go out in the order asked."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                self._locks.pop(key, None)


# -- output channel ------------------------------------------------------------------------


class TwilioOutput(OutputChannel):
    """Rasa's replies for one Twilio channel; the input channel does the sending."""

    channel_name: ClassVar[str] = ""

    @classmethod
    def name(cls) -> str:
        return cls.channel_name  # the renderer draws a numbered list for these names

    def __init__(self, channel: TwilioInput) -> None:
        self.channel = channel

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        buttons = [b for b in message.get("buttons") or [] if isinstance(b, dict)]
        if buttons:  # the renderer sends none for our channels; never lose a choice anyway
            lines = [f"{n} {b.get('title', '')}" for n, b in enumerate(buttons, 1)]
            text = "\n".join([text, *lines]) if text else "\n".join(lines)
        language = message.get("lang") if isinstance(message.get("lang"), str) else None
        await self.channel.deliver(recipient_id, text, language=language)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, **kwargs})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        return None  # the bot sends no pictures; never send a URL as text by mistake

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        return None

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        return None


class TwilioSmsOutput(TwilioOutput):
    channel_name = "twilio_sms"


class TwilioWhatsAppOutput(TwilioOutput):
    channel_name = "twilio_whatsapp"


# -- input channel -------------------------------------------------------------------------


class TwilioInput(InputChannel):
    """Common to both channels; see the module docstring."""

    channel_name: ClassVar[str] = ""
    number_env: ClassVar[str] = ""
    address_prefix: ClassVar[str] = ""  # "whatsapp:" on WhatsApp
    output_class: ClassVar[type[TwilioOutput]] = TwilioOutput
    help_key: ClassVar[str] = "sms_help"

    @classmethod
    def name(cls) -> str:
        return cls.channel_name

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TwilioInput:
        """Settings come from the environment; credentials.yml only lists the class."""
        return cls.from_env()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TwilioInput:
        config = TwilioConfig.from_env(cls, env)
        if config is None:
            log.info("%s: not configured (%s is not set); its webhook answers 503",
                     cls.channel_name, cls.number_env)
            return cls(None, None)
        try:
            keys = SenderKeys.from_env(env)
        except SenderKeyError as error:
            raise TwilioConfigError(f"{cls.channel_name}: {error}") from error
        return cls(config, keys)

    def __init__(self, config: TwilioConfig | None, keys: SenderKeys | None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if config is not None and keys is None:
            raise TwilioConfigError(f"{self.channel_name} needs a sender key secret")
        self.config = config
        self.keys = keys
        self.validator = RequestValidator(config.auth_token) if config else None
        self.rest = TwilioRest(config, self.channel_name, transport) if config else None
        self.output = self.output_class(self)
        self.conversations: sms.Bounded[str, Conversation] = sms.Bounded(
            50_000, ttl_seconds=ADDRESS_TTL_SECONDS)
        self.opted_out: sms.Bounded[str, bool] = sms.Bounded(200_000)
        self.seen: sms.Bounded[tuple[str, str], bool] = sms.Bounded(20_000)
        self.audio_sent: sms.Bounded[str, bool] = sms.Bounded(5_000)
        self.locks = KeyedLocks()
        self.tasks: set[asyncio.Task] = set()

    @property
    def configured(self) -> bool:
        return self.config is not None

    def get_output_channel(self) -> OutputChannel:
        return self.output

    # -- receiving --

    def webhook_url(self, path: str, query_string: str = "") -> str:
        """The URL Twilio called and signed: the public origin, never the Host header."""
        assert self.config is not None
        return self.config.public_base_url + path + (f"?{query_string}" if query_string else "")

    async def receive(
        self, url: str, form: Any, signature: str | None,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> tuple[int, str]:
        """Handle one webhook request; (HTTP status, body). Rasa's work goes on afterwards.

        ``form`` holds the POST parameters with every value of each (``getlist``).
        """
        if self.config is None or self.keys is None or self.validator is None:
            return 503, "this channel is not configured"
        if not signature or not self.validator.validate(url, form, signature):
            log.warning("%s: refused a request with a missing or wrong X-Twilio-Signature",
                        self.channel_name)
            return 403, "forbidden"

        def first(name: str) -> str:
            values = form.getlist(name) if hasattr(form, "getlist") else []
            return str(values[0]) if values else ""

        if first("AccountSid") != self.config.account_sid:
            log.warning("%s: refused a signed request for another Twilio account",
                        self.channel_name)
            return 403, "forbidden"
        if "".join(first("To").split()) != self.config.number:
            log.warning("%s: refused a message to a number this channel does not serve "
                        "(check %s and the number's webhook in Twilio)", self.channel_name,
                        self.number_env)
            return 403, "forbidden"
        message_sid = first("MessageSid") or first("SmsMessageSid")
        sender = "".join(first("From").split())
        if not message_sid or not sender or (
                sender.startswith("whatsapp:") != (self.address_prefix == "whatsapp:")):
            log.warning("%s: refused a request without a usable sender or MessageSid",
                        self.channel_name)
            return 400, "bad request"
        key = self.keys.key(self.channel_name, sender)
        if not self.seen.add_if_new((key, message_sid), True):
            log.info("%s: a repeated MessageSid was answered already", self.channel_name)
            return 200, EMPTY_TWIML

        conversation = self.conversations.get(key) or Conversation(sender)
        conversation.address = sender
        self.conversations.put(key, conversation)  # refreshes the hour
        text = first("Body")[:MAX_TEXT]
        try:
            media = int(first("NumMedia") or 0)
        except ValueError:
            media = 0
        self._dispatch(key, conversation, text, media, on_new_message)
        return 200, EMPTY_TWIML

    def _dispatch(self, key: str, conversation: Conversation, text: str, media: int,
                  on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        stopped = key in self.opted_out
        word = sms.keyword(text, stopped=stopped)
        whatsapp = self.address_prefix == "whatsapp:"
        if word == sms.STOP:
            self.opted_out.put(key, True)
            log.info("%s: a sender opted out; nothing more is sent to them until START",
                     self.channel_name)
            if whatsapp and not stopped:  # Twilio confirms on SMS only
                self._spawn(key, self._say(key, "sms_stopped", force=True))
            return
        if stopped:
            if word == sms.START:
                self.opted_out.pop(key)
                log.info("%s: a sender opted back in", self.channel_name)
                self._spawn(key, self._say(key, "sms_started"))
            return  # silence until START
        if word == sms.HELP:
            self._spawn(key, self._say(key, self.help_key))
            return
        if whatsapp and word in (sms.AUDIO_ON, sms.AUDIO_OFF):
            conversation.audio = word == sms.AUDIO_ON
            self._spawn(key, self._say(key, word))
            return
        if media > 0 or not text.strip():
            self._spawn(key, self._say(key, "media_not_supported"))
        if text.strip():
            self._spawn(key, self._to_rasa(key, text, on_new_message))

    def _spawn(self, key: str, job: Coroutine[Any, Any, None]) -> None:
        """Run ``job`` after the webhook has answered, in order for each conversation."""
        async def in_order() -> None:
            async with self.locks.hold(key):
                try:
                    await job
                except Exception as error:  # noqa: BLE001 - only the kind, never the text
                    log.error("%s: the message could not be handled: %s", self.channel_name,
                              type(error).__name__)
                await self._send_pending_audio(key)

        task = asyncio.get_running_loop().create_task(in_order())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def idle(self) -> None:
        """Wait until every message received so far has been handled (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def _to_rasa(self, key: str, text: str,
                       on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        await on_new_message(UserMessage(text, self.output, key, input_channel=self.name()))

    async def _say(self, key: str, message_key: str, *, force: bool = False) -> None:
        """One of the channel's own messages, in the conversation's language."""
        conversation = self.conversations.get(key)
        if conversation is None:
            return
        try:
            text = render(message_key, language=conversation.language,
                          channel=self.channel_name)["text"]
        except CatalogueError:
            log.error("%s: no words for %s", self.channel_name, message_key)
            return
        await self.deliver(key, text, language=conversation.language, force=force)

    # -- sending --

    def parts(self, text: str) -> list[str]:
        assert self.config is not None
        return sms.split_message(text, max_segments=self.config.max_segments,
                                 max_parts=self.config.max_parts)

    async def deliver(self, key: str, text: str, *, language: str | None = None,
                      force: bool = False) -> None:
        """Send one bot message to the conversation ``key``, split as the channel needs.

        Nothing goes to a sender who sent STOP (``force`` only for the WhatsApp
        confirmation of that STOP), nor to a conversation whose address was forgotten.
        """
        if self.rest is None:
            return
        conversation = self.conversations.get(key)
        if conversation is None:
            log.warning("%s: a reply for a conversation idle for over an hour was dropped",
                        self.channel_name)
            return
        if language in available_languages():
            conversation.language = language
        text = text.strip()
        if not text:
            return
        for part in self.parts(text):
            if key in self.opted_out and not force:
                return
            if not await self.rest.send(to=conversation.address, body=part):
                return  # the rest would make no sense without this part
        if conversation.audio and key not in self.opted_out:
            conversation.pending_audio.append((text, conversation.language))

    async def _send_pending_audio(self, key: str) -> None:
        conversation = self.conversations.get(key)
        if conversation is None or not conversation.pending_audio:
            return
        jobs, conversation.pending_audio = conversation.pending_audio, []
        for text, language in jobs:
            if key in self.opted_out or not conversation.audio:
                return
            await self._send_audio(conversation, text, language)

    async def _send_audio(self, conversation: Conversation, text: str, language: str) -> None:
        if self.rest is None or self.config is None or not speakable(text):
            return
        try:
            from bot.speech import for_whatsapp, speak  # the web chat's speech and its cache
        except ImportError:
            return
        speech = await for_whatsapp(await speak(text, language))  # offline WAV -> OGG/Opus
        if speech.path is None or speech.media_type not in WHATSAPP_AUDIO_TYPES:
            log.info("%s: no audio WhatsApp can play for language=%s (%s)", self.channel_name,
                     language, speech.reason or speech.media_type)
            return
        name = speech.path.name
        self.audio_sent.put(name, True)
        url = f"{self.config.public_base_url}/webhooks/{self.channel_name}/audio/{name}"
        await self.rest.send(to=conversation.address, media_url=url)

    # -- routes --

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint(f"{self.channel_name}_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.configured})

        @hook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.configured:
                return response.text("this channel is not configured", status=503)
            url = self.webhook_url(request.path, request.query_string)
            status, body = await self.receive(url, Params.from_request(request),
                                              request.headers.get("X-Twilio-Signature"),
                                              on_new_message)
            if status == 200:
                return response.text(body, content_type="text/xml; charset=utf-8")
            return response.text(body, status=status)

        @hook.route("/audio/<name:str>", methods=["GET"])
        async def audio(_: Request, name: str) -> HTTPResponse:
            if not AUDIO_NAME.fullmatch(name) or self.audio_sent.get(name) is None:
                return response.text("not found", status=404)
            try:
                from bot.speech import MEDIA_TYPES, audio_path
            except ImportError:
                return response.text("not found", status=404)
            path = audio_path(name)
            if path is None:
                return response.text("not found", status=404)
            return await response.file(path, mime_type=MEDIA_TYPES[path.suffix])

        @hook.listener("after_server_stop")
        async def close(*_: Any) -> None:
            if self.rest is not None:
                await self.rest.close()

        return hook


class TwilioSmsInput(TwilioInput):
    """SMS to the trust's number ``TWILIO_SMS_NUMBER``."""

    channel_name = "twilio_sms"
    number_env = "TWILIO_SMS_NUMBER"
    output_class = TwilioSmsOutput
    help_key = "sms_help"


class TwilioWhatsAppInput(TwilioInput):
    """WhatsApp to the trust's WhatsApp sender ``TWILIO_WHATSAPP_NUMBER``."""

    channel_name = "twilio_whatsapp"
    number_env = "TWILIO_WHATSAPP_NUMBER"
    address_prefix = "whatsapp:"
    output_class = TwilioWhatsAppOutput
    help_key = "whatsapp_help"

    def parts(self, text: str) -> list[str]:
        assert self.config is not None
        return sms.split_whatsapp(text, max_parts=self.config.max_parts)
