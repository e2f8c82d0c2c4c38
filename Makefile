# Developer entry points. `make` alone lists the targets.

SHELL       := /bin/bash
PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv serve test test-sqlite test-postgres lint audit check

help: ## List the targets
	@echo "Targets:"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'
	@echo
	@echo "Pass extra pytest options with PYTEST_ARGS, e.g. make test PYTEST_ARGS='-x -k merge'."

venv: $(STAMP) ## Create .venv and install the project with its dev extras

# Re-install only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

serve: venv ## Run the server with demo data
	$(BIN)/contacts-server serve --demo

test: venv ## Run the tests on SQLite, then on PostgreSQL; fail if either fails
	@status=0; \
	$(BIN)/python -m pytest --db=sqlite $(PYTEST_ARGS) || status=$$?; \
	$(BIN)/python -m pytest --db=postgres $(PYTEST_ARGS) || status=$$?; \
	exit $$status

test-sqlite: venv ## Run the tests on SQLite only
	$(BIN)/python -m pytest --db=sqlite $(PYTEST_ARGS)

test-postgres: venv ## Run the tests on PostgreSQL only
	$(BIN)/python -m pytest --db=postgres $(PYTEST_ARGS)

lint: venv ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The playground's browser test (tests/test_playground_browser.py) needs Debian's Chromium,
# node and npm, and playground/node_modules; CI runs this before `make check`.
.PHONY: browser-deps
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-deps: ## Chromium, node and the playground's npm packages (for its browser test)
	@if ! test -x /usr/bin/chromium || ! command -v npm >/dev/null; then \
		$(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium nodejs npm; \
	fi
	npm ci --prefix playground --no-audit --no-fund

audit: venv ## GraphQL over HTTP: graphql-http's server audits against a real server (node)
	BIN=$(abspath $(BIN)) bash audit/run.sh

check: lint audit test ## lint + audit + test (what CI runs)

# ---------------------------------------------------------------- benchmarks
BENCH_STAMP := $(VENV)/.bench-installed
BENCH_ARGS  ?=

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -e ".[dev,bench]"
	touch $(BENCH_STAMP)

.PHONY: bench
bench: $(BENCH_STAMP) ## Benchmarks vs raw SQL and PostGraphile, SQLite and PostgreSQL (BENCH_ARGS=--quick)
	$(BIN)/python -m bench.run $(BENCH_ARGS)
