# Two commands from a fresh clone: `make run` serves the API, `make test` tests it.
# `make bench` runs the benchmark (bench/run.py; `make bench QUICK=1` for a short run).
# The virtual environment and pinned dependencies are installed on first use.

PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
BIN := $(VENV)/bin

.PHONY: run test lint clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(VENV)/.runtime $@

run: $(VENV)/.runtime
	$(BIN)/uvicorn app:app --host $(HOST) --port $(PORT)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest

$(VENV)/.bench: requirements.txt bench/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $(VENV)/.runtime $@

bench/node_modules/.package-lock.json: bench/package.json bench/package-lock.json
	command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	cd bench && npm ci --no-audit --no-fund --silent

bench: $(VENV)/.bench bench/node_modules/.package-lock.json
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache bench/node_modules
