# The two commands a user needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TERRAFORM_STAMP := $(VENV)/.installed-terraform
DEV_STAMP := $(VENV)/.installed-dev

HOST ?= 127.0.0.1
PORT ?= 8080
SERVE_ARGS ?=

# The console's browser tests drive Debian's Chromium; CI runs as root on a fresh machine.
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint bench mutants install dev terraform walkthrough clean browser

# pip is quiet, and takes a while: each step says what it does before it starts.
$(VENV)/bin/python:
	@echo "Creating $(VENV) (a Python virtual environment for lacework-tokens)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `make run` needs the backend: the SDK plus the server extra.
$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "Installing lacework-tokens and the server's dependencies into $(VENV) (pip; about 30 s the first time)..."
	$(BIN)/python -m pip install --quiet -e '.[server]'
	touch $@

# `make terraform` needs the plugin's dependencies: the terraform extra.
$(TERRAFORM_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "Installing the Terraform plugin's dependencies into $(VENV) (pip; about 30 s the first time)..."
	$(BIN)/python -m pip install --quiet -e '.[terraform]'
	touch $@

# The tests need every extra (server, terraform, postgres) and the test tools.
$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "Installing lacework-tokens with every extra and the test tools into $(VENV) (pip; a few minutes the first time)..."
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP) $(TERRAFORM_STAMP)

install: $(RUN_STAMP)

dev: $(DEV_STAMP)

## make browser: install Debian's headless Chromium for the console's browser tests if missing
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian's chromium for the console's browser tests"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -q && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
		else \
			echo "The console's browser tests need Chromium at $(CHROMIUM):" \
				"run 'sudo apt-get install -y chromium' (Debian), then make test again." >&2; \
			exit 1; \
		fi; \
	fi

## make run: start the backend on http://$(HOST):$(PORT) with the embedded SQLite database
run: $(RUN_STAMP)
	$(BIN)/lacework-tokens serve --host $(HOST) --port $(PORT) $(SERVE_ARGS)

## make terraform: install the Terraform plugin (lacework/lacework) into ~/.terraform.d/plugins
terraform: $(TERRAFORM_STAMP)
	$(BIN)/lacework-tokens terraform install $(INSTALL_ARGS)

## make walkthrough: follow the README in a fresh clone of this commit (installs from PyPI)
walkthrough:
	$(PYTHON) tests/walkthrough.py

## make test: install what the tests need, lint, type-check and run the whole suite
test: $(DEV_STAMP) browser
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
## tests); MUTANTS_ARGS="--only sdk/lacework_tokens/wire.py --jobs 2" narrows or widens a run,
## "--check-equivalent" also runs the mutants listed in tools/mutants/equivalent.txt
MUTANTS_ARGS ?=
mutants: $(DEV_STAMP)
	$(BIN)/python -m tools.mutants $(MUTANTS_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
