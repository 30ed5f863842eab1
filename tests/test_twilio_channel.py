"""The SMS and WhatsApp channels (actions/channels/twilio.py) against a fake Twilio.

Two halves:

* In process, with a stand-in for Rasa: configuration, every signature case, keyed sender
  ids, STOP/START/HELP, media, retries and what is logged when a send fails.
* Through the real Rasa server and bot server (one start for this module), signed
  webhooks in, the fake Twilio REST API out: whole visits by SMS and WhatsApp in several
  languages, then the store, the logs and Rasa's tracker are checked for phone numbers.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import secrets
import struct
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from rasa.core.channels.channel import UserMessage
from tools import require_tool
from twilio.request_validator import RequestValidator

from actions.channels.twilio import (
    EMPTY_TWIML,
    TwilioConfigError,
    TwilioInput,
    TwilioSmsInput,
    TwilioWhatsAppInput,
)
from bot import sms
from bot.catalogue import catalogue
from bot.launch import free_port, running
from bot.sender_key import SenderKeys
from tests.conftest import ensure_model, stored_responses
from tests.fake_twilio import FakeTwilio

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f" * 16 + secrets.token_hex(8)
SECRET = secrets.token_hex(32)
SMS_NUMBER = "+447700900001"
WHATSAPP_NUMBER = "+447700900002"
PUBLIC = "https://feedback.example.nhs.uk"
PALS_PHONE = "0300 123 4567"
RECEIPT = re.compile(r"PV-[23456789A-Z]{6}")
_numbers = iter(range(100, 1000))


def new_number() -> str:
    """A fresh patient number in Ofcom's drama range (07700 900xxx)."""
    return f"+447700900{next(_numbers):03d}"


def channel_env(fake: FakeTwilio, **extra: str) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_SMS_NUMBER": SMS_NUMBER, "TWILIO_WHATSAPP_NUMBER": WHATSAPP_NUMBER,
        "PUBLIC_BASE_URL": PUBLIC, "TWILIO_API_BASE_URL": fake.url, "SENDER_KEY_SECRET": SECRET,
        "TWILIO_RETRY_BACKOFF_SECONDS": "0.01", **extra,
    }


