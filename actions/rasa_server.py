"""Run Rasa's own command line with its logs kept free of patient text and sender ids.

Rasa 3.6 logs some events with the message in them, even at INFO and WARNING:
"Failed to parse arguments in line '/intent{...}'" (a Python warning), and structlog
events such as ``message.parsing.failed`` (``user_text``), ``rest.message.received.failure``
(``text``) and the circuit breaker (``sender_id``). This wrapper, before handing over to
Rasa unchanged,

* drops the warnings that quote a message, and
* replaces Rasa's structlog anonymiser hook (a no-op without Rasa Pro) with one that
  redacts every message-bearing key and the sender id.

    python -m actions.rasa_server run --model models/patient-voice.tar.gz ...

`make run`, the tests and the benchmark start Rasa this way; plain `rasa run` works too
but may log such text.
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from typing import Any

QUOTING_WARNINGS = ("Failed to parse arguments in line",)
# Rasa's own list of keys that may hold conversation content, plus who sent it.
REDACTED_KEYS = frozenset({
    "text", "response_text", "user_text", "slot_values", "parse_data_text",
    "parse_data_entities", "prediction_events", "tracker_latest_message", "prefilled_slots",
    "message", "response", "slot_candidates", "rasa_event", "rasa_events", "tracker_states",
    "current_states", "old_states", "successes", "current_entity", "next_entity", "states",
    "entity", "token_text", "user_message", "json_message", "sender_id", "sender",
    "conversation_id", "tracker", "events", "metadata",
})
REDACTED = "[redacted]"
_show = warnings.showwarning


def quiet_showwarning(message, category, filename, lineno, file=None, line=None) -> None:
    if any(marker in str(message) for marker in QUOTING_WARNINGS):
        return
    _show(message, category, filename, lineno, file, line)


def redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: no patient text or sender id in any Rasa log line."""
    for key in REDACTED_KEYS & event_dict.keys():
        event_dict[key] = REDACTED
    return event_dict


class SenderFilter(logging.Filter):
    """Rasa's plain loggers name the sender in a few messages ("... for sender '...'")."""

    pattern = re.compile(r"(sender(?:_id)?\s*[=:]?\s*)'[^']*'", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "sender" in message.lower():
            record.msg, record.args = self.pattern.sub(rf"\1'{REDACTED}'", message), None
        return True


def install() -> None:
    warnings.showwarning = quiet_showwarning
    for name in ("rasa.core.processor", "rasa.core.agent", "rasa.core.channels.channel"):
        logging.getLogger(name).addFilter(SenderFilter())
    import rasa.utils.log_utils as log_utils

    log_utils._anonymizer = redact  # looked up when Rasa configures structlog


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
