"""Redis as the broker (BROKER_URL=redis://...): a worker settles over it, and the ops page
counts its queues and serves Dramatiq's own dashboard under /ops/dramatiq.

Its own web process and worker, on a Redis database of the run's own beside the cache's
(tests/helpers.py: scratch_redis_url).
"""
import os

import pytest
import redis
import requests

from tests.helpers import Client, is_problem, scratch_redis_url, start_web, start_worker

REDIS_BROKER_URL = scratch_redis_url()
BEARER = {"Authorization": f"Bearer {os.environ['OPS_TOKEN']}"}


@pytest.fixture(scope="module")
def redis_stack(log_dir):
    """A web process and a worker whose broker is Redis, starting from no messages."""
    redis.Redis.from_url(REDIS_BROKER_URL).flushdb()
    web, base = start_web(log_dir, BROKER_URL=REDIS_BROKER_URL)
    worker = start_worker(log_dir, BROKER_URL=REDIS_BROKER_URL)
    try:
        yield base
    finally:
        worker.stop()
        web.stop()


def test_a_worker_on_a_redis_broker_settles_a_deposit(redis_stack):
    # Given a user with a wallet, on a stack whose broker is Redis
    client = Client(redis_stack).sign_up()
    wallet = client.open_wallet("USD")
    # When they deposit 10.00
    done = client.settled(client.deposit(wallet["id"], "10.00")["id"])
    # Then the worker settled it through Redis, once
    assert (done["status"], done["fee"]) == ("succeeded", "0.05")
    assert client.wallet(wallet["id"])["balance"] == "9.95"
    assert requests.get(f"{redis_stack}/readyz", timeout=30).json()["broker"] == "ok"


def test_on_redis_the_ops_page_counts_its_queues_and_links_dramatiqs_dashboard(redis_stack):
    res = requests.get(f"{redis_stack}/ops", headers=BEARER, timeout=30)
    assert res.status_code == 200
    assert "<h2>Queues (Redis)</h2>" in res.text and "counts-unavailable" not in res.text
    assert '<tr id="queue-deposits"><td>deposits</td><td class="n">0</td>' in res.text
    assert 'href="/ops/dramatiq/"' in res.text


def test_on_redis_dramatiqs_dashboard_is_served_behind_the_ops_token(redis_stack):
    # Without the ops token (or with a user's), it is a 401
    for headers in ({}, {"Authorization": "Bearer not-the-ops-token"}):
        for path in ("/ops/dramatiq", "/ops/dramatiq/", "/ops/dramatiq/queues/deposits"):
            assert is_problem(requests.get(redis_stack + path, headers=headers, timeout=30),
                              401, "unauthorized")
    # With it, the dashboard lists the actor queues
    res = requests.get(f"{redis_stack}/ops/dramatiq", headers=BEARER, timeout=30)
    assert res.status_code == 200 and res.url.endswith("/ops/dramatiq/")
    assert res.headers["Content-Type"].startswith("text/html")
    assert all(q in res.text for q in ("deposits", "withdrawals", "transfers"))
    res = requests.get(f"{redis_stack}/ops/dramatiq/queues/deposits/failed", headers=BEARER,
                       timeout=30)
    assert res.status_code == 200 and "deposits" in res.text
