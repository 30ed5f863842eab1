#!/usr/bin/env bash
# Browser tests of the web chat (tests/test_web_widget.py): Debian's headless Chromium and
# the test-only npm packages in web/ (axe-core, from the lock file). Idempotent: safe to
# run again; does nothing that is already done. Python Playwright comes with the venv
# (constraints.txt); it drives /usr/bin/chromium, so `playwright install` is never run.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v npm >/dev/null || need_apt+=(npm)
# Fonts for the scripts the languages/ files use (Urdu, Punjabi), so screenshots and
# text measurement are real; fonts-noto-core covers Arabic script and Gurmukhi.
dpkg -s fonts-noto-core >/dev/null 2>&1 || need_apt+=(fonts-noto-core)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# npm ci only when the installed tree was not made from this very lock file.
if ! cmp -s web/package-lock.json web/node_modules/.installed-from-lock 2>/dev/null; then
  (cd web && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  cp web/package-lock.json web/node_modules/.installed-from-lock
fi
/usr/bin/chromium --version 2>/dev/null
