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
# The suite spends much of its time waiting (on servers starting, long polls, timeouts), so it
# runs on pytest-xdist workers: one per core, at most four (each starts its own PostgreSQL,
# moto and redis). PYTEST_WORKERS=0 runs it in one process, for a debugger or -x.
# xdist's default scheduling (load), not loadscope or loadgroup: those group tests by node id,
# and schemathesis gives the API operations of one fuzz test the same node id, so all but one
# of them would not run (1,481 of 1,490 tests ran, and the run was green; tests/support/
# every_test_ran.py now fails such a run).
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --maxprocesses 4

.PHONY: help install dev test suite lint unit integration e2e infra-test policy bench migrate \
        preview up destroy clean _pulumi-cli lock cost benchmarks

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# The service image's dependencies come from requirements-lock.txt, hash-checked, in CI as in the
# image; the dev, infra and local-platform tools resolve around them. The second lock install
# puts back any pin a tool moved, and pip check fails if a tool cannot live with the image's
# versions. checkov has a venv of its own: its pins conflict with the services'.
CHECKOV := $(VENV)/checkov/bin/checkov
$(STAMP): pyproject.toml localplatform/pyproject.toml tooling/pyproject.toml requirements-lock.txt \
          infra/benchmarks/requirements.txt
	@command -v $(firstword $(PYTHON)) >/dev/null 2>&1 || { \
	  echo "make: $(firstword $(PYTHON)) not found: install Python 3.11 or 3.12, or pass one: make $(or $(MAKECMDGOALS),install) PYTHON=python3.11" >&2; exit 1; }
	@$(PYTHON) tools/check_python.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-lock.txt
	$(BIN)/pip install --quiet -e '.[dev]' -e ./localplatform -e ./tooling
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-lock.txt
	$(BIN)/pip check
	$(BIN)/python -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet -r infra/benchmarks/requirements.txt
	touch $(STAMP)

install: $(STAMP) ## create .venv: the services with every extra, the local platform, tooling/

DEV_ARGS ?=
dev: $(STAMP) _stunnel ## run the whole platform locally (Ctrl-C stops it); flags in DEV_ARGS="--help"
	$(BIN)/order-local up $(DEV_ARGS)

# requirements-lock.txt: every runtime dependency of the image (and the build backend), with hashes
# for every platform, from pyproject.toml. -o reads the current lock, so only what pyproject.toml
# changed moves; `make lock UPGRADE=1` moves everything to the newest allowed release.
LOCK_COMPILE = $(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	| $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	  --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade) pyproject.toml -
# Only uv is needed: a lock that pyproject.toml has outgrown cannot install, and is what this fixes.
lock: ## regenerate requirements-lock.txt from pyproject.toml (UPGRADE=1: newest allowed)
	@test -x $(BIN)/uv || $(MAKE) --no-print-directory $(STAMP)
	$(LOCK_COMPILE) -o requirements-lock.txt

SHELL_SCRIPTS = .ci/run $(shell git ls-files '*.sh' '*.bash' 2>/dev/null)
lint: $(STAMP) ## ruff, mypy, lock freshness, workflow lint + audit, Dockerfile and shell linters
	$(BIN)/ruff check .
	$(BIN)/mypy
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cp requirements-lock.txt "$$tmp/lock"; \
	$(LOCK_COMPILE) -o "$$tmp/lock"; \
	diff -u requirements-lock.txt "$$tmp/lock" || { \
	  echo "requirements-lock.txt is not what pyproject.toml gives: run make lock" >&2; exit 1; }
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jactionlint
	$(BIN)/zizmor --offline --min-severity low .github
	$(BIN)/hadolint services/Dockerfile
	$(BIN)/shellcheck $(SHELL_SCRIPTS)

benchmarks: $(STAMP) ## checkov over every stack: each finding, fixed or accepted and why
	$(BIN)/python -m infra.benchmarks

COST_ARGS ?=
cost: $(STAMP) ## monthly cost of every stack, or STACK=..; COST_ARGS="--diff staging|<git ref>"
	$(BIN)/python -m cost $(if $(filter-out file,$(origin STACK)),$(STACK)) $(COST_ARGS)

# STACK has a file default (dev) for preview/up; `policy` checks every stack unless STACK is given.
policy: $(STAMP) ## offline CrossGuard check of every stack, or STACK=dev|staging|prod
	$(BIN)/python -m guardrails.offline $(if $(filter-out file,$(origin STACK)),--stack $(STACK))

test: $(STAMP) lint policy suite ## lint, the offline policy check, then every test

suite: $(STAMP) _stunnel _chromium ## every test, on pytest-xdist workers (PYTEST_WORKERS, PYTEST_ARGS)
	$(PYTEST) $(PYTEST_ARGS)

