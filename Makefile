# inboxcrm — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck check bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## make run: the demo in embedded mode (SQLite, embedded jobs, Google emulator) on http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/inboxcrm demo

## make test: the whole suite (SQLite always; PostgreSQL, Redis and Chromium where present)
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/inboxcrm bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