class Form(dict):
    """POST parameters with every value of each, as Sanic and the validator read them."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        for name, value in pairs:
            self.setdefault(name, []).append(value)

    def getlist(self, name: str) -> list[str]:
        return self.get(name, [])


def inbound(channel: type[TwilioInput], sender: str, body: str, *, sid: str | None = None,
            media: list[str] | None = None) -> list[tuple[str, str]]:
    """The parameters Twilio posts for an incoming message (``sender`` like +447700900123)."""
    whatsapp = channel is TwilioWhatsAppInput
    prefix = "whatsapp:" if whatsapp else ""
    ours = WHATSAPP_NUMBER if whatsapp else SMS_NUMBER
    sid = sid or "SM" + secrets.token_hex(16)
    pairs = [("ToCountry", "GB"), ("SmsMessageSid", sid), ("NumMedia", str(len(media or []))),
             ("SmsSid", sid), ("SmsStatus", "received"), ("Body", body), ("To", prefix + ours),
             ("NumSegments", "1"), ("MessageSid", sid), ("AccountSid", ACCOUNT_SID),
             ("From", prefix + sender), ("ApiVersion", "2010-04-01"), ("FromCountry", "GB")]
    if whatsapp:  # WhatsApp adds the patient's profile name and number: never kept
        pairs += [("ProfileName", "Jo Bloggs"), ("WaId", sender.lstrip("+"))]
    for n, kind in enumerate(media or []):
        pairs += [(f"MediaContentType{n}", kind),
                  (f"MediaUrl{n}", f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}"
                                   f"/Messages/MM{secrets.token_hex(16)}/Media/ME{n}")]
    return pairs


def sign(url: str, pairs: list[tuple[str, str]], token: str = AUTH_TOKEN) -> str:
    """Twilio's signature, made by the twilio package's own code."""
    return RequestValidator(token).compute_signature(url, Form(pairs))


def webhook_path(channel: type[TwilioInput]) -> str:
    return f"/webhooks/{channel.channel_name}/webhook"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        yield twilio


@pytest.fixture(autouse=True)
def clean_fake(fake: FakeTwilio) -> None:
    fake.reset()


# -- in process ----------------------------------------------------------------------------


class StandIn:
    """Rasa, as far as a channel can tell: answers every message with one reply."""

    def __init__(self, reply: str = "Which language would you like to use?",
                 lang: str = "en") -> None:
        self.reply, self.lang = reply, lang
        self.received: list[UserMessage] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.gate is not None:
            await self.gate.wait()
        await message.output_channel.send_response(
            message.sender_id, {"text": self.reply, "buttons": [], "lang": self.lang})


def make(channel: type[TwilioInput], fake: FakeTwilio, **extra: str) -> TwilioInput:
    return channel.from_env(channel_env(fake, **extra))


async def post(channel: TwilioInput, rasa: StandIn, pairs: list[tuple[str, str]], *,
               url: str | None = None, signature: str | None = "sign") -> tuple[int, str]:
    url = url or PUBLIC + webhook_path(type(channel))
    if signature == "sign":
        signature = sign(url, pairs)
    result = await channel.receive(url, Form(pairs), signature, rasa)
    await channel.idle()
    return result


def test_unconfigured_channels_answer_503_and_need_no_secret() -> None:
    for cls in (TwilioSmsInput, TwilioWhatsAppInput):
        channel = cls.from_env({})
        assert not channel.configured
        rasa = StandIn()
        assert asyncio.run(channel.receive("x", Form([]), "sig", rasa)) == (
            503, "this channel is not configured")
        assert rasa.received == []


@pytest.mark.parametrize("missing", ["TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID",
                                     "PUBLIC_BASE_URL", "SENDER_KEY_SECRET"])
def test_a_half_configured_channel_refuses_to_start(fake: FakeTwilio, missing: str) -> None:
    env = channel_env(fake)
    del env[missing]
    with pytest.raises(TwilioConfigError, match=missing):
        TwilioSmsInput.from_env(env)


@pytest.mark.parametrize("name, value", [("TWILIO_SMS_NUMBER", "07700 900001"),
                                         ("PUBLIC_BASE_URL", "feedback.example.nhs.uk"),
                                         ("SENDER_KEY_SECRET", "too-short"),
                                         ("TWILIO_SMS_MAX_SEGMENTS", "0")])
def test_bad_settings_refuse_to_start(fake: FakeTwilio, name: str, value: str) -> None:
    with pytest.raises(TwilioConfigError):
        TwilioSmsInput.from_env(channel_env(fake, **{name: value}))


def test_whatsapp_number_may_be_given_with_or_without_prefix(fake: FakeTwilio) -> None:
    for number in (WHATSAPP_NUMBER, "whatsapp:" + WHATSAPP_NUMBER):
        channel = make(TwilioWhatsAppInput, fake, TWILIO_WHATSAPP_NUMBER=number)
        assert channel.config is not None and channel.config.number == "whatsapp:" + WHATSAPP_NUMBER


async def test_a_message_reaches_rasa_under_a_keyed_hash(fake: FakeTwilio) -> None:
    channel, rasa, number = make(TwilioSmsInput, fake), StandIn(), new_number()
    assert await post(channel, rasa, inbound(TwilioSmsInput, number, "hello")) == (
        200, EMPTY_TWIML)
    [message] = rasa.received
    assert message.sender_id == SenderKeys(SECRET).key("twilio_sms", number)
    assert re.fullmatch(r"sms:[0-9a-f]{64}", message.sender_id)
    assert message.input_channel == "twilio_sms" and message.text == "hello"
    assert message.output_channel.name() == "twilio_sms"  # the renderer numbers the options
    assert message.metadata is None  # nothing from Twilio's request rides along
    assert number not in repr(vars(message))
    [sent] = fake.to(number)
    assert (sent.from_, sent.body) == (SMS_NUMBER, "Which language would you like to use?")


async def test_whatsapp_keys_and_replies_with_the_prefix(fake: FakeTwilio) -> None:
    channel, rasa, number = make(TwilioWhatsAppInput, fake), StandIn(), new_number()
    await post(channel, rasa, inbound(TwilioWhatsAppInput, number, "hi"))
    [message] = rasa.received
    assert message.sender_id == SenderKeys(SECRET).key("twilio_whatsapp", "whatsapp:" + number)
    assert message.input_channel == "twilio_whatsapp"
    [sent] = fake.to("whatsapp:" + number)
    assert sent.from_ == "whatsapp:" + WHATSAPP_NUMBER
    assert "Jo Bloggs" not in repr(vars(message))


SIGNATURE_CASES = {
    # name: (how to sign or change the request, accepted?)
    "signed": (lambda url, pairs: (url, pairs, sign(url, pairs)), True),
    "missing": (lambda url, pairs: (url, pairs, None), False),
    "empty": (lambda url, pairs: (url, pairs, ""), False),
    "wrong token": (lambda url, pairs: (url, pairs, sign(url, pairs, "wrong" * 6)), False),
    "http, not https": (lambda url, pairs: (url, pairs, sign(
        url.replace("https://", "http://"), pairs)), False),
    "another host": (lambda url, pairs: (url, pairs, sign(
        url.replace("feedback.", "evil."), pairs)), False),
    "with the default port": (lambda url, pairs: (url, pairs, sign(
        url.replace(".uk/", ".uk:443/"), pairs)), True),
    "with another port": (lambda url, pairs: (url, pairs, sign(
        url.replace(".uk/", ".uk:8443/"), pairs)), False),
    "reordered": (lambda url, pairs: (url, pairs[::-1], sign(url, pairs)), True),
    "repeated": (lambda url, pairs: (url, [*pairs, ("X", "b"), ("X", "a")],
                                     sign(url, [*pairs, ("X", "a"), ("X", "b")])), True),
    "an extra repeated value": (lambda url, pairs: (url, [*pairs, ("X", "a"), ("X", "b")],
                                                    sign(url, [*pairs, ("X", "a")])), False),
    "tampered body": (lambda url, pairs: (url, [(k, "2" if k == "Body" else v)
                                                for k, v in pairs], sign(url, pairs)), False),
    "added parameter": (lambda url, pairs: (url, [*pairs, ("Extra", "1")],
                                            sign(url, pairs)), False),
    "another sender": (lambda url, pairs: (url, [(k, "+447700900999" if k == "From" else v)
                                                 for k, v in pairs], sign(url, pairs)), False),
}


@pytest.mark.parametrize("case", SIGNATURE_CASES)
async def test_signature_cases(fake: FakeTwilio, case: str) -> None:
    channel, rasa, number = make(TwilioSmsInput, fake), StandIn(), new_number()
    change, accepted = SIGNATURE_CASES[case]
    url, pairs, signature = change(PUBLIC + webhook_path(TwilioSmsInput),
                                   inbound(TwilioSmsInput, number, "1"))
    status, _ = await post(channel, rasa, pairs, url=url, signature=signature)
    assert (status == 200) is accepted and (status == 403) is not accepted
    assert len(rasa.received) == int(accepted)  # a refused request never reaches Rasa
    assert len(fake.to(number)) == int(accepted)


async def test_a_public_url_with_a_port_and_path_is_what_is_signed(fake: FakeTwilio) -> None:
    base = "https://bots.example.nhs.uk:8443/feedback"
    channel, rasa = make(TwilioSmsInput, fake, PUBLIC_BASE_URL=base + "/"), StandIn()
    path = webhook_path(TwilioSmsInput)
    assert channel.webhook_url(path, "x=1") == f"{base}{path}?x=1"
    pairs = inbound(TwilioSmsInput, new_number(), "1")
    assert (await post(channel, rasa, pairs, url=base + path))[0] == 200
    # The twilio package also accepts the URL without its port (Twilio signs either way).
    pairs = inbound(TwilioSmsInput, new_number(), "1")
    assert (await post(channel, rasa, pairs, url=base + path,
                       signature=sign(base.replace(":8443", "") + path, pairs)))[0] == 200
    pairs = inbound(TwilioSmsInput, new_number(), "1")
    assert (await post(channel, rasa, pairs, url=base + path,
                       signature=sign(base.replace("/feedback", "") + path, pairs)))[0] == 403


async def test_signed_requests_for_another_account_or_number_are_refused(
        fake: FakeTwilio) -> None:
    channel, rasa = make(TwilioSmsInput, fake), StandIn()
    pairs = [(k, "AC" + "9" * 32 if k == "AccountSid" else v)
             for k, v in inbound(TwilioSmsInput, new_number(), "1")]
    assert (await post(channel, rasa, pairs))[0] == 403
    pairs = [(k, "+447700900555" if k == "To" else v)
             for k, v in inbound(TwilioSmsInput, new_number(), "1")]
    assert (await post(channel, rasa, pairs))[0] == 403
    whatsapp_sender = [(k, "whatsapp:" + v if k == "From" else v)
                       for k, v in inbound(TwilioSmsInput, new_number(), "1")]
    assert (await post(channel, rasa, whatsapp_sender))[0] == 400
    assert rasa.received == []


async def test_a_replayed_message_sid_is_answered_once(fake: FakeTwilio) -> None:
    channel, rasa, number = make(TwilioSmsInput, fake), StandIn(), new_number()
    pairs = inbound(TwilioSmsInput, number, "hello", sid="SM" + "1" * 32)
    for _ in range(3):
        assert await post(channel, rasa, pairs) == (200, EMPTY_TWIML)
    assert len(rasa.received) == 1 and len(fake.to(number)) == 1
    # the same MessageSid from another sender is another message
    assert (await post(channel, rasa, inbound(TwilioSmsInput, new_number(), "hi",
                                              sid="SM" + "1" * 32)))[0] == 200
    assert len(rasa.received) == 2


async def test_stop_means_silence_until_start(fake: FakeTwilio) -> None:
    channel, rasa, number = make(TwilioSmsInput, fake), StandIn(), new_number()
    await post(channel, rasa, inbound(TwilioSmsInput, number, "hello"))
    assert len(fake.to(number)) == 1
    for said in ("STOP", "1", "yes please", "HELP", "hello"):
        assert (await post(channel, rasa, inbound(TwilioSmsInput, number, said)))[0] == 200
    assert len(rasa.received) == 1 and len(fake.to(number)) == 1  # Twilio confirms STOP
    await post(channel, rasa, inbound(TwilioSmsInput, number, "Start"))
    assert "Welcome back" in fake.to(number)[-1].body and len(rasa.received) == 1
    await post(channel, rasa, inbound(TwilioSmsInput, number, "1"))
    assert len(rasa.received) == 2 and len(fake.to(number)) == 3


async def test_yes_resubscribes_only_after_stop(fake: FakeTwilio) -> None:
    channel, rasa, number = make(TwilioSmsInput, fake), StandIn(), new_number()
    await post(channel, rasa, inbound(TwilioSmsInput, number, "yes"))
    assert [m.text for m in rasa.received] == ["yes"]  # an answer to the survey
    await post(channel, rasa, inbound(TwilioSmsInput, number, "unsubscribe"))
    await post(channel, rasa, inbound(TwilioSmsInput, number, "YES"))
    assert "Welcome back" in fake.to(number)[-1].body


async def test_stop_during_a_turn_stops_its_replies(fake: FakeTwilio) -> None:
    channel, rasa, number = make(TwilioSmsInput, fake), StandIn(), new_number()
    rasa.gate = asyncio.Event()
    url = PUBLIC + webhook_path(TwilioSmsInput)
    first = inbound(TwilioSmsInput, number, "hello")
    assert (await channel.receive(url, Form(first), sign(url, first), rasa))[0] == 200
    await asyncio.sleep(0.05)  # Rasa is thinking
    stop = inbound(TwilioSmsInput, number, "stop")
    assert (await channel.receive(url, Form(stop), sign(url, stop), rasa))[0] == 200
    rasa.gate.set()
    await channel.idle()
    assert fake.to(number) == []


async def test_whatsapp_confirms_stop_once(fake: FakeTwilio) -> None:
    channel, rasa, number = make(TwilioWhatsAppInput, fake), StandIn(), new_number()
    for said in ("STOP", "stop", "hello"):
        await post(channel, rasa, inbound(TwilioWhatsAppInput, number, said))
    [sent] = fake.to("whatsapp:" + number)  # Twilio does not confirm on WhatsApp: we do
    assert "START" in sent.body and rasa.received == []


async def test_help_names_pals_in_the_conversation_language(fake: FakeTwilio) -> None:
    channel, number = make(TwilioSmsInput, fake), new_number()
    await post(channel, StandIn("Czy zaczynamy?", lang="pl"),
               inbound(TwilioSmsInput, number, "3"))
    await post(channel, StandIn(), inbound(TwilioSmsInput, number, "HELP"))
    said = "\n".join(m.body for m in fake.to(number)[1:])
    assert PALS_PHONE in said and "STOP" in said
    assert catalogue("pl").message("sms_help").split("\n")[1] in said  # in Polish


async def test_media_gets_a_kind_reply_and_a_caption_is_still_read(fake: FakeTwilio) -> None:
    channel, rasa, number = make(TwilioWhatsAppInput, fake), StandIn(), new_number()
    await post(channel, rasa, inbound(TwilioWhatsAppInput, number, "", media=["audio/ogg"]))
    [reply] = fake.to("whatsapp:" + number)
    assert "only read typed messages" in reply.body and PALS_PHONE in reply.body
    assert "111" in reply.body and rasa.received == []
    await post(channel, rasa, inbound(TwilioWhatsAppInput, number, "hello",
                                      media=["image/jpeg"]))
    replies = [m.body for m in fake.to("whatsapp:" + number)[1:]]
    assert "only read typed messages" in replies[0]
    assert replies[1] == "Which language would you like to use?"
    assert [m.text for m in rasa.received] == ["hello"]


async def test_long_replies_are_split_for_sms(fake: FakeTwilio) -> None:
    from bot.renderer import render

    barriers = render("ask_barriers", language="ur", channel="twilio_sms")["text"]
    channel, number = make(TwilioSmsInput, fake), new_number()
    await post(channel, StandIn(barriers, lang="ur"), inbound(TwilioSmsInput, number, "1"))
    sent = [m.body for m in fake.to(number)]
    assert len(sent) == 2 and "\n".join(sent) == barriers
    assert all(sms.count_segments(body).segments <= 4 for body in sent)


async def test_a_failed_send_is_retried_then_logged_without_text_or_number(
        fake: FakeTwilio, caplog: pytest.LogCaptureFixture) -> None:
    channel, number = make(TwilioSmsInput, fake, TWILIO_SEND_RETRIES="2"), new_number()
    secret_text = "Call Nurse Bloggs on 07700 900987"
    caplog.set_level(logging.INFO)
    fake.fail_next(500)
    fake.fail_next(429, retry_after="0")
    await post(channel, StandIn(secret_text), inbound(TwilioSmsInput, number, "1"))
    assert [m.body for m in fake.to(number)] == [secret_text]  # the third try worked
    fake.fail_next(503, times=3)
    before = fake.attempts
    await post(channel, StandIn(secret_text), inbound(TwilioSmsInput, number, "2"))
    assert fake.attempts - before == 3 and len(fake.to(number)) == 1
    assert "message not sent after 3 tries (HTTP 503, Twilio error 20500)" in caplog.text
    fake.fail_next(400, code=21610)  # unsubscribed on Twilio's side: no retry
    before = fake.attempts
    await post(channel, StandIn(secret_text), inbound(TwilioSmsInput, number, "3"))
    assert fake.attempts - before == 1
    assert "Twilio error 21610" in caplog.text
    for secret in (number, number[1:], "7700900", "Bloggs", "900987"):
        assert secret not in caplog.text


async def test_a_slow_twilio_times_out_and_is_retried(fake: FakeTwilio) -> None:
    channel = make(TwilioSmsInput, fake, TWILIO_SEND_TIMEOUT_SECONDS="0.3")
    number = new_number()
    fake.delay_next(1.0)
    started = time.monotonic()
    await post(channel, StandIn("ok"), inbound(TwilioSmsInput, number, "1"))
    assert time.monotonic() - started < 5
    assert [m.body for m in fake.to(number)] == ["ok"]  # the retry got through


async def test_the_event_loop_is_free_while_sending(fake: FakeTwilio) -> None:
    channel, number = make(TwilioSmsInput, fake), new_number()
    fake.delay_next(0.5)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await post(channel, StandIn("ok"), inbound(TwilioSmsInput, number, "1"))
    ticker.cancel()
    assert ticks > 20  # a blocking client would have frozen the loop for 0.5 s


async def test_read_aloud_on_whatsapp_sends_audio(
        fake: FakeTwilio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.speech as speech

    spoken: list[tuple[str, str]] = []

    async def speak(text: str, language: str, **_: object) -> speech.Speech:
        spoken.append((text, language))
        path = tmp_path / f"{'a' * 64}.mp3"
        path.write_bytes(b"ID3 fake mp3")
        return speech.Speech(path=path, media_type="audio/mpeg", voice="gtts", reason=None)

    monkeypatch.setattr(speech, "speak", speak)
    channel, rasa, number = make(TwilioWhatsAppInput, fake), StandIn(), new_number()
    address = "whatsapp:" + number
    await post(channel, rasa, inbound(TwilioWhatsAppInput, number, "hello"))
    assert [m.media_urls for m in fake.to(address)] == [[]] and spoken == []
    await post(channel, rasa, inbound(TwilioWhatsAppInput, number, "Audio on"))
    *_, confirmed, confirmation_audio = fake.to(address)  # the confirmation is spoken too
    assert "audio off" in confirmed.body and confirmation_audio.media_urls
    await post(channel, rasa, inbound(TwilioWhatsAppInput, number, "1"))
    *_, text_message, audio_message = fake.to(address)
    assert text_message.body == rasa.reply and not audio_message.body
    assert audio_message.media_urls == [
        f"{PUBLIC}/webhooks/twilio_whatsapp/audio/{'a' * 64}.mp3"]
    assert channel.audio_sent.get(f"{'a' * 64}.mp3")
    assert spoken[-1] == (rasa.reply, "en")
    await post(channel, StandIn("Your receipt code is PV-ABC234."),
               inbound(TwilioWhatsAppInput, number, "2"))
    assert not fake.to(address)[-1].media_urls  # a receipt code is never spoken or cached
    await post(channel, rasa, inbound(TwilioWhatsAppInput, number, "audio off"))
    count = len(fake.to(address))
    await post(channel, rasa, inbound(TwilioWhatsAppInput, number, "3"))
    assert len(fake.to(address)) == count + 1 and not fake.to(address)[-1].media_urls


async def test_an_offline_voice_wav_goes_to_whatsapp_as_ogg(
        fake: FakeTwilio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.speech as speech

    require_tool("ffmpeg")
    cache = tmp_path / "audio"
    cache.mkdir()
    monkeypatch.setenv("AUDIO_CACHE_DIR", str(cache))
    wav = cache / f"{'b' * 64}.wav"
    with wave.open(str(wav), "wb") as audio:  # what espeak-ng makes: 22.05 kHz, 16-bit mono
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(22050)
        audio.writeframes(b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 22050)))
            for i in range(22050)))

    async def speak(text: str, language: str, **_: object) -> speech.Speech:
        return speech.Speech(path=wav, media_type="audio/wav", voice="espeak-ng", reason=None)

    monkeypatch.setattr(speech, "speak", speak)
    channel, rasa, number = make(TwilioWhatsAppInput, fake), StandIn(), new_number()
    address = "whatsapp:" + number
    await post(channel, rasa, inbound(TwilioWhatsAppInput, number, "audio on"))
    await post(channel, rasa, inbound(TwilioWhatsAppInput, number, "1"))
    *_, text_message, audio_message = fake.to(address)
    assert text_message.body == rasa.reply and not audio_message.body
    (url,) = audio_message.media_urls
    prefix = f"{PUBLIC}/webhooks/twilio_whatsapp/audio/"
    assert url.startswith(prefix) and url.endswith(".ogg")
    name = url.removeprefix(prefix)
    assert re.fullmatch(r"[0-9a-f]{64}\.ogg", name) and name != f"{'b' * 64}.ogg"
    assert channel.audio_sent.get(name)
    served = speech.audio_path(name)
    assert served is not None and served.parent == cache
    assert served.read_bytes()[:4] == b"OggS"
    assert speech.MEDIA_TYPES[served.suffix] == "audio/ogg"
    assert all(".wav" not in u for m in fake.to(address) for u in m.media_urls)


# -- through the real Rasa server and bot server ----------------------------------------------


@dataclass
class Bot:
    rasa_url: str
    database_url: str
    logs: list[Path]
    fake: FakeTwilio

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.logs)

    def responses(self) -> dict[str, dict]:
        return stored_responses(self.database_url)

    def new_response(self, before: dict) -> dict:
        fresh = [r for rid, r in self.responses().items() if rid not in before]
        assert len(fresh) == 1, f"expected one new response, found {len(fresh)}"
        return fresh[0]


@pytest.fixture(scope="module")
def bot(fake: FakeTwilio, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    ensure_model()
    work = tmp_path_factory.mktemp("twilio")
    database_url = f"sqlite:///{work / 'answers.db'}"
    env = {**channel_env(fake), "DATABASE_URL": database_url, "BOT_SERVER_LOG_LEVEL": "INFO",
           "TRANSLATION_INTERVAL_SECONDS": "0", "SPEECH_ONLINE": "off",
           "AUDIO_CACHE_DIR": str(work / "audio")}
    with running(log_dir=work, rasa_port=free_port(), bot_port=free_port(),
                 extra_env=env) as up:
        yield Bot(up.rasa_url, database_url, up.logs(), fake)


class Phone:
    """A patient texting the trust's number through Twilio (signed webhooks)."""

    def __init__(self, bot: Bot, channel: type[TwilioInput], number: str | None = None) -> None:
        self.bot, self.channel = bot, channel
        self.number = number or new_number()
        self.address = ("whatsapp:" if channel is TwilioWhatsAppInput else "") + self.number

    def post(self, body: str, *, media: list[str] | None = None,
             pairs: list[tuple[str, str]] | None = None) -> httpx.Response:
        pairs = pairs or inbound(self.channel, self.number, body, media=media)
        path = webhook_path(self.channel)
        return httpx.post(self.bot.rasa_url + path, content=urlencode(pairs), timeout=30,
                          headers={"X-Twilio-Signature": sign(PUBLIC + path, pairs),
                                   "Content-Type": "application/x-www-form-urlencoded"})

    def says(self, body: str, *, media: list[str] | None = None, expect: int = 1) -> str:
        """Send ``body``; everything the bot sent back, joined."""
        before = len(self.bot.fake.to(self.address))
        reply = self.post(body, media=media)
        assert reply.status_code == 200 and reply.text == EMPTY_TWIML
        assert reply.headers["content-type"].startswith("text/xml")
        sent = self.bot.fake.wait_for(self.address, before + expect)
        return "\n".join(m.body for m in sent[before:])

    def silent_after(self, body: str) -> None:
        before = len(self.bot.fake.to(self.address))
        assert self.post(body).status_code == 200
        time.sleep(1.5)
        assert len(self.bot.fake.to(self.address)) == before, body

    def choose_language(self, name: str) -> str:
        menu = self.says("hello")
        assert "Which language" in menu and "\n1 English\n" in menu
        number = next(line.split(" ", 1)[0] for line in menu.split("\n")
                      if line.split(" ", 1)[-1] == name)
        return self.says(number)