unit: $(STAMP) ## tests without I/O
	$(PYTEST) tests/unit $(PYTEST_ARGS)

integration: $(STAMP) _stunnel ## tests against real PostgreSQL and the moto server
	$(PYTEST) tests/integration $(PYTEST_ARGS)

e2e: $(STAMP) _stunnel _chromium ## tests that start service processes
	$(PYTEST) tests/e2e $(PYTEST_ARGS)

BENCH_ARGS ?=
COMPARE_ARGS ?=
.PHONY: bench-api bench-platform bench-compare _wrk
bench: bench-compare bench-pipeline bench-cache ## every benchmark, each on a platform it starts itself

# Debian packages: installed on demand as root, otherwise the user is told how in one line.
# $(1): a shell test that is true when the tools are there; $(2): what needs them; $(3): the
# Debian packages; $(4): the Homebrew ones.
define system_packages
	@$(1) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(3) >/dev/null; \
	  else echo "make: $(2) needs $(3): apt-get install $(3) (or brew install $(4))" >&2; \
	    exit 1; fi; }
endef
HAVE = command -v $(1) >/dev/null 2>&1

.PHONY: _wrk _stunnel _chromium _valgrind
_wrk:
	$(call system_packages,$(call HAVE,wrk),the benchmark,wrk,wrk)
_valgrind:
	$(call system_packages,$(call HAVE,valgrind),the instruction count,valgrind,valgrind)
