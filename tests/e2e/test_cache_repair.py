"""A wallet read is never stale for long, even when the worker's cache write after a commit
fails: the worker repairs the entry as soon as Redis takes writes again (see settled.py).

Redis is made to refuse writes for a while with `CLIENT PAUSE ... WRITE` (reads go on), on
the machine's own Redis, for two seconds.
"""
import time

import redis

import settings
from models import TransactionRequest

PAUSE_MS = 2000
# The bound this test holds the service to, after Redis takes writes again.
REPAIRED_WITHIN_S = 3


def settled_in_the_database(request_id: int, timeout_s: float = 30) -> str:
    """Wait for the outcome without asking the API (a request read refreshes the cache,
    which would hide what this test looks for)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = TransactionRequest.get_by_id(request_id).status
        if status != "pending":
            return status
        time.sleep(0.05)
    raise AssertionError(f"request {request_id} still pending")


def test_a_recipients_cached_balance_is_repaired_after_the_workers_cache_write_failed(client,
                                                                                        other):
    # Given a funded sender, and a recipient whose wallet is cached at 0.00
    source, target = client.open_wallet("USD"), other.open_wallet("USD")
    client.settled(client.deposit(source["id"], "20.00")["id"])
    assert other.wallet(target["id"])["balance"] == "0.00"
    cache = redis.Redis.from_url(settings.REDIS_URL)
    assert cache.get(f"wallet:{target['id']}") is not None
    # When Redis refuses writes while a transfer to the recipient settles
    cache.execute_command("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
    paused_until = time.monotonic() + PAUSE_MS / 1000
    transfer = client.transfer(source["id"], target["id"], "5.00")
    assert settled_in_the_database(transfer["id"]) == "succeeded"
    assert time.monotonic() < paused_until, "the transfer settled after the pause: no test"
    # Then, once Redis takes writes again, the recipient's own read shows the money
    # within the bound (the cache would otherwise serve 0.00 for CACHE_TTL_S)
    deadline = paused_until + REPAIRED_WITHIN_S
    while other.wallet(target["id"])["balance"] != "5.00":
        assert time.monotonic() < deadline, "the recipient's balance stayed stale"
        time.sleep(0.1)
