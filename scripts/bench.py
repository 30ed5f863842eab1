"""`make bench`: patient-voice against a bare Rasa bot (the `rasa init` moodbot), same run.

Runs N concurrent conversations through each bot's REST channel and prints per-message
p50/p95 latency, throughput and the peak memory (VmHWM) of every server process, with
the ratio of ours to the bare bot. A benchmark, not a test: it never fails on figures.

    make bench                  # 10 concurrent conversations, 3 rounds each
    BENCH_CONVERSATIONS=20 make bench
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.launch import BIN, RASA_ENV, Server, free_port, rasa_command, running  # noqa: E402

CONVERSATIONS = int(os.environ.get("BENCH_CONVERSATIONS", 10))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
MOODBOT_DIR = ROOT / "var" / "bench" / "moodbot"

# A whole visit: language, consent, choices, free text with identifiers to anonymise,
# about you, involvement (tests/test_conversations.py walks the same path).
OUR_VISIT = [
    "hello", "1", "yes", "1", "2", "very good",
    "Dr Smith was kind and explained it all, call me on 07700 900123", "1 3",
    "The bus only comes twice a day", "More time to ask questions", "yes", "3", "1", "1", "9",
    "1", "2", "2", "7", "1", "no",
]
MOOD_VISIT = ["hi", "I am sad", "yes", "great", "bye"] * 4


def peak_memory_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process and its children, in MB."""
    total = 0
    for proc in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = [int(k) for k in kids]
    return found + [g for k in found for g in _children(k)]


async def converse(client: httpx.AsyncClient, url: str, script: list[str],
                   latencies: list[float]) -> None:
    sender = f"bench-{secrets.token_hex(6)}"
    for text in script:
        started = time.perf_counter()
        reply = await client.post(url, json={"sender": sender, "message": text})
        reply.raise_for_status()
        latencies.append(time.perf_counter() - started)


async def load(url: str, script: list[str]) -> dict:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=CONVERSATIONS * 2)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await converse(client, url, script[:2], [])  # warm up
        started = time.perf_counter()
        for _ in range(ROUNDS):
            await asyncio.gather(*(converse(client, url, script, latencies)
                                   for _ in range(CONVERSATIONS)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "messages": len(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1000,
        "throughput": len(ordered) / elapsed,
    }


def ensure_moodbot() -> Path:
    model = MOODBOT_DIR / "models" / "moodbot.tar.gz"
    if model.exists():
        return model
    shutil.rmtree(MOODBOT_DIR, ignore_errors=True)
    MOODBOT_DIR.mkdir(parents=True)
    env = {**os.environ, **RASA_ENV}
    subprocess.run([str(BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(MOODBOT_DIR)],
                   cwd=MOODBOT_DIR, env=env, check=True, stdout=subprocess.DEVNULL)
    trained = sorted((MOODBOT_DIR / "models").glob("*.tar.gz"))[-1]
    trained.rename(model)
    return model


def bench_moodbot(model: Path, log_dir: Path) -> dict:
    port = free_port()
    env = {**os.environ, **RASA_ENV}
    empty = log_dir / "moodbot-endpoints.yml"
    empty.write_text("{}\n")
    log = log_dir / "moodbot.log"
    process = subprocess.Popen(
        rasa_command(model, port, empty, MOODBOT_DIR / "credentials.yml",
                     program=[str(BIN / "rasa")]),
        cwd=MOODBOT_DIR, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    server = Server("moodbot", f"http://127.0.0.1:{port}/", process, log)
    try:
        server.wait_until_up()
        figures = asyncio.run(load(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                                   MOOD_VISIT))
        figures["rasa_peak_mb"] = peak_memory_mb(process.pid)
        return figures
    finally:
        server.stop()


def bench_ours(log_dir: Path) -> dict:
    env = {"DATABASE_URL": f"sqlite:///{log_dir / 'bench.db'}",
           "BOT_SERVER_LOG_LEVEL": "WARNING", "TRANSLATION_INTERVAL_SECONDS": "0"}
    with running(log_dir=log_dir, rasa_port=free_port(), bot_port=free_port(),
                 extra_env=env) as up:
        figures = asyncio.run(load(up.webhook, OUR_VISIT))
        bot, rasa = up.servers
        figures["bot_server_peak_mb"] = peak_memory_mb(bot.process.pid)
        figures["rasa_peak_mb"] = peak_memory_mb(rasa.process.pid)
        return figures


def main() -> int:
    log_dir = Path(tempfile.mkdtemp(prefix="pv-bench-"))
    print(f"{CONVERSATIONS} concurrent conversations x {ROUNDS} rounds; logs in {log_dir}")
    print("preparing the bare Rasa bot (rasa init moodbot; trained once, then cached)...")
    moodbot = bench_moodbot(ensure_moodbot(), log_dir)
    ours = bench_ours(log_dir)
    rows = [("messages", "{:.0f}"), ("p50_ms", "{:.1f}"), ("p95_ms", "{:.1f}"),
            ("throughput", "{:.1f}"), ("rasa_peak_mb", "{:.0f}")]
    print(f"\n{'figure':<22}{'patient-voice':>16}{'bare moodbot':>16}{'ratio':>10}")
    for name, fmt in rows:
        ratio = ours[name] / moodbot[name] if moodbot[name] else float("nan")
        print(f"{name:<22}{fmt.format(ours[name]):>16}{fmt.format(moodbot[name]):>16}"
              f"{ratio:>10.2f}")
    print(f"{'bot_server_peak_mb':<22}{ours['bot_server_peak_mb']:>16.0f}{'-':>16}")
    print(f"\np95 ratio (target at most 1.3): {ours['p95_ms'] / moodbot['p95_ms']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
