# Spark: `make run` starts the whole platform embedded (no servers needed);
# `make test` runs lint, the layer check and the tests on PostgreSQL and Redis.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/spark
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint fmt schema bench bench-smoke clean venv dev-venv seed screenshots

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/activate
	@echo "Installing runtime dependencies (first run takes a minute)..."
	$(PIP) install --progress-bar on -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(VENV)/bin/activate
	@echo "Installing development dependencies..."
	$(PIP) install --progress-bar on -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

venv: $(VENV)/.runtime
dev-venv: $(VENV)/.dev

run: venv
	@echo "==> Migrating the embedded database (var/spark.sqlite3)"
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input -v 0
	@echo "==> Loading demo data"
	$(PY) manage.py seed_demo
	@echo "==> Starting web, worker and beat (Ctrl-C stops all of them)"
	DJANGO_DEBUG=$${DJANGO_DEBUG:-True} $(VENV)/bin/honcho -f Procfile.dev start

seed: venv
	$(PY) manage.py seed_demo

lint: dev-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

fmt: dev-venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

schema: dev-venv
	$(PY) manage.py spectacular --file docs/openapi.yaml --validate

test: dev-venv
	bash scripts/ensure_services.sh
	bash scripts/ensure_browser.sh
	$(MAKE) --no-print-directory lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(VENV)/bin/pytest

screenshots: dev-venv
	bash scripts/ensure_services.sh
	bash scripts/ensure_browser.sh
	SPARK_UPDATE_SCREENSHOTS=1 DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(VENV)/bin/pytest tests/e2e

bench: dev-venv
	bash scripts/ensure_services.sh
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) bench/run.py

bench-smoke: dev-venv
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) bench/run.py --smoke

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache
