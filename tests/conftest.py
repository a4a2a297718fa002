"""Test harness: real MariaDB, Redis and RabbitMQ, checked before anything runs.

Run through `make test`, which sets WALLET_ENV=test and a *_test database. The test
process itself uses Dramatiq's StubBroker (fast actor tests); real worker and web
processes started by e2e fixtures get the real RabbitMQ URL.
"""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

if os.environ.get("WALLET_ENV") != "test" or not os.environ.get("DATABASE_URL", "").endswith(
        "_test"):
    pytest.exit("Run the tests with `make test` (WALLET_ENV=test and a *_test DATABASE_URL), "
                "so they never touch a real database.", returncode=2)

REAL_BROKER_URL = os.environ.get("BROKER_URL") or "amqp://guest:guest@127.0.0.1:5672/%2F"
os.environ["REAL_BROKER_URL"] = REAL_BROKER_URL
os.environ["BROKER_URL"] = "stub://"  # in-process actors only; subprocesses get the real one

import settings  # noqa: E402,F401 - loads the checkout's .env (its secrets) into os.environ
from tests.helpers import ARTIFACTS  # noqa: E402


@pytest.fixture(scope="session")
def log_dir() -> str:
    """Where process logs and other test artifacts are kept (not committed)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session", autouse=True)
def services_are_up():
    """Fail (never skip) with instructions when a service the tests need is down."""
    from infra import health

    down = []
    for name, probe in health.PREFLIGHT.items():
        if name == "broker":
            continue  # checked below against the real broker, not the stub
        try:
            probe()
        except Exception as exc:  # noqa: BLE001
            down.append(f"{name} is down ({exc}); start it with: {health.HOW_TO_START[name]}")
    import pika
    try:
        pika.BlockingConnection(pika.URLParameters(REAL_BROKER_URL)).close()
    except Exception as exc:  # noqa: BLE001
        down.append(f"broker is down ({exc}); start it with: {health.HOW_TO_START['broker']}")
    if down:
        pytest.fail("\n".join(down), pytrace=False)
