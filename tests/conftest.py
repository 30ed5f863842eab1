"""Shared fixtures: the real Rasa server and bot server on loopback, and a patient."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.launch import free_port, running
from bot.safety.detector import detector

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


# Rasa's HTTP API is on in tests only, behind a token, so a test can read the tracker
# store the way an attacker with access to the server would. `make run` leaves it off.
API_TOKEN = secrets.token_hex(16)


@dataclass
class Servers:
    webhook: str
    database_url: str
    logs: list[Path]

    def tracker(self, sender: str) -> dict:
        base = self.webhook.removesuffix("/webhooks/rest/webhook")
        reply = httpx.get(f"{base}/conversations/{sender}/tracker",
                          params={"token": API_TOKEN}, timeout=30)
        reply.raise_for_status()
        return reply.json()

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.logs)


def stored_responses(database_url: str) -> dict[str, dict]:
    """Every response in the store, its answers keyed by question: what staff would find."""
    engine = create_engine(database_url, future=True)
    with engine.connect() as db:
        rows = db.execute(text("select * from responses")).mappings().all()
        answers = db.execute(text("select * from answers")).mappings().all()
    engine.dispose()
    found = {row["id"]: {**row, "answers": {}} for row in rows}
    for answer in answers:
        found[answer["response_id"]]["answers"][answer["question_key"]] = dict(answer)
    return found


def ensure_model() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_if_changed.py")])
    assert result.returncode == 0, "training the Rasa model failed"
    detector()  # the safety detector: trained here once if its examples changed, not in a server


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """The bot server and the Rasa server with the trained model, as `make run` starts them."""
    ensure_model()
    work = tmp_path_factory.mktemp("servers")
    database_url = f"sqlite:///{work / 'answers.db'}"
    # No background translation: tests never reach Google (tests/test_translation.py fakes it).
    env = {"DATABASE_URL": database_url, "BOT_SERVER_LOG_LEVEL": "INFO",
           "TRANSLATION_INTERVAL_SECONDS": "0", "THEMES_INTERVAL_SECONDS": "0"}
    with running(log_dir=work, rasa_port=free_port(), bot_port=free_port(),
                 extra_env=env, rasa_args=("--enable-api", "--auth-token", API_TOKEN)) as up:
        yield Servers(up.webhook, database_url, up.logs())


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
