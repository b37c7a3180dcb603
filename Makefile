# Two set-up commands: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck imports pytest browser-deps pdf-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mastery-bridge db upgrade
	$(BIN)/mastery-bridge demo load
	$(BIN)/mastery-bridge demo report
	$(BIN)/mastery-bridge demo serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# Browser tests drive Debian's chromium (Playwright's own browser download cannot work offline).
CHROMIUM := $(shell command -v chromium 2>/dev/null)

browser-deps:
ifeq ($(CHROMIUM),)
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "chromium is missing: run 'sudo apt-get install -y chromium' (browser tests need it)" >&2; exit 1; \
	fi
endif

# The export tests render PDF pages to PNG with poppler's pdftoppm (Debian package poppler-utils).
PDFTOPPM := $(shell command -v pdftoppm 2>/dev/null)

pdf-deps:
ifeq ($(PDFTOPPM),)
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils; \
	else \
		echo "pdftoppm is missing: run 'sudo apt-get install -y poppler-utils' (the PDF export tests need it)" >&2; exit 1; \
	fi
endif

# axe-core (npm) runs inside the browser tests; package-lock.json pins it.
AXE := node_modules/axe-core/axe.min.js

$(AXE): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $(AXE)

# Tests marked `forks` run in a second pytest process: forking where earlier tests left threads running
# (live servers, the browser driver) can deadlock the child on a lock one of them held.
pytest: $(STAMP) browser-deps pdf-deps $(AXE)
	$(BIN)/pytest -m "not forks"
	$(BIN)/pytest -m forks

test: lint typecheck imports pytest

clean:
	rm -rf $(VENV) var/*.db .pytest_cache .mypy_cache .ruff_cache
