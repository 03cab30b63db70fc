# The two commands of the README: `make run` and `make test`. Both create .venv themselves.
# `make run` / `make install` sync the product alone (uv.lock without the dev extra);
# `make test` and the development targets sync it with the dev extra. A sync without the
# extra removes the dev packages, so each sync deletes the other's stamp and the next
# target of the other kind syncs again.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PROD_STAMP := $(VENV)/.installed-prod

.PHONY: install run test lint typecheck pytest bench chaos simulator chat clean lock

INSTALL_LOG := $(VENV)/install.log
# uv installs exactly what uv.lock pins (hashes checked); it lives beside the environment,
# in $(VENV)/.uv, so a sync never removes it. `make lock` updates uv.lock (see README).
UV_VERSION := 0.13.8
UV := $(VENV)/.uv/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

$(UV):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --disable-pip-version-check --quiet --target $(VENV)/.uv \
	   uv==$(UV_VERSION) > $(VENV)/uv-install.log 2>&1 || { cat $(VENV)/uv-install.log; exit 1; }

$(STAMP): pyproject.toml tools/pyproject.toml uv.lock | $(UV)
	@echo "Installing uv.lock into $(VENV) (log: $(INSTALL_LOG))..."
	@rm -f $(PROD_STAMP)
	@$(UV) sync --locked --extra dev --python $(BIN)/python > $(INSTALL_LOG) 2>&1 || \
	   { tail -40 $(INSTALL_LOG); echo "Install failed; see $(INSTALL_LOG)"; \
	     echo "If pyproject.toml changed, run 'make lock' and commit uv.lock."; exit 1; }
	@touch $(STAMP)

$(PROD_STAMP): pyproject.toml tools/pyproject.toml uv.lock | $(UV)
	@echo "Installing uv.lock (the product, no dev tools) into $(VENV) (log: $(INSTALL_LOG))..."
	@rm -f $(STAMP)
	@$(UV) sync --locked --python $(BIN)/python > $(INSTALL_LOG) 2>&1 || \
	   { tail -40 $(INSTALL_LOG); echo "Install failed; see $(INSTALL_LOG)"; \
	     echo "If pyproject.toml changed, run 'make lock' and commit uv.lock."; exit 1; }
	@touch $(PROD_STAMP)

## install: create .venv with the product only (for .venv/bin/gloo-bots commands)
install: $(PROD_STAMP)

## lock: re-resolve uv.lock after a change to pyproject.toml (`make lock UPGRADE=1` takes the newest releases)
lock: | $(UV)
	$(UV) lock $(if $(UPGRADE),--upgrade,)

## run: install and run the service (adapters for the tokens set; else the console playground)
run: $(PROD_STAMP)
	@$(BIN)/gloo-bots run

## test: install and run the whole suite: lint, import contracts, types, tests
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy core bots tools/devtools tests

# One worker per core (pytest-xdist; each worker makes its own PostgreSQL database, see
# tests/conftest.py), and the 15 slowest tests named at the end. `make pytest WORKERS=0` runs
# in one process. `--dist loadfile`: a file's tests stay on one worker (the fuzz summaries read
# what the module's examples left in its process).
WORKERS ?= auto
pytest: $(STAMP)
	$(BIN)/pytest -n $(WORKERS) --dist loadfile --durations=15

## chaos: the long chaos runs (R1-R5 at 7x the size make test uses); figures on CHAOS lines
chaos: $(STAMP)
	@set -o pipefail; $(BIN)/pytest tests/chaos --chaos-scale 7 -s -q -o timeout=1800 \
	  -p no:cacheprovider 2>&1 | grep -E '^CHAOS|^FAILED|^ERROR|^[0-9]+ (passed|failed)'

## bench: P1-P6, W1-W6, C1, C2 and S1 on the simulator and the fake platforms (table, bench/results.json)
bench: $(STAMP)
	$(BIN)/gloo-bots bench

## procfile: run Procfile processes locally with honcho (`make procfile PROCESSES="discord worker"`)
PROCESSES ?= web worker
procfile: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start $(PROCESSES)

chat: $(PROD_STAMP)
	@$(BIN)/gloo-bots chat

simulator: $(PROD_STAMP)
	@$(BIN)/gloo-bots simulator

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