@pytest.mark.servers
def test_a_whole_visit_by_sms(bot: Bot) -> None:
    before = bot.responses()
    phone = Phone(bot, TwilioSmsInput)
    welcome = phone.choose_language("English")
    assert "Example NHS Foundation Trust" in welcome and "\n1 Yes, start\n2 No, not now" in welcome
    assert "Who is answering" in phone.says("yes")
    assert "Which service" in phone.says("1")
    rating = phone.says("1")
    assert rating.startswith("Overall, how was your experience of our service?\n1 Very good\n")
    assert "why you gave that answer" in phone.says("one")
    assert "hard to get care" in phone.says("The midwife was kind. Text me on 07700 900123")
    assert "Tell us more" in phone.says("1 3")
    assert "made your experience better" in phone.says("The bus only comes twice a day")
    assert "questions about you" in phone.says("An interpreter")
    assert "plan and change services" in phone.says("no")
    ending = phone.says("2", expect=2)
    assert RECEIPT.search(ending) and "PALS" in ending and "999" in ending
    assert all(sms.count_segments(m.body).segments <= 4 for m in bot.fake.to(phone.number))

    stored = bot.new_response(before)
    assert (stored["status"], stored["channel"], stored["language"]) == (
        "complete", "twilio_sms", "en")
    answers = stored["answers"]
    assert all(a["channel"] == "twilio_sms" for a in answers.values() if "channel" in a)
    assert "very_good" in str(answers["rating"]["choices"])
    assert "travel" in str(answers["barriers"]["choices"])
    assert "language" in str(answers["barriers"]["choices"])
    assert "[PHONE]" in answers["rating_reason"]["text"]


