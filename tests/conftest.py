"""Shared fixtures: the real Rasa server and bot server on loopback, and a patient."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "patient-voice.tar.gz"
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 240  # seconds; Rasa loads TensorFlow and the model (30-60 s here)

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not start in {START_TIMEOUT} s:\n{log.read_text()[-4000:]}")


@dataclass
class Servers:
    rasa_url: str
    database_url: str
    logs: list[Path] = field(default_factory=list)

    @property
    def webhook(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.logs)


def ensure_model() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_if_changed.py")])
    assert result.returncode == 0, "training the Rasa model failed"


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Start the bot server and the Rasa server with the trained model, as `make run` does."""
    ensure_model()
    work = tmp_path_factory.mktemp("servers")
    rasa_port, bot_port = free_port(), free_port()
    endpoints = work / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{bot_port}/webhook"\n'
        f'nlg:\n  url: "http://127.0.0.1:{bot_port}/nlg"\n'
    )
    database_url = f"sqlite:///{work / 'answers.db'}"
    env = {**os.environ, "DATABASE_URL": database_url, "RASA_TELEMETRY_ENABLED": "false",
           "LOG_LEVEL": "INFO", "TF_CPP_MIN_LOG_LEVEL": "2"}
    bot_log, rasa_log = work / "bot_server.log", work / "rasa.log"
    bot = subprocess.Popen(
        [sys.executable, "-m", "actions.bot_server", "--port", str(bot_port)],
        cwd=ROOT, env=env, stdout=bot_log.open("w"), stderr=subprocess.STDOUT,
    )
    rasa = subprocess.Popen(
        [str(VENV_BIN / "rasa"), "run", "--model", str(MODEL), "--endpoints", str(endpoints),
         "--credentials", str(ROOT / "credentials.yml"), "--port", str(rasa_port),
         "--interface", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=rasa_log.open("w"), stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{bot_port}/health", bot, bot_log)
        wait_until_up(f"http://127.0.0.1:{rasa_port}/", rasa, rasa_log)
        yield Servers(f"http://127.0.0.1:{rasa_port}", database_url, [bot_log, rasa_log])
    finally:
        for process in (rasa, bot):
            process.terminate()
        for process in (rasa, bot):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


class Patient:
    """Someone chatting through the REST channel, as the web widget does."""

    def __init__(self, servers: Servers, sender: str | None = None) -> None:
        self.servers = servers
        self.sender = sender or f"test-{secrets.token_hex(6)}"
        self.heard: list[dict] = []

    def say(self, text: str) -> list[dict]:
        reply = httpx.post(self.servers.webhook, json={"sender": self.sender, "message": text},
                           timeout=60)
        assert reply.status_code == 200, reply.text
        messages = reply.json()
        self.heard.extend(messages)
        return messages

    def says_and_hears(self, text: str) -> str:
        """Send ``text``; return everything the bot said back as one string."""
        return "\n".join(m.get("text") or "" for m in self.say(text))

    def click(self, messages: list[dict], title: str) -> list[dict]:
        """Press the button whose title is ``title`` in the last message with buttons."""
        buttons = [b for m in messages for b in m.get("buttons") or []]
        payload = next(b["payload"] for b in buttons if b["title"] == title)
        return self.say(payload)


@pytest.fixture
def patient(servers: Servers) -> Patient:
    return Patient(servers)
