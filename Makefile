# The two commands: `make run` and `make test` (README.md). Everything they need is
# installed by these targets; nothing is expected to be installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# `make run` only: a development token for the gateway's metering calls, unless one is
# set (`make serve` must never get one by default).
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
run: export METERING_SERVICE_TOKEN ?= dev-metering-token

.PHONY: run serve serve-local test lint format venv bench clean

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo_catalog
	$(PY) manage.py seed_demo
	@echo "Serving on http://127.0.0.1:$(PORT)  (Ctrl-C stops the web server, worker and beat)"
	@trap 'kill 0' INT TERM EXIT; \
	$(VENV)/bin/celery -A yunxin worker -Q default,billing,webhooks --loglevel=INFO --concurrency=2 --without-gossip --without-mingle --without-heartbeat & \
	$(VENV)/bin/celery -A yunxin beat --loglevel=INFO & \
	$(PY) manage.py runserver --noreload 127.0.0.1:$(PORT)

# The production shape on one machine (README.md, "Production"): needs its settings in
# the environment and says which are missing. serve-local fills them in for this machine.
serve: venv
	deploy/serve

serve-local: venv
	deploy/serve-local

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	$(VENV)/bin/pytest

bench: venv
	$(PY) -m tests.bench

clean:
	rm -rf var staticfiles .pytest_cache