@pytest.mark.servers
def test_a_whole_visit_by_whatsapp_in_polish(bot: Bot) -> None:
    polish = catalogue("pl")
    before = bot.responses()
    phone = Phone(bot, TwilioWhatsAppInput)
    welcome = phone.choose_language("Polski")
    assert "Czy zaczynamy?" in welcome and "\n1 " + polish.choice("start") in welcome
    assert polish.message("ask_respondent") in phone.says("tak")
    assert polish.message("ask_service") in phone.says("jeden")
    assert polish.message("ask_rating") in phone.says("1")
    assert polish.message("ask_rating_reason") in phone.says("dwa")
    barriers = phone.says("Pielęgniarki były bardzo miłe")
    assert polish.message("ask_barriers") in barriers and "12 " + polish.choice("nothing") in (
        barriers)  # one WhatsApp message holds every option
    assert polish.message("ask_improve") in phone.says("12")
    assert polish.message("ask_about_you").split("\n")[0] in phone.says("Więcej parkingu")
    assert polish.message("ask_involvement").split("\n")[0] in phone.says("nie")
    assert RECEIPT.search(phone.says("nie", expect=2))

    stored = bot.new_response(before)
    assert (stored["status"], stored["channel"], stored["language"]) == (
        "complete", "twilio_whatsapp", "pl")
    assert "good" in str(stored["answers"]["rating"]["choices"])
    assert "very_good" not in str(stored["answers"]["rating"]["choices"])
    assert "nothing" in str(stored["answers"]["barriers"]["choices"])


