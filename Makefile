# Two commands from a fresh clone: `make run` serves the API, `make test` tests it.
# The virtual environment and pinned dependencies are installed on first use, and
# so are the pinned npm packages (explorer assets, npm test clients) when npm is present.
# `make bench` runs the benchmark (bench/run.py; `make bench QUICK=1` for a short run).

PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
BIN := $(VENV)/bin
NPM ?= $(shell command -v npm 2>/dev/null)
NODE_MODULES := node_modules/.installed

.PHONY: run test lint clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(VENV)/.runtime $@

$(NODE_MODULES): package.json package-lock.json
ifneq ($(NPM),)
	$(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@
else
	@echo "npm not found: the explorers load their assets from a CDN, and the npm client and browser"
	@echo "tests skip. Install Node.js 20+ and npm (e.g. apt-get install nodejs npm), then run make again."
endif

run: $(VENV)/.runtime $(NODE_MODULES)
	$(BIN)/uvicorn app:app --host $(HOST) --port $(PORT)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

test: lint $(NODE_MODULES)
	$(BIN)/pytest

$(VENV)/.bench: requirements.txt bench/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $(VENV)/.runtime $@

bench/node_modules/.package-lock.json: bench/package.json bench/package-lock.json
	command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	cd bench && npm ci --no-audit --no-fund --silent

bench: $(VENV)/.bench bench/node_modules/.package-lock.json
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules bench/node_modules
