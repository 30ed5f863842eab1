"""A fake Twilio REST API on loopback that records the messages we send.

Only what the channels use: ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with HTTP
Basic auth and a form body (To, From, Body, MediaUrl). It answers like Twilio (201 and a
JSON message resource; 401, 404 or 400 with a Twilio error code), and can be told to
fail or be slow for the next few requests so retries can be tested. It runs in a thread
with the standard library's HTTP server, so it works from any test, with or without an
event loop, and from the real Rasa server in another process (``TWILIO_API_BASE_URL``).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Sent:
    """One message Twilio accepted."""

    to: str
    from_: str
    body: str
    media_urls: list[str] = field(default_factory=list)
    sid: str = ""


@dataclass
class _Plan:
    status: int = 0  # 0: answer normally
    delay: float = 0.0
    retry_after: str | None = None
    code: int | None = None


class FakeTwilio:
    """``with FakeTwilio(sid, token) as fake: ... fake.url ... fake.sent``."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sent: list[Sent] = []
        self.attempts = 0  # every POST that reached us, accepted or not
        self.unsubscribed: set[str] = set()  # numbers that answer 21610, as after STOP
        self._plans: list[_Plan] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle --

    def __enter__(self) -> FakeTwilio:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- steering --

    def fail_next(self, status: int, times: int = 1, *, retry_after: str | None = None,
                  code: int | None = None) -> None:
        with self._lock:
            self._plans += [_Plan(status=status, retry_after=retry_after, code=code)] * times

    def delay_next(self, seconds: float, times: int = 1) -> None:
        with self._lock:
            self._plans += [_Plan(delay=seconds)] * times

    def reset(self) -> None:
        with self._lock:
            self._plans.clear()
            self.unsubscribed.clear()

    # -- reading --

    def to(self, number: str) -> list[Sent]:
        with self._lock:
            return [m for m in self.sent if m.to == number]

    def wait_for(self, number: str, count: int, *, timeout: float = 60.0,
                 quiet: float = 0.7) -> list[Sent]:
        """Every message to ``number`` once there are ``count`` and none came for ``quiet`` s."""
        deadline = time.monotonic() + timeout
        seen, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = self.to(number)
            if len(now) != seen:
                seen, since = len(now), time.monotonic()
            if len(now) >= count and time.monotonic() - since >= quiet:
                return now
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages, got {seen} in {timeout} s")

    # -- the HTTP side --

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:  # quiet
                return

            def _answer(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                with fake._lock:
                    fake.attempts += 1
                    plan = fake._plans.pop(0) if fake._plans else _Plan()
                if plan.delay:
                    time.sleep(plan.delay)
                expected = "Basic " + base64.b64encode(
                    f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._answer(401, {"code": 20003, "message": "Authenticate"})
                if self.path != f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json":
                    return self._answer(404, {"code": 20404, "message": "Not found"})
                if plan.status:
                    headers = {"Retry-After": plan.retry_after} if plan.retry_after else {}
                    return self._answer(plan.status, {"code": plan.code or 20500,
                                                      "message": "planned failure"}, headers)
                form = parse_qs(raw, keep_blank_values=True)
                to = (form.get("To") or [""])[0]
                from_ = (form.get("From") or [""])[0]
                body = (form.get("Body") or [""])[0]
                media = form.get("MediaUrl") or []
                if not to or not from_ or not (body or media):
                    return self._answer(400, {"code": 21602, "message": "Body is required"})
                if len(body) > 1600:
                    return self._answer(400, {"code": 21617, "message": "Body too long"})
                if to in fake.unsubscribed:
                    return self._answer(400, {"code": 21610, "message":
                                              f"Attempt to send to unsubscribed recipient {to}"})
                sid = "SM" + secrets.token_hex(16)
                with fake._lock:
                    fake.sent.append(Sent(to, from_, body, media, sid))
                return self._answer(201, {"sid": sid, "status": "queued", "to": to,
                                          "from": from_, "body": body})

        return Handler