NUMBERED = [  # language, then typed answers to welcome, respondent, service, rating
    ("Cymraeg", "ie", "un", "1", "dau", "good"),
    ("اردو", "1", "ایک", "1", "تین", "neither"),
    ("Română", "da", "unu", "2", "1", "very_good"),
    ("ਪੰਜਾਬੀ", "ਹਾਂ", "1", "1", "ਚਾਰ", "poor"),
]


@pytest.mark.servers
@pytest.mark.parametrize("language, welcome, respondent, service, rating, value", NUMBERED,
                         ids=[row[0] for row in NUMBERED])
def test_numbered_answers_by_sms_in_other_languages(
        bot: Bot, language: str, welcome: str, respondent: str, service: str, rating: str,
        value: str) -> None:
    before = bot.responses()
    phone = Phone(bot, TwilioSmsInput)
    menu_language = phone.choose_language(language)
    code = next(c for c in ("cy", "ur", "ro", "pa") if catalogue(c).name == language)
    words = catalogue(code)
    assert words.choice("start") in menu_language
    assert words.message("ask_respondent") in phone.says(welcome)
    assert words.message("ask_service") in phone.says(respondent)
    asked = phone.says(service)
    assert words.message("ask_rating") in asked and f"\n1 {words.choice('very_good')}" in asked
    assert words.message("ask_rating_reason") in phone.says(rating)
    stored = bot.new_response(before)
    assert (stored["channel"], stored["language"]) == ("twilio_sms", code)
    assert stored["answers"]["rating"]["choices"] in (f'["{value}"]', [value])


