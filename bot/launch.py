"""Start and stop the Rasa server and the bot server as child processes.

One piece used by `make run`, the conversation tests and the benchmark, so all three
run the bot exactly the same way. It starts programs; it does not import Rasa.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from bot.settings import PROJECT_ROOT

MODEL = PROJECT_ROOT / "models" / "patient-voice.tar.gz"
START_TIMEOUT = 240  # seconds; Rasa loads TensorFlow and the model (30-60 s here)
BIN = Path(sys.executable).parent
# LOG_LEVEL is Rasa's: at DEBUG it logs every message and sender, so it is pinned to INFO
# here; the bot server has its own BOT_SERVER_LOG_LEVEL.
RASA_ENV = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "LOG_LEVEL": "INFO"}


class LaunchError(RuntimeError):
    """A server exited or did not answer in time."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    health_url: str
    process: subprocess.Popen
    log: Path

    def wait_until_up(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LaunchError(f"{self.name} exited early:\n{self.tail()}")
            try:
                with urlopen(self.health_url, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (URLError, OSError):
                pass
            time.sleep(0.5)
        raise LaunchError(f"{self.name} did not start in {timeout} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Running:
    rasa_url: str
    servers: list[Server] = field(default_factory=list)

    @property
    def webhook(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    def logs(self) -> list[Path]:
        return [server.log for server in self.servers]


def _spawn(name: str, command: list[str], health_url: str, log: Path, env: dict) -> Server:
    handle = log.open("a")
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=handle,
                               stderr=subprocess.STDOUT)
    return Server(name, health_url, process, log)


# Rasa started through our wrapper, which keeps patient text out of its warnings.
RASA_PROGRAM = [sys.executable, "-m", "actions.rasa_server"]


def rasa_command(model: Path, port: int, endpoints: Path, credentials: Path,
                 program: list[str] = RASA_PROGRAM) -> list[str]:
    return [*program, "run", "--model", str(model), "--endpoints", str(endpoints),
            "--credentials", str(credentials), "--port", str(port), "--interface", "127.0.0.1"]


@contextmanager
def running(
    *,
    log_dir: Path,
    rasa_port: int = 5005,
    bot_port: int = 5055,
    extra_env: dict[str, str] | None = None,
    model: Path = MODEL,
    rasa_args: tuple[str, ...] = (),
) -> Iterator[Running]:
    """The bot server and the Rasa server, up and answering, stopped on exit."""
    log_dir.mkdir(parents=True, exist_ok=True)
    endpoints = PROJECT_ROOT / "endpoints.yml"
    if bot_port != 5055:
        endpoints = log_dir / "endpoints.yml"
        text = (PROJECT_ROOT / "endpoints.yml").read_text()
        endpoints.write_text(text.replace("localhost:5055", f"127.0.0.1:{bot_port}"))
    env = {**os.environ, **(extra_env or {}), **RASA_ENV}
    up = Running(f"http://127.0.0.1:{rasa_port}")
    try:
        up.servers.append(_spawn(
            "bot server", [sys.executable, "-m", "actions.bot_server", "--port", str(bot_port)],
            f"http://127.0.0.1:{bot_port}/health", log_dir / "bot_server.log", env))
        up.servers.append(_spawn(
            "Rasa server",
            [*rasa_command(model, rasa_port, endpoints, PROJECT_ROOT / "credentials.yml"),
             *rasa_args],
            f"{up.rasa_url}/", log_dir / "rasa.log", env))
        for server in up.servers:
            server.wait_until_up()
        yield up
    finally:
        for server in reversed(up.servers):
            server.stop()


def main(argv: list[str] | None = None) -> int:
    """`make run`: start both servers, say where to chat, stop both on Ctrl-C."""
    parser = argparse.ArgumentParser(description="Start patient-voice (Rasa + bot server)")
    parser.add_argument("--rasa-port", type=int, default=int(os.environ.get("RASA_PORT", 5005)))
    parser.add_argument("--bot-port", type=int,
                        default=int(os.environ.get("BOT_SERVER_PORT", 5055)))
    args = parser.parse_args(argv)
    log_dir = PROJECT_ROOT / "var" / "log"
    print("starting the bot server and the Rasa server (this takes about a minute)...",
          flush=True)
    staff_port = int(os.environ.get("STAFF_PORT", 5070))
    try:
        with running(log_dir=log_dir, rasa_port=args.rasa_port, bot_port=args.bot_port) as up:
            staff = _spawn("staff app", [sys.executable, "-m", "bot.staff"],
                           f"http://127.0.0.1:{staff_port}/login", log_dir / "staff_app.log",
                           {**os.environ, "STAFF_PORT": str(staff_port)})
            up.servers.append(staff)
            staff.wait_until_up()
            print(f"\npatient-voice is running.\n"
                  f"  Chat in a terminal:  make chat   (in another terminal)\n"
                  f"  REST channel:        POST {up.webhook} "
                  '{"sender": "...", "message": "hi"}\n'
                  f"  Bot server:          http://localhost:{args.bot_port} (actions, NLG)\n"
                  f"  Web chat:            http://localhost:{args.rasa_port}/webhooks/web/chat\n"
                  f"  Staff app:           http://localhost:{staff_port} "
                  "(patient-voice staff create-user NAME)\n"
                  f"  Logs:                {log_dir}\n"
                  "Press Ctrl-C to stop.", flush=True)
            while all(server.process.poll() is None for server in up.servers):
                time.sleep(1)
            print("a server stopped; see the logs", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("\nstopped.")
        return 0
    except LaunchError as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
