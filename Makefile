# Y City petition portal. The two commands a new user needs:
#   make run    set everything up, migrate the SQLite database, load demo data once, serve on 127.0.0.1:$(PORT)
#   make test   set everything up and run every test (also on PostgreSQL when PORTAL_TEST_DATABASE_URL is set)
SHELL := /bin/bash
.DEFAULT_GOAL := help
PORT ?= 5000
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
STAMPS := .make
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages: WeasyPrint's text stack with a CJK font; chromium for the browser tests.
RUNTIME_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk
TEST_DEBS := chromium poppler-utils
PYTEST_ARGS ?=

.PHONY: help run test setup setup-test i18n i18n-update lock clean bench

help:
	@echo "make run   - set up and serve the portal with demo data on http://127.0.0.1:$(PORT)"
	@echo "make test  - set up and run every test"
	@echo "make bench - load-test the case pages (100,000 generated cases, gunicorn + wrk on 127.0.0.1) and time the sealed agreement PDF"

# Links in messages (outbox) point at this server unless PORTAL_BASE_URL says otherwise.
run: export PORTAL_BASE_URL ?= http://127.0.0.1:$(PORT)
run: setup
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	@$(FLASK) demo-logins
	@echo "Serving on http://127.0.0.1:$(PORT)"
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

test: setup-test
	env -u PORTAL_TEST_DATABASE_URL $(PY) -m pytest -n 2 -m "not browser" $(PYTEST_ARGS)
	$(PY) -m pytest tests/browser $(PYTEST_ARGS)
	@if [ -n "$$PORTAL_TEST_DATABASE_URL" ]; then \
	  echo "== again on $${PORTAL_TEST_DATABASE_URL%%@*}@… (browser tests ran above)"; \
	  $(PY) -m pytest -n 2 -m "not browser" $(PYTEST_ARGS); \
	else \
	  echo "PORTAL_TEST_DATABASE_URL is not set: PostgreSQL run skipped"; \
	fi

setup: $(STAMPS)/debs-runtime $(STAMPS)/python $(STAMPS)/vendor $(STAMPS)/i18n
setup-test: setup $(STAMPS)/debs-test $(STAMPS)/python-test

$(STAMPS):
	mkdir -p $(STAMPS)

$(STAMPS)/debs-runtime: | $(STAMPS)
	@need=""; \
	for p in $(RUNTIME_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || need="$$need $$p"; done; \
	command -v $(PYTHON) >/dev/null || need="$$need python3"; \
	$(PYTHON) -c "import ensurepip" 2>/dev/null || need="$$need python3-venv"; \
	command -v npm >/dev/null || need="$$need npm"; \
	if [ -n "$$need" ]; then echo "Installing Debian packages:$$need"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$need; fi
	touch $@

$(STAMPS)/debs-test: | $(STAMPS)
	@need=""; \
	for p in $(TEST_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || need="$$need $$p"; done; \
	if [ -n "$$need" ]; then echo "Installing Debian packages:$$need"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$need; fi
	touch $@

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

$(STAMPS)/python: requirements.txt $(VENV)/bin/python | $(STAMPS)
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

$(STAMPS)/python-test: requirements-test.txt $(STAMPS)/python | $(STAMPS)
	$(VENV)/bin/pip install -q -r requirements-test.txt
	touch $@

# Browser libraries come from npm and are copied into static/vendor/ (never committed).
$(STAMPS)/vendor: package.json package-lock.json | $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/
	cp node_modules/signature_pad/dist/signature_pad.umd.min.js static/vendor/
	touch $@

$(STAMPS)/i18n: $(wildcard portal/translations/*/LC_MESSAGES/messages.po) $(STAMPS)/python | $(STAMPS)
	$(VENV)/bin/pybabel compile -d portal/translations
	touch $@

# Load run, never part of make test: BENCH_ARGS="--cases 20000 --duration 5"; PORTAL_DATABASE_URL picks the
# database (default instance/bench.db). Results are appended to benchmarks/results/<date>.txt.
BENCH_ARGS ?=
bench: setup
	@command -v wrk >/dev/null || { echo "Installing Debian package: wrk"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk; }
	$(PY) benchmarks/run.py $(BENCH_ARGS)
	$(PY) benchmarks/agreement_pdf.py

# Developer helpers ---------------------------------------------------------------------
i18n-update: $(STAMPS)/python
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l --ignore-dirs '.*' -o portal/translations/messages.pot --no-location --sort-output .
	$(VENV)/bin/pybabel update -i portal/translations/messages.pot -d portal/translations --no-fuzzy-matching

lock: $(STAMPS)/python-test
	@echo "Edit requirements*.txt by hand; check with: $(VENV)/bin/pip freeze"

clean:
	rm -rf $(STAMPS) static/vendor node_modules
