"""Train the Rasa model only when the training data, domain or config changed.

The fingerprint is a hash of every file Rasa trains from; it is kept beside the model.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "patient-voice.tar.gz"
STAMP = ROOT / "models" / "patient-voice.fingerprint"
INPUTS = ["config.yml", "domain.yml", "data"]
# The safety detector's examples (bot/safety/) live under data/ but Rasa does not read them
# (their top-level key is neither nlu nor stories nor rules).
NOT_RASA = ROOT / "data" / "safety"


def fingerprint() -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        path = ROOT / name
        files = sorted(f for f in path.rglob("*") if f.is_file() and NOT_RASA not in f.parents
                       ) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def main() -> int:
    wanted = fingerprint()
    if MODEL.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        print("model is up to date:", MODEL.relative_to(ROOT))
        return 0
    print("training the Rasa model (data or config changed)...", flush=True)
    rasa = Path(sys.executable).with_name("rasa")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    command = [str(rasa), "train", "--fixed-model-name", "patient-voice", "--out", "models"]
    try:
        result = subprocess.run(command, cwd=ROOT, env=env)
    except KeyboardInterrupt:
        print("\ntraining stopped; the old model (if any) is kept", file=sys.stderr)
        return 130
    if result.returncode == 0:
        STAMP.write_text(wanted + "\n")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
