# order-platform: every target installs what it needs into .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACK ?= dev
PYTEST_ARGS ?=

.PHONY: help install dev test lint unit integration e2e infra-test policy bench migrate \
        preview up destroy clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the package with every extra

dev: $(STAMP) ## run the whole platform locally (Ctrl-C stops it)
	$(BIN)/order-local up

lint: $(STAMP) ## ruff
	$(BIN)/ruff check .

test: $(STAMP) lint ## lint, then every test (unit, integration, e2e, infra, policies)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(STAMP) ## tests without I/O
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: $(STAMP) ## tests against real PostgreSQL and the moto server
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

e2e: $(STAMP) ## tests that start service processes
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

clean: ## remove the venv and local data
	rm -rf $(VENV) .local .pytest_cache .ruff_cache
