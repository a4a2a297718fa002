"""What a Redis client raises that is no RedisError still only means "no Redis now".

redis-py's cluster client refuses a script or a transaction over keys of several slots
before it sends anything, with RedisClusterException, which does not derive from
RedisError. Here the service's Redis calls run on such a client, against a real one-node
Redis Cluster of the test's own.
"""
from datetime import datetime

import pytest
import redis
from redis.cluster import RedisCluster

from infra import cache, idempotency, settled, throttle, wallet_cache
from tests.helpers import one_node_cluster, unique


@pytest.fixture
def cluster_client(monkeypatch) -> RedisCluster:
    """The service's Redis calls made with a cluster client of a one-node cluster."""
    with one_node_cluster() as url:
        client = RedisCluster.from_url(url, socket_timeout=1)
        monkeypatch.setattr(cache, "client", client)
        monkeypatch.setattr(throttle, "LOCAL", throttle.LocalCounts())
        monkeypatch.setattr(throttle, "_FORGIVE", client.register_script(
            throttle._FORGIVE.script))
        yield client
        client.close()


def wallet_row(wallet_id: int) -> dict:
    moment = datetime(2026, 11, 30, 12, 0)
    return {"id": wallet_id, "user_id": 1, "currency": "USD", "balance": 100, "held": 0,
            "version": 3, "created_at": moment, "updated_at": moment, "deleted": False}


def test_the_cluster_clients_refusal_is_no_redis_error():
    assert not issubclass(redis.exceptions.RedisClusterException, redis.RedisError)


def test_a_two_wallet_store_the_client_refuses_raises_nothing(cluster_client):
    # Given two wallets whose keys are in different slots
    rows = [wallet_row(1_000_001), wallet_row(1_000_002)]
    with pytest.raises(redis.exceptions.RedisClusterException):
        wallet_cache.store_command(cluster_client, rows)
    # When a reader fills the cache with both, Then nothing escapes (and nothing is stored)
    wallet_cache.store(*rows)
    assert wallet_cache.fetch(1_000_001) is None


def test_a_settlement_the_client_cannot_announce_raises_nothing(cluster_client):
    # When a settlement's announcement is refused by the client (its pipelines run neither
    # scripts nor PUBLISH), Then nothing escapes: the repair thread takes it over
    assert settled.announce([1], [wallet_row(1_000_003)]) is False


def test_throttling_counts_in_the_process_when_the_client_refuses_its_transaction(
        cluster_client):
    # Given a login's three counters, in different slots
    limits = throttle.login_limits(throttle.email_digest(f"{unique()}@example.com"), "192.0.2.9")
    limits = [throttle.Limit(limit.key, 2, limit.window_s) for limit in limits]
    # When attempts are counted and one given back, Then the process counts them itself
    throttle.hit(limits)
    throttle.forgive(limits)
    throttle.hit(limits)
    throttle.hit(limits)
    with pytest.raises(throttle.TooManyAttempts):
        throttle.hit(limits)


def test_an_idempotency_claim_still_works_through_the_cluster_client(cluster_client):
    key = unique("k")
    assert idempotency.claim(7, key, "fingerprint") is None
    assert idempotency.claim(7, key, "fingerprint") == "fingerprint"
