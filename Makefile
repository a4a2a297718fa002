# The README's two commands are `make run` and `make test`; both start from nothing:
# virtualenv, pinned install, services pre-flight, database created and migrated.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

# The test suite runs against its own database, Redis db, RabbitMQ vhost and a test-only
# secret, so a `make run` on the same machine and the tests never see each other's data.
# Two test runs side by side need names of their own (`make test TEST_DB=wallet_b_test
# TEST_VHOST=wallet_b_test TEST_REDIS_DB=2`): the tests derive every scratch database,
# vhost and Redis db from these (tests/helpers.py), keeping Redis dbs below 8.
TEST_DB ?= wallet_test
TEST_VHOST ?= wallet_test
TEST_REDIS_DB ?= 1
TEST_ENV := WALLET_ENV=test DATABASE_URL=mysql://root@127.0.0.1:3306/$(TEST_DB) \
	BROKER_URL=amqp://guest:guest@127.0.0.1:5672/$(TEST_VHOST) \
	REDIS_URL=redis://127.0.0.1:6379/$(TEST_REDIS_DB) \
	JWT_SECRET=test-only-secret-0123456789abcdef0123456789 OPS_TOKEN=test-ops-token \
	LOGIN_MAX_FAILURES_PER_IP=100000
# `make mutate` resets its database and Redis db before every mutant: names of its own, so
# it can run beside `make test`.
MUTATE_DB ?= wallet_mutants_test
MUTATE_REDIS_DB ?= 6

.PHONY: install check migrate run test chaos mutate audit clean

$(VENV)/.installed: requirements.txt requirements-nodeps.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	touch $@

install: $(VENV)/.installed

check: install
	@$(PY) manage.py check

migrate: check
	$(PY) manage.py migrate

run: migrate
	$(PY) manage.py broker-plugins
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port 8080

audit: install
	$(PY) manage.py audit

test: install
	@$(TEST_ENV) BROKER_URL=amqp://guest:guest@127.0.0.1:5672/%2F $(PY) manage.py check
	@$(TEST_ENV) $(PY) manage.py vhost $(TEST_VHOST)
	@$(TEST_ENV) $(PY) manage.py broker-plugins
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	$(TEST_ENV) $(PY) manage.py reset-test-db
	$(TEST_ENV) PATH="$(CURDIR)/$(BIN):$$PATH" $(PY) -m pytest $(PYTEST_ARGS)

# The bank test with a nemesis alone (it restarts MariaDB, RabbitMQ and Redis).
chaos: install
	$(MAKE) test PYTEST_ARGS="tests/chaos -s"

# Mutation testing of the money core (mutation/mutants.toml; a few minutes, not part of
# `make test`): prints the score and the survivors. `MUTANTS="id ..."` runs only those.
mutate: install
	@$(TEST_ENV) $(PY) manage.py vhost $(TEST_VHOST)
	$(TEST_ENV) DATABASE_URL=mysql://root@127.0.0.1:3306/$(MUTATE_DB) \
		REDIS_URL=redis://127.0.0.1:6379/$(MUTATE_REDIS_DB) PATH="$(CURDIR)/$(BIN):$$PATH" \
		$(PY) mutation/run.py $(MUTANTS)

clean:
	rm -rf $(VENV) .pytest_cache

# The benchmark (bench/run.py; README's table): WORKERS worker processes, CLIENTS HTTP clients.
.PHONY: bench
bench: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(PY) bench/run.py --workers $(or $(WORKERS),2) --clients $(or $(CLIENTS),16)
