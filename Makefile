# The README's two commands are `make run` and `make test`; both start from nothing:
# virtualenv, pinned install, services pre-flight, database created and migrated.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

# The test suite runs against its own database, Redis db, RabbitMQ vhost and a test-only
# secret, so a `make run` on the same machine and the tests never see each other's data.
TEST_VHOST := wallet_test
TEST_ENV := WALLET_ENV=test DATABASE_URL=mysql://root@127.0.0.1:3306/wallet_test \
	BROKER_URL=amqp://guest:guest@127.0.0.1:5672/$(TEST_VHOST) REDIS_URL=redis://127.0.0.1:6379/1 \
	JWT_SECRET=test-only-secret-0123456789abcdef0123456789 OPS_TOKEN=test-ops-token \
	LOGIN_MAX_FAILURES_PER_IP=100000

.PHONY: install check migrate run test chaos audit clean

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

clean:
	rm -rf $(VENV) .pytest_cache

# The benchmark (bench/run.py; README's table): WORKERS worker processes, CLIENTS HTTP clients.
.PHONY: bench
bench: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(PY) bench/run.py --workers $(or $(WORKERS),2) --clients $(or $(CLIENTS),16)