@pytest.mark.servers
def test_stop_start_and_help_by_sms(bot: Bot) -> None:
    phone = Phone(bot, TwilioSmsInput)
    assert "wants to hear about your care" in phone.choose_language("English")
    said = phone.says("HELP")
    assert PALS_PHONE in said and "STOP" in said and "Example NHS Foundation Trust" in said
    phone.silent_after("STOP")
    phone.silent_after("1")
    phone.silent_after("help")
    assert "Welcome back" in phone.says("START")
    assert "Shall we start?" in phone.says("repeat")  # the conversation carries on

    # Rasa's tracker is keyed by the hash: the REST channel with that key reaches this
    # conversation, and with the phone number it reaches nothing (a new conversation).
    key = SenderKeys(SECRET).key("twilio_sms", phone.number)
    rest = bot.rasa_url + "/webhooks/rest/webhook"
    by_key = httpx.post(rest, json={"sender": key, "message": "repeat"}, timeout=60).json()
    assert "Shall we start?" in by_key[0]["text"]
    by_number = httpx.post(rest, json={"sender": phone.number, "message": "repeat"},
                           timeout=60).json()
    assert "Which language" in by_number[0]["text"]


@pytest.mark.servers
def test_a_voice_note_by_whatsapp(bot: Bot) -> None:
    before = bot.responses()
    phone = Phone(bot, TwilioWhatsAppInput)
    said = phone.says("", media=["audio/ogg"])
    assert "only read typed messages" in said and PALS_PHONE in said and "111" in said
    said = phone.says("hi", media=["image/jpeg"], expect=2)
    assert "only read typed messages" in said and "Which language" in said
    assert bot.responses().keys() == before.keys()


