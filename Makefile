# Developer entry points. `make` alone lists the targets.
#
# Python packages come from uv.lock, installed by uv (which this file installs itself, into
# .tools/, from PyPI). Debian packages (Chromium, the PostgreSQL 15 server, Redis, Node.js)
# are installed by apt only when missing: `system-deps`.

SHELL       := /bin/bash
PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
PYTEST_ARGS ?=
HOST        ?= 127.0.0.1
PORT        ?= 8000

UV_VERSION  := 0.13.8
TOOLS       := .tools
UV          := $(TOOLS)/bin/uv
# uv uses the machine's Python (PYTHON) and never downloads one (pyproject.toml [tool.uv]).
export UV_PYTHON := $(PYTHON)
export UV_PROJECT_ENVIRONMENT := $(VENV)

DEV_STAMP   := $(VENV)/.installed-dev
SERVE_STAMP := $(VENV)/.installed-serve
BENCH_STAMP := $(VENV)/.installed-bench

# The suite on the newest (or, for the floors, the oldest) versions pyproject.toml allows,
# each in a venv of its own: uv.lock and .venv stay as they are.
NEWEST      := .venv-newest
LOWEST      := .venv-lowest

.DEFAULT_GOAL := help
.PHONY: help venv examples serve playground test test-sqlite test-postgres lint audit docs check \
	system-deps browser-deps test-newest test-lowest lock bench

help: ## List the targets
	@echo "Targets:"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'
	@echo
	@echo "Pass extra pytest options with PYTEST_ARGS, e.g. make test PYTEST_ARGS='-x -k merge';"
	@echo "serve elsewhere with make serve PORT=8100 (HOST=0.0.0.0 to listen on every address)."

# ---------------------------------------------------------------- Python environment
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

venv: $(DEV_STAMP) ## Create .venv from uv.lock: the project and its dev tools

# --locked: fail, rather than resolve anew, when uv.lock does not match pyproject.toml.
$(DEV_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked
	rm -f $(BENCH_STAMP)
	touch $@

# What serving needs and nothing else; --inexact keeps dev tools a developer already has.
$(SERVE_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --no-dev --inexact
	touch $@

examples: $(SERVE_STAMP) ## What the scripts in examples/ need (gql), beside the server
	$(UV) sync --locked --no-dev --inexact --extra examples

lock: | $(UV) ## Resolve uv.lock again after changing pyproject.toml (add --upgrade via LOCK_ARGS)
	$(UV) lock $(LOCK_ARGS)

# ---------------------------------------------------------------- serving
# The playground's JavaScript and CSS (GraphiQL, React), served by the server itself.
PLAYGROUND_MODULES := playground/node_modules
PLAYGROUND_ALL     := $(PLAYGROUND_MODULES)/.installed-all
PLAYGROUND_RUNTIME := $(PLAYGROUND_MODULES)/.installed-runtime

playground: ## The playground's files (npm ci --omit=dev), unless already installed
	@if [[ -e $(PLAYGROUND_ALL) && $(PLAYGROUND_ALL) -nt playground/package-lock.json ]] || \
	    [[ -e $(PLAYGROUND_RUNTIME) && $(PLAYGROUND_RUNTIME) -nt playground/package-lock.json ]]; then \
		:; \
	elif command -v npm >/dev/null; then \
		npm ci --prefix playground --omit=dev --no-audit --no-fund && touch $(PLAYGROUND_RUNTIME); \
	else \
		echo "No npm: the playground will say how to install its files (npm ci --prefix playground --omit=dev)." >&2; \
	fi

serve: $(SERVE_STAMP) playground ## Serve with demo data on HOST:PORT (default 127.0.0.1:8000)
	$(BIN)/contacts-server serve --demo --host $(HOST) --port $(PORT)

# ---------------------------------------------------------------- system packages
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-deps: ## Debian packages the tests need, installed only when missing
	@missing=(); \
	test -x /usr/bin/chromium || missing+=(chromium); \
	test -x /usr/lib/postgresql/15/bin/postgres || missing+=(postgresql-15); \
	command -v redis-server >/dev/null || missing+=(redis-server); \
	command -v node >/dev/null || missing+=(nodejs); \
	command -v npm >/dev/null || missing+=(npm); \
	if (( $${#missing[@]} )); then \
		echo "Installing with apt-get: $${missing[*]}"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends "$${missing[@]}"; \
	fi

# Chromium, node and the playground's npm packages with its test driver (playwright-core).
browser-deps: system-deps ## What the playground's browser test needs
	@if [[ ! -e $(PLAYGROUND_ALL) || playground/package-lock.json -nt $(PLAYGROUND_ALL) ]]; then \
		npm ci --prefix playground --no-audit --no-fund && touch $(PLAYGROUND_ALL); \
	fi

# ---------------------------------------------------------------- tests and checks
# The suite on SQLite, then on PostgreSQL, with the Python of $(1); fails if either fails.
define both_passes
	@status=0; \
	$(1)/python -m pytest --db=sqlite $(PYTEST_ARGS) || status=$$?; \
	$(1)/python -m pytest --db=postgres $(PYTEST_ARGS) || status=$$?; \
	exit $$status
endef

test: $(DEV_STAMP) browser-deps ## Run the tests on SQLite, then on PostgreSQL; fail if either fails
	$(call both_passes,$(BIN))

test-sqlite: $(DEV_STAMP) browser-deps ## Run the tests on SQLite only
	$(BIN)/python -m pytest --db=sqlite $(PYTEST_ARGS)

test-postgres: $(DEV_STAMP) browser-deps ## Run the tests on PostgreSQL only
	$(BIN)/python -m pytest --db=postgres $(PYTEST_ARGS)

# A venv of $(1) with the project and its dev group at the $(2) versions the ranges allow.
define resolved_venv
	$(UV) venv --quiet --allow-existing $(1)
	VIRTUAL_ENV=$(1) $(UV) pip install --quiet --resolution $(2) --upgrade -e . --group dev
	VIRTUAL_ENV=$(1) $(UV) pip list --format freeze > $(1)/versions.txt
	@echo "Versions: $(1)/versions.txt"
endef

test-newest: browser-deps | $(UV) ## The suite on the newest versions pyproject.toml allows (an upgrade, tried)
	$(call resolved_venv,$(NEWEST),highest)
	$(call both_passes,$(NEWEST)/bin)

test-lowest: browser-deps | $(UV) ## The suite on the lowest versions pyproject.toml allows (its floors)
	$(call resolved_venv,$(LOWEST),lowest-direct)
	$(call both_passes,$(LOWEST)/bin)

lint: $(DEV_STAMP) ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

audit: $(DEV_STAMP) system-deps ## GraphQL over HTTP: graphql-http's server audits against a real server (node)
	BIN=$(abspath $(BIN)) bash audit/run.sh

# The docs site (mkdocs.yml, docs/) into site/. NO_MKDOCS_2_WARNING silences the notice that
# Material prints on every build about its own and MkDocs' future: it is not about these docs.
docs: $(DEV_STAMP) ## Build the docs site (strict: warnings fail)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

check: lint audit docs test ## lint + audit + docs + test (what CI runs)

# ---------------------------------------------------------------- benchmarks
BENCH_ARGS  ?=

$(BENCH_STAMP): $(DEV_STAMP)
	$(UV) sync --locked --group bench
	touch $@

bench: $(BENCH_STAMP) ## Benchmarks vs raw SQL and PostGraphile, SQLite and PostgreSQL (BENCH_ARGS=--quick)
	$(BIN)/python -m bench.run $(BENCH_ARGS)
