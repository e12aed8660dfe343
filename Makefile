# The two commands: `make run` and `make test` (README.md). Everything they need is
# installed by these targets; nothing is expected to be installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export SITE_URL ?= http://127.0.0.1:$(PORT)
# A development token for the gateway's metering calls, unless one is set.
export METERING_SERVICE_TOKEN ?= dev-metering-token

.PHONY: run test lint format venv bench clean

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
	$(VENV)/bin/celery -A yunxin worker --loglevel=INFO --concurrency=2 --without-gossip --without-mingle --without-heartbeat & \
	$(VENV)/bin/celery -A yunxin beat --loglevel=INFO & \
	$(PY) manage.py runserver --noreload 127.0.0.1:$(PORT)

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