@pytest.mark.servers
def test_signatures_over_http(bot: Bot) -> None:
    path = webhook_path(TwilioSmsInput)
    url = bot.rasa_url + path

    def send(pairs: list[tuple[str, str]], signature: str | None,
             query: str = "") -> httpx.Response:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return httpx.post(url + query, content=urlencode(pairs), headers=headers, timeout=30)

    refused: list[str] = []
    for case, (change, accepted) in SIGNATURE_CASES.items():
        number = new_number()
        signed_url, pairs, signature = change(PUBLIC + path,
                                              inbound(TwilioSmsInput, number, "hello"))
        reply = send(pairs, signature)
        assert reply.status_code == (200 if accepted else 403), case
        if accepted:
            assert "Which language" in bot.fake.wait_for(number, 1)[0].body, case
        else:
            refused.append(number)
    number = new_number()  # the query string is part of what is signed
    pairs = inbound(TwilioSmsInput, number, "hello")
    assert send(pairs, sign(PUBLIC + path + "?v=1", pairs), "?v=1").status_code == 200
    assert send(inbound(TwilioSmsInput, new_number(), "hello"), sign(PUBLIC + path, pairs),
                "?v=1").status_code == 403
    number = new_number()  # replayed: one answer
    pairs = inbound(TwilioSmsInput, number, "hello")
    for _ in range(3):
        assert send(pairs, sign(PUBLIC + path, pairs)).status_code == 200
    time.sleep(1.5)
    assert len(bot.fake.to(number)) == 1
    assert all(bot.fake.to(n) == [] for n in refused)
    assert httpx.get(bot.rasa_url + "/webhooks/twilio_whatsapp/audio/" + "c" * 64 + ".mp3",
                     timeout=10).status_code == 404  # only audio this channel sent


