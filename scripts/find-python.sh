#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter (Rasa 3.6 needs 3.8-3.10; we use 3.10).
set -euo pipefail
for candidate in python3.10 "$HOME/.pyenv/versions/"3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    command -v "$candidate"; exit 0
  fi
done
if command -v pyenv >/dev/null 2>&1; then
  prefix=$(pyenv prefix 3.10 2>/dev/null || true)
  if [ -n "$prefix" ] && [ -x "$prefix/bin/python3.10" ]; then echo "$prefix/bin/python3.10"; exit 0; fi
fi
cat >&2 <<'MSG'
patient-voice needs Python 3.10 (Rasa 3.6.21 supports 3.8 to 3.10).
Install it, then run make again. For example:
  Debian/Ubuntu:  sudo apt-get install python3.10 python3.10-venv   (where packaged)
  pyenv:          pyenv install 3.10
MSG
exit 1
