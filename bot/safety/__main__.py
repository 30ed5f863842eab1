"""`python -m bot.safety train`: make (or check) the safety detector, as `make run` does.

The detector is trained from data/safety/ whenever its examples changed; otherwise the saved
one is loaded. Prints the flag threshold it uses.
"""

from __future__ import annotations

import sys
import time

from bot.safety.detector import MODEL_PATH, detector


def main(argv: list[str]) -> int:
    if argv != ["train"]:
        print("usage: python -m bot.safety train", file=sys.stderr)
        return 2
    started = time.perf_counter()
    found = detector()
    print(f"safety detector ready ({MODEL_PATH.name}, help from {found.thresholds.help:.3f}, "
          f"stop the visit from {found.thresholds.interrupt:.3f}, "
          f"{time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
