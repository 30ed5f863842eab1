"""The web chat channel (actions/channels/web.py) over HTTP.

Most tests talk to the real Rasa server and bot server on loopback, as the widget does;
a few run the channel in this process with a stand-in for Rasa, where a test must count
how often Rasa is called or give speech a language without a voice.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import secrets
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sanic import Sanic

from actions.channels import web as channel
from bot.catalogue import LANGUAGES_DIR
from bot.launch import free_port, running
from tests.conftest import ensure_model, stored_responses

TRUST = "https://trust.example"
SENDER_LIMIT, CLIENT_LIMIT = 12, 25
USED_SENDERS: list[str] = []  # none of these may appear in any log


def new_sender() -> str:
    sender = secrets.token_urlsafe(18)
    USED_SENDERS.append(sender)
    return sender


def new_id() -> str:
    return secrets.token_urlsafe(12)


# -- the widget's words in every language -------------------------------------------------


def language_files() -> list[Path]:
    return sorted(LANGUAGES_DIR.glob("*.yml"))


@pytest.mark.parametrize("path", language_files(), ids=lambda p: p.stem)
def test_every_language_has_exactly_the_widget_words(path: Path) -> None:
    english = yaml.safe_load((LANGUAGES_DIR / "en.yml").read_text(encoding="utf-8"))["widget"]
    words = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("widget")
    assert isinstance(words, dict), f"{path.name} has no widget: section"
    assert set(words) == set(english), path.name
    for key, value in words.items():
        assert isinstance(value, str) and value.strip(), f"{path.name} widget.{key} is empty"


def test_the_english_widget_words_are_the_ones_patients_expect() -> None:
    words = channel.widget_strings()["languages"]["en"]["widget"]
    assert words["launcher"] == "Give feedback"
    assert words["input_label"] == "Type your answer"
    assert words["offline"] == "Cannot reach the server. Try again."
    assert words["no_voice"] == "No voice for this language"


# -- small pieces ----------------------------------------------------------------------


def test_origins_are_normalised() -> None:
    assert channel.normalise_origin("https://Trust.Example:443/") == "https://trust.example"
    assert channel.normalise_origin("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    for bad in ("null", "file://", "javascript:alert(1)", "trust.example", "https://x:99999"):
        assert channel.normalise_origin(bad) is None, bad
    assert channel.parse_origins(" https://a.example, ,http://b.example:81 ,null") == {
        "https://a.example", "http://b.example:81"}


def test_rate_limiter_counts_a_sliding_minute() -> None:
    now = [1000.0]
    limiter = channel.RateLimiter(3, 60, clock=lambda: now[0])
    assert [limiter.retry_after("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.retry_after("a") == 60
    assert limiter.retry_after("b") == 0  # other keys are not affected
    now[0] += 45
    assert limiter.retry_after("a") == 15
    now[0] += 15
    assert limiter.retry_after("a") == 0


def test_rate_limiter_forgets_the_oldest_keys() -> None:
    limiter = channel.RateLimiter(1, 60, max_keys=2)
    for key in ("a", "b", "c"):
        limiter.retry_after(key)
    assert list(limiter.events) == ["b", "c"]


def test_options_come_from_credentials_and_the_environment_wins() -> None:
    options = channel.Options.from_settings(
        {"allowed_origins": ["https://a.example"], "messages_per_minute_per_sender": 5},
        environ={"WEB_ALLOWED_ORIGINS": "https://b.example,https://c.example",
                 "WEB_TRUSTED_PROXY_HOPS": "1"})
    assert options.allowed_origins == {"https://b.example", "https://c.example"}
    assert options.messages_per_minute_per_sender == 5
    assert options.trusted_proxy_hops == 1
    assert options.max_body_bytes == 16 * 1024
    assert channel.Options.from_settings(None, environ={}).allowed_origins == frozenset()


@pytest.mark.parametrize("body, error", [
    (b"not json", "invalid_json"),
    (b"[1, 2]", "invalid_json"),
    (b'{"sender": "short", "message": "hi", "message_id": "abcdefgh"}', "invalid_sender"),
    (b'{"sender": "+447700900123 0000000", "message": "hi", "message_id": "abcdefgh"}',
     "invalid_sender"),
    (b'{"sender": "' + b"a" * 65 + b'", "message": "hi", "message_id": "abcdefgh"}',
     "invalid_sender"),
    (b'{"sender": "aaaaaaaaaaaaaaaaaaaa", "message": "hi"}', "invalid_message_id"),
    (b'{"sender": "aaaaaaaaaaaaaaaaaaaa", "message": "hi", "message_id": "a/b"}',
     "invalid_message_id"),
    (b'{"sender": "aaaaaaaaaaaaaaaaaaaa", "message": 5, "message_id": "abcdefgh"}',
     "invalid_message"),
    (b'{"sender": "aaaaaaaaaaaaaaaaaaaa", "message": "  ", "message_id": "abcdefgh"}',
     "invalid_message"),
])
def test_bad_turns_are_refused(body: bytes, error: str) -> None:
    with pytest.raises(channel.Refused) as refused:
        channel.parse_turn(body)
    assert refused.value.error == error


def test_only_the_easy_read_switch_rides_along() -> None:
    turn = channel.parse_turn(json.dumps({
        "sender": "a" * 20, "message": "hi", "message_id": "abcdefgh",
        "metadata": {"easy_read": True, "sender": "someone-else", "channel": "sms"}}).encode())
    assert turn.metadata == {"easy_read": True}
    turn = channel.parse_turn(json.dumps({
        "sender": "a" * 20, "message": "hi", "message_id": "abcdefgh",
        "metadata": {"easy_read": "yes"}}).encode())
    assert turn.metadata is None


def test_strings_are_safe_inside_a_script() -> None:
    made = channel.script_json({"a": "</script><b>\u2028"})
    assert "<" not in made and ">" not in made and "\u2028" not in made
    assert json.loads(made) == {"a": "</script><b>\u2028"}


# -- in this process, with a stand-in for Rasa -----------------------------------------------


@dataclass
class FakeRasa:
    calls: list[str]
    app: Sanic
    client: httpx.AsyncClient | None = None


_FAKE: list[FakeRasa] = []  # one app per process: Sanic 21.12 cannot start a second one


async def fake_app() -> FakeRasa:
    if not _FAKE:
        calls: list[str] = []

        async def on_new_message(message: Any) -> None:
            calls.append(message.text)
            await asyncio.sleep(0.3)  # slow enough for retries to arrive while it works
            await message.output_channel.send_response(message.sender_id, {
                "text": "Ydych chi eisiau dechrau?", "buttons": [{"title": "Ie", "payload": "/x"}],
                "lang": "cy", "dir": "ltr", "key": "welcome", "timestamp": 1})

        web = channel.WebChatInput(channel.Options(allowed_origins=frozenset({TRUST})))
        app = Sanic(f"web_test_{secrets.token_hex(4)}")
        app.blueprint(web.blueprint(on_new_message), url_prefix="/webhooks/web")
        await app._startup()
        _FAKE.append(FakeRasa(calls, app))
    return _FAKE[0]


@pytest.fixture
async def fake_rasa() -> Any:
    fake = await fake_app()
    fake.calls.clear()
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
        fake.client = client
        yield fake


async def test_retries_in_flight_and_after_reach_rasa_once(fake_rasa: FakeRasa) -> None:
    body = {"sender": "s" * 20, "message": "Ie", "message_id": new_id()}
    replies = await asyncio.gather(*[
        fake_rasa.client.post("/webhooks/web/webhook", content=json.dumps(body))
        for _ in range(3)])
    replies.append(await fake_rasa.client.post("/webhooks/web/webhook", json=body))
    assert [r.status_code for r in replies] == [200] * 4
    assert fake_rasa.calls == ["Ie"]
    messages = [r.json()["messages"] for r in replies]
    assert all(m == messages[0] for m in messages)
    assert sorted(r.json()["replayed"] for r in replies) == [False, True, True, True]
    assert messages[0][0]["lang"] == "cy" and messages[0][0]["key"] == "welcome"
    # The same id from another sender is another message.
    other = {**body, "sender": "t" * 20}
    assert (await fake_rasa.client.post("/webhooks/web/webhook", json=other)).status_code == 200
    assert fake_rasa.calls == ["Ie", "Ie"]


async def test_a_language_without_a_voice_says_so(fake_rasa: FakeRasa,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.speech

    spoken: list[tuple[str, str]] = []

    async def no_voice(text: str, language: str, *, online: bool | None = None) -> Any:
        spoken.append((text, language))
        return bot.speech.Speech(path=None, media_type=None, voice=None,
                                 reason=f"no voice for {language}")

    monkeypatch.setattr(bot.speech, "speak", no_voice)
    reply = await fake_rasa.client.post("/webhooks/web/webhook", json={
        "sender": "u" * 20, "message": "<script>speak me</script>", "message_id": new_id()})
    audio_url = reply.json()["messages"][0]["audio_url"]
    heard = await fake_rasa.client.get(audio_url)
    assert heard.status_code == 404
    assert heard.json() == {"error": "no_voice", "reason": "no voice for cy", "lang": "cy"}
    # Only the bot's own words are ever spoken, never what the patient sent.
    assert spoken == [("Ydych chi eisiau dechrau?", "cy")]


async def test_audio_ids_are_not_paths(fake_rasa: FakeRasa) -> None:
    for audio_id in ("..%2F..%2Fetc%2Fpasswd", "a" * 100, "unknown-id-unknown-id"):
        heard = await fake_rasa.client.get(f"/webhooks/web/audio/{audio_id}")
        assert heard.status_code == 404


# -- the real servers ----------------------------------------------------------------------


@dataclass
class Web:
    base: str
    rasa_url: str
    database_url: str
    logs: list[Path]

    def post(self, body: Any, *, origin: str | None = TRUST, client: str | None = None,
             raw: bytes | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Content-Type": "text/plain;charset=UTF-8"}
        if origin:
            headers["Origin"] = origin
        headers["X-Forwarded-For"] = client or f"192.0.2.{secrets.randbelow(250) + 1}"
        content = raw if raw is not None else json.dumps(body).encode()
        return httpx.post(f"{self.base}/webhook", content=content, headers=headers,
                          timeout=60, **kwargs)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    ensure_model()
    work = tmp_path_factory.mktemp("web_channel")
    database_url = f"sqlite:///{work / 'answers.db'}"
    env = {"DATABASE_URL": database_url, "TRANSLATION_INTERVAL_SECONDS": "0",
           "SPEECH_ONLINE": "off", "AUDIO_CACHE_DIR": str(work / "audio"),
           "BOT_SERVER_LOG_LEVEL": "INFO", "WEB_ALLOWED_ORIGINS": f"{TRUST}, http://other.example",
           "WEB_SENDER_MESSAGES_PER_MINUTE": str(SENDER_LIMIT),
           "WEB_CLIENT_MESSAGES_PER_MINUTE": str(CLIENT_LIMIT),
           # Each test below is its own "client" through X-Forwarded-For.
           "WEB_TRUSTED_PROXY_HOPS": "1"}
    with running(log_dir=work, rasa_port=free_port(), bot_port=free_port(),
                 extra_env=env) as up:
        yield Web(f"{up.rasa_url}/webhooks/web", up.rasa_url, database_url, up.logs())


class Visitor:
    """A browser tab talking to the web channel."""

    def __init__(self, web: Web, *, easy_read: bool | None = None) -> None:
        self.web, self.sender, self.easy_read = web, new_sender(), easy_read
        self.client = f"198.51.100.{secrets.randbelow(250) + 1}"

    def say(self, message: str, message_id: str | None = None) -> list[dict]:
        body: dict[str, Any] = {"sender": self.sender, "message": message,
                                "message_id": message_id or new_id()}
        if self.easy_read is not None:
            body["metadata"] = {"easy_read": self.easy_read}
        reply = self.web.post(body, client=self.client)
        assert reply.status_code == 200, reply.text
        return reply.json()["messages"]

    def choose(self, option: str) -> list[dict]:
        return self.say("/choose" + json.dumps({"option": option}, separators=(",", ":")))


def stored(web: Web) -> dict[str, dict]:
    """Responses in the store, each with its answers as a list."""
    return {rid: {**response, "answers": list(response["answers"].values())}
            for rid, response in stored_responses(web.database_url).items()}


def test_the_widget_script_page_and_styles_are_served(web: Web) -> None:
    script = httpx.get(f"{web.base}/widget.js", timeout=30)
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("application/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert "PV_STRINGS" not in script.text
    for launcher in ("Give feedback", "Rhoi adborth", "اپنی رائے دیں"):
        assert launcher in script.text
    # Nothing is loaded from anywhere else: the only URLs are the example in the comment
    # and the SVG namespace name (an identifier, never fetched).
    assert set(re.findall(r"https?://[^\s\"')]+", script.text)) <= {
        "https://BOT/webhooks/web/widget.js", "http://www.w3.org/2000/svg"}
    styles = httpx.get(f"{web.base}/chat.css", timeout=30)
    assert styles.status_code == 200 and styles.headers["content-type"].startswith("text/css")
    assert "@import" not in styles.text and "url(" not in styles.text

    page = httpx.get(f"{web.base}/chat", timeout=30)
    assert page.status_code == 200
    assert '<html lang="en" dir="ltr">' in page.text
    assert "<title>Tell us about your care</title>" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert f"frame-ancestors 'self' http://other.example {TRUST}" in policy
    urdu = httpx.get(f"{web.base}/chat", params={"lang": "ur"}, timeout=30)
    assert '<html lang="ur" dir="rtl">' in urdu.text
    odd = httpx.get(f"{web.base}/chat", params={"lang": '"><script>x</script>'}, timeout=30)
    assert '<html lang="en" dir="ltr">' in odd.text and "<script>x" not in odd.text


def test_a_turn_keeps_language_direction_key_and_audio(web: Web) -> None:
    visitor = Visitor(web)
    menu = visitor.say("/greet")
    assert menu[0]["key"] == "ask_language"
    assert (menu[0]["lang"], menu[0]["dir"]) == ("en", "ltr")
    titles = [b["title"] for b in menu[0]["buttons"]]
    assert "English" in titles and "اردو" in titles
    assert menu[0]["audio_url"].startswith("/webhooks/web/audio/")

    welcome = visitor.choose("ur")
    assert (welcome[0]["lang"], welcome[0]["dir"], welcome[0]["key"]) == ("ur", "rtl", "welcome")
    for message in (menu[0], welcome[0]):
        heard = httpx.get(web.rasa_url + message["audio_url"], timeout=120)
        assert heard.status_code == 200, heard.text
        assert heard.headers["content-type"] in ("audio/wav", "audio/x-wav", "audio/mpeg")
        with wave.open(io.BytesIO(heard.content)) as sound:  # offline voice: WAV
            assert sound.getnframes() > sound.getframerate() // 2  # more than half a second


def test_easy_read_metadata_shortens_the_wording(web: Web) -> None:
    visitor = Visitor(web, easy_read=True)
    visitor.say("/greet")
    welcome = visitor.choose("en")[0]["text"]
    assert "You do not give your name." in welcome
    assert "We use what you tell us" not in welcome


def test_origins(web: Web) -> None:
    body = {"sender": new_sender(), "message": "/greet", "message_id": new_id()}
    allowed = web.post(body, origin=TRUST)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == TRUST
    assert "filename" not in allowed.headers.get("access-control-expose-headers", "")
    same_site = web.post({**body, "message_id": new_id()}, origin=web.rasa_url)
    assert same_site.status_code == 200
    assert "access-control-allow-origin" not in same_site.headers
    for origin in ("https://evil.example", "null", "https://trust.example.evil.example",
                   "http://trust.example"):
        refused = web.post({**body, "message_id": new_id()}, origin=origin)
        assert refused.status_code == 403, origin
        assert refused.json() == {"error": "origin_not_allowed"}
        assert "access-control-allow-origin" not in refused.headers
    audio_url = web.rasa_url + allowed.json()["messages"][0]["audio_url"]
    assert httpx.get(audio_url, headers={"Origin": "https://evil.example"}).status_code == 403


def test_oversize_bodies_are_refused(web: Web) -> None:
    big = json.dumps({"sender": new_sender(), "message": "x" * 17_000, "message_id": new_id()})
    assert web.post(None, raw=big.encode()).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the channel counts as it reads
        for _ in range(40):
            yield b"y" * 1024

    refused = httpx.post(f"{web.base}/webhook", content=chunks(), timeout=60,
                         headers={"Origin": TRUST, "X-Forwarded-For": "192.0.2.200"})
    assert refused.status_code == 413
    long = {"sender": new_sender(), "message": "z" * 6000, "message_id": new_id()}
    assert web.post(long).status_code == 413


@pytest.mark.parametrize("body", [
    {"sender": "0771234567", "message": "hi", "message_id": "abcdefgh"},
    {"sender": "a" * 20, "message": "hi"},
    {"sender": "a" * 20, "message": "", "message_id": "abcdefgh"},
])
def test_bad_requests_are_refused(web: Web, body: dict) -> None:
    assert web.post(body).status_code == 400
    assert web.post(None, raw=b"{nope").status_code == 400


def test_html_and_script_in_messages_come_back_as_plain_json(web: Web) -> None:
    visitor = Visitor(web)
    visitor.say("/greet")
    for message in ("<script>alert(1)</script>", '<img src=x onerror="alert(1)">',
                    "</script><b>bold</b>", "\u202eabc\u0000"):
        replies = visitor.say(message)
        assert replies and all(isinstance(r["text"], str) for r in replies)
        assert all("<script" not in r["text"] and "onerror" not in r["text"] for r in replies)


def test_rate_limit_per_sender(web: Web) -> None:
    visitor = Visitor(web)
    for _ in range(SENDER_LIMIT):
        visitor.say("help")
    refused = web.post({"sender": visitor.sender, "message": "help", "message_id": new_id()},
                       client=visitor.client)
    assert refused.status_code == 429
    assert refused.json() == {"error": "rate_limited"}
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["access-control-allow-origin"] == TRUST  # the widget can read it
    # Another patient is not affected.
    assert Visitor(web).say("/greet")


def test_rate_limit_per_client(web: Web) -> None:
    client = "203.0.113.7"
    for _ in range(CLIENT_LIMIT):
        body = {"sender": new_sender(), "message": "/greet", "message_id": new_id()}
        assert web.post(body, client=client).status_code == 200
    refused = web.post({"sender": new_sender(), "message": "/greet", "message_id": new_id()},
                       client=client)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


async def test_a_repeated_message_id_is_answered_once_and_stored_once(web: Web) -> None:
    before = set(stored(web))
    visitor = Visitor(web)
    visitor.say("/greet")
    visitor.choose("en")
    visitor.choose("start")
    visitor.choose("patient")
    asked = visitor.choose("maternity")
    assert asked[0]["key"] == "ask_rating"

    rating = {"sender": visitor.sender, "message": "very good", "message_id": new_id()}
    headers = {"Origin": TRUST, "X-Forwarded-For": visitor.client}
    async with httpx.AsyncClient(timeout=60) as client:
        together = await asyncio.gather(*[
            client.post(f"{web.base}/webhook", content=json.dumps(rating), headers=headers)
            for _ in range(2)])
    again = web.post(rating, client=visitor.client)
    replies = [r.json() for r in [*together, again]]
    assert all(r.status_code == 200 for r in [*together, again])
    assert all(r["messages"] == replies[0]["messages"] for r in replies)
    assert replies[0]["messages"][0]["key"] == "ask_rating_reason"
    assert sorted(r["replayed"] for r in replies) == [False, True, True]

    reason_id = new_id()
    first = visitor.say("The midwife explained everything.", message_id=reason_id)
    second = visitor.say("The midwife explained everything.", message_id=reason_id)
    assert first == second and first[0]["key"] == "ask_barriers"

    fresh = [r for rid, r in stored(web).items() if rid not in before]
    assert len(fresh) == 1
    response = fresh[0]
    assert response["channel"] == "web"
    keys = sorted(a["question_key"] for a in response["answers"])
    assert keys == ["rating", "rating_reason", "respondent", "service"]
    reason = next(a for a in response["answers"] if a["question_key"] == "rating_reason")
    assert reason["text"] == "The midwife explained everything."


def test_the_rest_channel_still_works(web: Web) -> None:
    reply = httpx.post(f"{web.rasa_url}/webhooks/rest/webhook",
                       json={"sender": new_sender(), "message": "hello"}, timeout=60)
    assert reply.status_code == 200 and "Which language" in reply.json()[0]["text"]


def test_logs_never_name_a_sender(web: Web) -> None:
    logs = "\n".join(path.read_text(errors="replace") for path in web.logs)
    assert USED_SENDERS
    leaked = [sender for sender in USED_SENDERS if sender in logs]
    assert not leaked, "sender ids in the logs"
    assert "The midwife explained everything" not in logs
