# The two commands of the README: `make run` and `make test`. Both create .venv themselves.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest bench chaos simulator chat clean

INSTALL_LOG := $(VENV)/install.log

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing into $(VENV) (log: $(INSTALL_LOG))..."
	@{ $(BIN)/python -m pip install --disable-pip-version-check --upgrade pip && \
	   $(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'; } \
	   > $(INSTALL_LOG) 2>&1 || { tail -40 $(INSTALL_LOG); echo "Install failed; see $(INSTALL_LOG)"; exit 1; }
	@touch $(STAMP)

## run: install and run the service (adapters for the tokens set; else the console playground)
run: $(STAMP)
	@$(BIN)/gloo-bots run

## test: install and run the whole suite: lint, import contracts, types, tests
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy core bots tests

pytest: $(STAMP)
	$(BIN)/pytest

## chaos: the long chaos runs (R1-R5 at 7x the size make test uses); figures on CHAOS lines
chaos: $(STAMP)
	@set -o pipefail; $(BIN)/pytest tests/chaos --chaos-scale 7 -s -q -o timeout=1800 \
	  -p no:cacheprovider 2>&1 | grep -E '^CHAOS|^FAILED|^ERROR|^[0-9]+ (passed|failed)'

## bench: P1-P5 on the simulator and the fake platforms (table, bench/results.json)
bench: $(STAMP)
	$(BIN)/gloo-bots bench

chat: $(STAMP)
	@$(BIN)/gloo-bots chat

simulator: $(STAMP)
	@$(BIN)/gloo-bots simulator

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
