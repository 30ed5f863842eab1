#!/usr/bin/env bash
# Create .venv with Python 3.10 and install the pinned dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/find-python.sh)
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
  rm -rf .venv
  "$python" -m venv .venv
fi
# Rasa 3.6.21 needs setuptools 70.3.x; pip, setuptools and wheel are not in constraints.txt.
.venv/bin/python -m pip install --quiet 'pip==24.0' 'setuptools==70.3.0' 'wheel==0.45.1'
# constraints.txt pins every package (direct and transitive); pyproject lists ranges.
.venv/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
touch .venv/.installed
