"""Run Rasa's own command line with one privacy fix: parse warnings never quote messages.

Rasa warns "Failed to parse arguments in line '/intent{...}'" with the patient's message
in it, at WARNING level. This wrapper drops those warnings (and only those) before they
reach the log, then hands over to Rasa unchanged:

    python -m actions.rasa_server run --model models/patient-voice.tar.gz ...

`make run`, the tests and the benchmark start Rasa this way; plain `rasa run` still works
but may log such payloads.
"""

from __future__ import annotations

import sys
import warnings

QUOTING_WARNINGS = ("Failed to parse arguments in line",)
_show = warnings.showwarning


def quiet_showwarning(message, category, filename, lineno, file=None, line=None) -> None:
    if any(marker in str(message) for marker in QUOTING_WARNINGS):
        return
    _show(message, category, filename, lineno, file, line)


def main() -> None:
    warnings.showwarning = quiet_showwarning
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
