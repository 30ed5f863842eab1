#!/usr/bin/env bash
# Offline voice for bot/speech.py: the Debian espeak-ng package (binary + voices), and ffmpeg,
# which turns the offline voice's WAV into OGG/Opus for WhatsApp (bot.speech.for_whatsapp).
# Idempotent: installs only what is missing. Needs root (CI runs as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)

if ((${#missing[@]})); then
  # Install straight away when the package lists already know them; otherwise refresh them.
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  echo "installed: ${missing[*]}"
fi

command -v espeak-ng >/dev/null || { echo "espeak-ng did not install" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "ffmpeg did not install" >&2; exit 1; }
encoders="$(ffmpeg -hide_banner -encoders 2>/dev/null)"
[[ "$encoders" == *libopus* ]] || { echo "ffmpeg has no libopus encoder" >&2; exit 1; }
echo "espeak-ng: $(espeak-ng --version | head -1)"
echo "ffmpeg: $(ffmpeg -hide_banner -version | head -1)"
