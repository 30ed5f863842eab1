"""Chat with a running patient-voice bot in the terminal, through the REST channel.

Buttons are shown as numbers, the way an SMS patient sees them; type the number, the
words, or any command (help, repeat, skip, back, stop, start again).
"""

from __future__ import annotations

import os
import secrets
import sys

import httpx

URL = os.environ.get("RASA_URL", "http://localhost:5005") + "/webhooks/rest/webhook"


def show(messages: list[dict]) -> None:
    for message in messages:
        if message.get("text"):
            print(f"bot: {message['text']}")
        for number, button in enumerate(message.get("buttons") or [], 1):
            print(f"     {number} {button.get('title')}")


def main() -> int:
    sender = secrets.token_hex(8)
    print("Type your answers. Ctrl-D or Ctrl-C to leave.\n")
    try:
        show(httpx.post(URL, json={"sender": sender, "message": "hello"}, timeout=30).json())
        while True:
            text = input("you: ")
            show(httpx.post(URL, json={"sender": sender, "message": text}, timeout=30).json())
    except (EOFError, KeyboardInterrupt):
        print()
        return 0
    except httpx.HTTPError:
        print(f"Cannot reach the bot at {URL}. Start it first with: make run", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