# The local PostgreSQL's TLS front (localplatform/order_local/pg_tls.py).
_stunnel:
	$(call system_packages,{ $(call HAVE,stunnel4) || $(call HAVE,stunnel); },the local PostgreSQL's TLS,stunnel4,stunnel)
# The browser test of /docs (tests/e2e/test_docs_browser.py): Chromium and its WebDriver.
_chromium:
	$(call system_packages,{ $(call HAVE,chromium) && $(call HAVE,chromedriver); },the browser test,chromium chromium-driver,--cask chromium chromedriver)

PROFILE_ARGS ?=
.PHONY: profile
profile: $(STAMP) _wrk _stunnel ## py-spy under wrk load: flame graph and top costs, PROFILE_ARGS="--endpoint get"
	$(BIN)/python -m bench.hotspots $(PROFILE_ARGS)

COUNT_ARGS ?=
.PHONY: bench-count
bench-count: $(STAMP) _valgrind _stunnel ## instructions per request of both APIs and the bare app, in-process (callgrind); COUNT_ARGS="--tool opcodes"
	$(BIN)/python -m bench.per_request $(COUNT_ARGS)

bench-compare: $(STAMP) _wrk _stunnel ## the APIs against a bare Flask app with the same SQL: ratios, p50/p99, CPU/request
	$(BIN)/python -m bench.compare $(COMPARE_ARGS)

bench-platform: $(STAMP) _stunnel ## API req/s + latency and per-service memory on a self-started platform
	$(BIN)/python -m bench.platform_bench $(BENCH_ARGS)

bench-api: $(STAMP) ## bounded load on POST /orders and GET /orders/{id} of a running `make dev`
	$(BIN)/python -m bench.api_load $(BENCH_ARGS)

CACHE_BENCH_ARGS ?=
.PHONY: bench-cache
bench-cache: $(STAMP) _wrk _stunnel ## GET /products/{sku} with and without the product cache, restock visibility, a cache kill
	$(BIN)/python -m bench.cache_bench $(CACHE_BENCH_ARGS)

PIPELINE_BENCH_ARGS ?= --workers 1,2,4 --orders 300
.PHONY: bench-pipeline
bench-pipeline: $(STAMP) _stunnel ## orders/s from POST to CONFIRMED with N workers, the worker vs a bare consumer (own PG + moto)
	$(BIN)/python -m bench.pipeline_load $(PIPELINE_BENCH_ARGS)

# --- load and live view ------------------------------------------------------------------
# The load goes to the running `make dev`, or to API_URL (a load balancer's host: the APIs are
# on the catalogue's ports), which must also be given --allow-remote when it is not loopback.
API_URL ?=
LOAD_ARGS ?=
TOP_ARGS ?=
.PHONY: load top
load: $(STAMP) ## bounded locust load: summary, thresholds, report in .load/; API_URL=, LOAD_ARGS="--help"
	$(BIN)/python -m loadtest $(if $(API_URL),--api-url '$(API_URL)') $(LOAD_ARGS)

top: $(STAMP) ## live view of the running `make dev`: orders/s, backlog, queues, p99; TOP_ARGS="--once"
	$(BIN)/order-local top $(TOP_ARGS)

# --- operations on the running local platform ------------------------------------------
LOCAL_DIR ?= .local
ARGS ?= depths
.PHONY: migrate
migrate: $(STAMP) ## apply pending migrations to the running `make dev` database (idempotent)
	@test -f $(LOCAL_DIR)/contract.env || { echo "no $(LOCAL_DIR)/contract.env: start make dev first" >&2; exit 1; }
	@set -a; . $(LOCAL_DIR)/contract.env; set +a; exec $(BIN)/order-platform migrate

# `TOKEN=$$(make -s token CUSTOMER=alice)`: an access token of the running `make dev`'s user pool.
CUSTOMER ?= alice
ROLE ?=
.PHONY: token
token: $(STAMP) ## print an access token: CUSTOMER=alice, ROLE=admin|support, MACHINE=1
	@$(BIN)/order-local token --data-dir $(LOCAL_DIR) $(if $(MACHINE),--machine,--customer '$(CUSTOMER)') \
	  $(foreach role,$(ROLE),--role $(role))

.PHONY: dlq
dlq: $(STAMP) ## the DLQ tool on the running `make dev`, e.g. make dlq ARGS="peek stock-validation"
	@test -f $(LOCAL_DIR)/contract.env || { \
	  echo "no $(LOCAL_DIR)/contract.env: start the local platform with 'make dev' first" >&2; \
	  exit 1; }
	@set -a; . $(LOCAL_DIR)/contract.env; set +a; exec $(BIN)/order-platform dlq $(ARGS)

# --- infrastructure (Pulumi): the CLI is needed only for preview/up/destroy -------------
PULUMI ?= pulumi
PULUMI_ARGS ?=

_pulumi-cli:
	@command -v $(PULUMI) >/dev/null 2>&1 || { \
	  echo "The pulumi CLI is not installed (needed for preview/up/destroy)." >&2; \
	  echo "Install it:  curl -fsSL https://get.pulumi.com | sh   (or: brew install pulumi)" >&2; \
	  echo "then log in (pulumi login) and run: make $(MAKECMDGOALS) STACK=$(STACK)" >&2; \
	  exit 1; }

infra-test: $(STAMP) ## the Pulumi program under mocks for every stack (offline)
	$(PYTEST) tests/infra $(PYTEST_ARGS)

preview: _pulumi-cli $(STAMP) ## pulumi preview --diff of STACK=dev|staging|prod
	$(PULUMI) preview --stack $(STACK) --diff $(PULUMI_ARGS)

up: _pulumi-cli $(STAMP) ## pulumi up of STACK (asks before changing anything)
	$(PULUMI) up --stack $(STACK) $(PULUMI_ARGS)

destroy: _pulumi-cli $(STAMP) ## pulumi destroy of STACK (asks first)
	$(PULUMI) destroy --stack $(STACK) $(PULUMI_ARGS)

# The nodes are x86_64 (infra/capacity.py NODE_ARCHITECTURE): build for them whatever the
# laptop is, as one plain image manifest, so the digest deployed is the image ECR scanned.
IMAGE_PLATFORM ?= linux/amd64
TAG ?= $(shell git rev-parse --short HEAD)
.PHONY: image
image: _pulumi-cli ## build the service image for the nodes (linux/amd64), push it to STACK's ECR as TAG
	@command -v docker >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1 || { \
	  echo "make image needs Docker with buildx" >&2; exit 1; }
	@repo=$$($(PULUMI) stack output ecrRepositoryUrl --stack $(STACK)); \
	aws ecr get-login-password --region "$$(echo "$$repo" | cut -d. -f4)" \
	  | docker login --username AWS --password-stdin "$${repo%%/*}"; \
	docker buildx build --platform $(IMAGE_PLATFORM) --provenance=false --sbom=false \
	  -f services/Dockerfile -t "$$repo:$(TAG)" --push .; \
	echo "pushed $$repo:$(TAG) ($(IMAGE_PLATFORM)); deploy it with:"; \
	echo "  pulumi config set imageTag $(TAG) --stack $(STACK) && make up STACK=$(STACK)"

clean: ## remove the venv and local data
	rm -rf $(VENV) .local .pytest_cache .ruff_cache .mypy_cache

DRILL_ARGS ?=
.PHONY: restore-drill
restore-drill: $(STAMP) ## lose the local writer, restore it to a point in time, check the orders: RPO, RTO
	$(BIN)/order-local restore-drill $(DRILL_ARGS)

CHAOS_ARGS ?=
.PHONY: chaos
chaos: $(STAMP) _stunnel ## fault injection on a platform of its own; one line of invariants per scenario
	$(BIN)/python -m order_local.chaos $(CHAOS_ARGS)
