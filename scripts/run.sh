#!/usr/bin/env bash
# Start the bot server (actions + NLG, :5055) and the Rasa server (:5005), wait until
# both answer, and stop both on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
RASA_PORT=${RASA_PORT:-5005}
BOT_PORT=${BOT_SERVER_PORT:-5055}
mkdir -p var/log
pids=()
stop_all() {
  trap - INT TERM EXIT
  echo; echo "stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

.venv/bin/python -m actions.bot_server --port "$BOT_PORT" >>var/log/bot_server.log 2>&1 &
pids+=($!)
.venv/bin/rasa run --model models/patient-voice.tar.gz --endpoints endpoints.yml \
  --credentials credentials.yml --port "$RASA_PORT" --interface 127.0.0.1 \
  >>var/log/rasa.log 2>&1 &
pids+=($!)

wait_for() {  # url name
  for _ in $(seq 1 180); do
    if curl -fsS "$1" >/dev/null 2>&1; then echo "$2 is up: $1"; return 0; fi
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "$2 failed to start; see var/log/"; exit 1; }; done
    sleep 1
  done
  echo "$2 did not answer in 180 s; see var/log/"; exit 1
}
wait_for "http://127.0.0.1:$BOT_PORT/health" "bot server (actions + NLG)"
wait_for "http://127.0.0.1:$RASA_PORT/" "Rasa server"
cat <<MSG

patient-voice is running.
  Chat in this terminal:  make chat     (in another terminal)
  REST channel:           POST http://localhost:$RASA_PORT/webhooks/rest/webhook {"sender": "...", "message": "hi"}
  Logs:                   var/log/
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
