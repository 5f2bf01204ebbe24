# Two commands for a fresh machine: `make run` and `make test` (README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LINTED := src tests scripts $(wildcard bench)

.PHONY: run test lint typecheck imports unit clean demo

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Keystead needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

## Install into .venv and start a dev server (HTTPS on 127.0.0.1:8200, data in .keystead-dev).
run: $(VENV)/.installed
	$(BIN)/keystead server --dev

## Install into .venv and run the exchange demo: Keystead and the exchange, seven steps, via the CLI.
demo: $(VENV)/.installed
	$(BIN)/python scripts/exchange_demo.py

## Install test tools and system packages, start PostgreSQL, and run every check and test.
test: $(VENV)/.installed-test
	./scripts/system-packages.sh
	$(MAKE) --no-print-directory lint typecheck imports
	./scripts/with-postgres.sh $(BIN)/python -m pytest --cov --cov-report=term-missing:skip-covered

lint:
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck:
	$(BIN)/mypy

imports:
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .keystead-dev .pytest_cache .mypy_cache .ruff_cache .hypothesis
