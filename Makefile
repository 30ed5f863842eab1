# patient-voice: `make run` to start the bot, `make test` to check everything.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: run test chat model venv lint validate rasa-test pytest bench nlu-report safety-report safety-model privacy-report themes-report themes-model clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt scripts/make-venv.sh
	scripts/make-venv.sh

model: venv  ## train the Rasa model when data, domain or config changed
	$(PY) scripts/train_if_changed.py

run: model  ## start the Rasa server (:5005) and the bot server (:5055)
	$(PY) -m bot.cli migrate
	$(PY) -m bot.cli themes train --if-missing
	$(PY) -m bot.safety train
	$(PY) -m bot.launch

chat: venv  ## chat in this terminal with a running bot (start it with `make run`)
	$(PY) scripts/chat.py

lint: venv
	$(VENV)/bin/ruff check bot actions tests scripts

validate: venv
	$(VENV)/bin/rasa data validate --fail-on-warnings

rasa-test: model
	$(VENV)/bin/rasa test core --model models/patient-voice.tar.gz \
	  --stories tests/test_stories.yml --fail-on-prediction-errors --out var/rasa-test-results

pytest: model
	$(PY) -m pytest -q

test: lint validate rasa-test pytest  ## everything CI runs

bench: model  ## latency, throughput and memory against a bare Rasa bot
	$(PY) scripts/bench.py

safety-model: venv  ## train the safety detector from data/safety/ (only when its examples changed)
	$(PY) -m bot.safety train

safety-report: venv  ## danger recall per kind and language, look-alikes flagged, on held-out examples
	$(PY) scripts/safety_report.py

privacy-report: venv  ## identifier recall/precision, ours vs plain Presidio (makes .venv-presidio once)
	$(PY) scripts/privacy_report.py --setup

themes-report: venv  ## cross-validated F1 and speed of the themes classifier (shared data)
	$(PY) scripts/themes_report.py

themes-model: venv  ## make models/themes/themes.joblib from the shared QDC data (+ corrections)
	$(PY) -m bot.cli themes train --data ../shared/data/qdc_v6_train.csv

nlu-report: venv  ## per-language intent accuracy and command-intent F1 on held-out examples
	$(PY) scripts/nlu_report.py

clean:
	rm -rf models var/rasa-test-results .pytest_cache