@pytest.mark.servers
def test_no_phone_number_in_the_store_the_logs_or_the_tracker(bot: Bot) -> None:
    """After every visit above: numbers live only in the fake Twilio's records."""
    phone = Phone(bot, TwilioWhatsAppInput)
    phone.choose_language("English")
    phone.says("yes")
    phone.says("1")
    phone.says("1")
    phone.says("1")
    phone.says("Ring me on 07700 900321, ask for Jo Bloggs")
    phone.says("STOP")  # WhatsApp confirms it; the channel logs that someone opted out
    numbers = {m.to for m in bot.fake.sent}
    assert len(numbers) > 10
    db_bytes = Path(bot.database_url.removeprefix("sqlite:///")).read_bytes()
    logs = bot.log_text()
    assert "twilio_whatsapp: a sender opted out" in logs  # the channel's lines are here
    for number in numbers:
        digits = number.removeprefix("whatsapp:").lstrip("+")
        for form in (digits, digits[2:], "0" + digits[2:]):
            assert form.encode() not in db_bytes, form
            assert form not in logs, form
        key = SenderKeys(SECRET).key(
            "twilio_whatsapp" if number.startswith("whatsapp:") else "twilio_sms", number)
        assert key.split(":")[1] not in logs  # not even the keyed hash
    for secret in ("7700900", "900321", "Bloggs", AUTH_TOKEN, SECRET):
        assert secret.encode() not in db_bytes and secret not in logs, secret
    for row in bot.responses().values():
        assert "7700900" not in repr(row)
