# Spark: `make run` starts the whole platform embedded (no servers needed);
# `make test` runs lint, the layer check and the tests on PostgreSQL and Redis.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/spark
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint audit fmt schema bench bench-smoke load chaos clean venv dev-venv seed screenshots simulate fuzz

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
	$(VENV)/bin/bandit -q -r spark orders drivers dispatch payouts -lll

# S1: bandit's high-severity findings, then known vulnerabilities in every pinned requirement.
# pip-audit needs PyPI's JSON API (or OSV: PIP_AUDIT_SERVICE=osv); --strict fails when a package
# could not be checked, so an unreachable vulnerability source is a failure, never a pass.
PIP_AUDIT_SERVICE ?= pypi
audit: dev-venv
	$(VENV)/bin/bandit -q -r spark orders drivers dispatch payouts -lll
	$(VENV)/bin/pip-audit --strict --disable-pip --no-deps -s $(PIP_AUDIT_SERVICE) \
		-r requirements.txt -r requirements-dev.txt

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
	bash scripts/ensure_wrk.sh
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) bench/run.py

bench-smoke: dev-venv
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) bench/run.py --smoke

# A simulated city day on the real services, embedded (docs/simulator.md); reports in var/sim/.
SIM_ARGS ?= --market nashville --orders 5000 --drivers 500 --hours 12 --seed 1
simulate: venv
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py simulate $(SIM_ARGS)

# Load tests L1 (the mix, 500 users, 120 s) and L2 (the accept storm) on gunicorn, PostgreSQL and
# Redis; never part of `make test`. Nightly: make load LOAD_ARGS="--minutes 15"
load: dev-venv
	bash scripts/ensure_services.sh
	$(PY) bench/load.py $(LOAD_ARGS)

# Chaos (RELIABILITY.md Q1-Q4, M3, W4, W5) at full size: 20 settlement kills, 10,000 webhook
# events, longer outages; real workers, gunicorn, a throwaway Redis and PostgreSQL cluster.
# `make test` runs the same tests at small size.
chaos: dev-venv
	bash scripts/ensure_services.sh
	SPARK_CHAOS_FULL=1 DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(VENV)/bin/pytest tests/chaos -m chaos

# F1 at full size: schemathesis on every operation of docs/openapi.yaml per role (driver token,
# merchant key, anonymous), positive and negative, with the coverage phase; `make test` runs a
# few derandomized examples. More: make fuzz SPARK_FUZZ_EXAMPLES=500
SPARK_FUZZ_EXAMPLES ?= 100
fuzz: dev-venv
	bash scripts/ensure_services.sh
	SPARK_FUZZ_EXAMPLES=$(SPARK_FUZZ_EXAMPLES) DATABASE_URL=$(TEST_DATABASE_URL) \
		REDIS_URL=$(TEST_REDIS_URL) $(VENV)/bin/pytest tests/security/test_api_fuzz.py

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache
