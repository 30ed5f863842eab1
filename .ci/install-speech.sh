#!/usr/bin/env bash
# Offline voice for bot/speech.py: the Debian espeak-ng package (binary + voices).
# Idempotent: does nothing when espeak-ng is already installed. Needs root (CI runs as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if command -v espeak-ng >/dev/null 2>&1; then
  echo "espeak-ng already installed: $(espeak-ng --version | head -1)"
  exit 0
fi

# Install straight away when the package lists already know espeak-ng; otherwise refresh them.
if ! apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null
fi

command -v espeak-ng >/dev/null || { echo "espeak-ng did not install" >&2; exit 1; }
echo "espeak-ng installed: $(espeak-ng --version | head -1)"
