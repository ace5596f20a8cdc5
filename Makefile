# The two commands a user needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

HOST ?= 127.0.0.1
PORT ?= 8080
SERVE_ARGS ?=

.PHONY: run test lint bench mutants install dev clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)

dev: $(DEV_STAMP)

## make run: start the backend on http://$(HOST):$(PORT) with the embedded SQLite database
run: $(RUN_STAMP)
	$(BIN)/lacework-tokens serve --host $(HOST) --port $(PORT) $(SERVE_ARGS)

## make test: install what the tests need, lint, type-check and run the whole suite
test: $(DEV_STAMP)
	$(BIN)/ruff check sdk tests bench examples tools
	$(BIN)/ruff format --check sdk tests bench examples tools
	$(BIN)/mypy
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check sdk tests bench examples tools
	$(BIN)/ruff format --check sdk tests bench examples tools
	$(BIN)/mypy

## make bench: print the benchmark ratios (not run by the tests)
bench: $(DEV_STAMP)
	$(BIN)/python -m bench

## make mutants: mutation testing of the modules in tools/mutants/config.toml (not run by the
## tests); MUTANTS_ARGS="--only sdk/lacework_tokens/wire.py --jobs 2" narrows or widens a run
MUTANTS_ARGS ?=
mutants: $(DEV_STAMP)
	$(BIN)/python -m tools.mutants $(MUTANTS_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
