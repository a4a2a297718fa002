"""Redis is an accelerator, never the truth: whatever Redis does, no request gets a 500.

Each test runs a web process and a worker against a Redis server of its own (never the
machine's): one that was stopped, one that answers every command with an error, one in
cluster mode that refuses the multi-key scripts and transactions (CROSSSLOT), and a master
found through Redis Sentinel, then killed.
"""
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
import redis

from tests.helpers import (
    Client,
    free_port,
    one_node_cluster,
    own_vhost,
    redis_server,
    start_web,
    start_worker,
    unique,
    wait_for,
)

pytestmark = pytest.mark.slow


def exercise(base: str) -> list[int]:
    """Every path that touches Redis, as a client would walk it: sign-up and login
    throttles (a wrong password, then a right one that gives its attempt back), idempotency
    claims and a replay, wallet and history caches, settlements announced and waited on.

    Returns:
      The status of every answer, for the caller to check none was a 5xx.
    """
    statuses = []
    alice, bob = Client(base).sign_up(), Client(base).sign_up()
    wrong = alice.call("POST", "/v1/auth/token", json={"email": alice.email,
                                                        "password": "not the password"})
    statuses.append(wrong.status_code)
    alice.log_in()
    a, b = alice.open_wallet()["id"], bob.open_wallet()["id"]
    deposit = alice.settled(alice.deposit(a, "10.00")["id"], wait_s=5)
    key = unique("t")
    body = {"from_wallet_id": a, "to_wallet_id": b, "amount": "2.50"}
    first = alice.call("POST", "/v1/transfers", json=body, key=key)
    replay = alice.call("POST", "/v1/transfers", json=body, key=key)
    statuses += [first.status_code, replay.status_code]
    transfer = alice.settled(first.json()["id"], wait_s=5)
    for client, path in ((alice, f"/v1/wallets/{a}"), (alice, f"/v1/wallets/{a}/transactions"),
                         (bob, f"/v1/wallets/{b}"), (alice, "/v1/wallets"),
                         (alice, f"/v1/wallets/{a}"), (alice, "/readyz")):
        statuses.append(client.call("GET", path).status_code)
    assert (deposit["status"], transfer["status"]) == ("succeeded", "succeeded")
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert alice.wallet(a)["balance"] == "7.45" and bob.wallet(b)["balance"] == "2.50"
    return statuses


@contextlib.contextmanager
def service(log_dir: str, **env: str) -> Iterator[str]:
    """A web process and a worker with `env` (their Redis), on a vhost of their own (a worker
    of another test, with another Redis, must not settle what this one waits for); yields
    the base URL."""
    with own_vhost() as broker_url:
        web, base = start_web(log_dir, BROKER_URL=broker_url, **env)
        worker = start_worker(log_dir, BROKER_URL=broker_url, **env)
        try:
            yield base
        finally:
            worker.stop()
            web.stop()


def no_server_errors(statuses: list[int], *processes_output: str) -> bool:
    assert all(status < 500 for status in statuses), statuses
    return not any("Unexpected error" in output for output in processes_output)


@pytest.fixture
def stopped_redis() -> str:
    """The URL of a Redis server that was started and then stopped."""
    with redis_server() as url:
        pass
    return url


def test_with_its_redis_stopped_every_request_is_answered_from_the_database(log_dir,
                                                                            stopped_redis):
    with service(log_dir, REDIS_URL=stopped_redis) as base:
        statuses = exercise(base)
    assert no_server_errors(statuses)
    assert statuses[-1] == 200  # /readyz: Redis is down, the process still takes traffic


def test_a_redis_that_answers_every_command_with_an_error_costs_no_request(log_dir):
    # Given a replica of a master that does not exist, refusing to serve stale data: every
    # command gets MASTERDOWN (a ResponseError)
    with redis_server("--replicaof", "127.0.0.1", str(free_port()),
                      "--replica-serve-stale-data", "no") as url:
        with pytest.raises(redis.ResponseError, match="MASTER is down"):
            redis.Redis.from_url(url).get("anything")
        # When the service runs on it, Then every request is still answered
        with service(log_dir, REDIS_URL=url) as base:
            assert no_server_errors(exercise(base))


def test_a_redis_cluster_node_refusing_cross_slot_scripts_costs_no_request(log_dir):
    # Given a one-node Redis Cluster holding every slot: multi-key scripts and transactions
    # over keys of different slots (two wallets, a login's counters) get CROSSSLOT
    with one_node_cluster() as url:
        with pytest.raises(redis.ResponseError, match="same slot"):
            redis.Redis.from_url(url).eval("return 1", 2, "wallet:1", "wallet:2")
        # When the service runs on it, Then every request is still answered
        with service(log_dir, REDIS_URL=url) as base:
            assert no_server_errors(exercise(base))


@contextlib.contextmanager
def sentinel_watching(master_url: str) -> Iterator[str]:
    """A Redis Sentinel of its own watching `master_url` as `wallet`; yields host:port."""
    port, folder = free_port(), tempfile.mkdtemp(prefix="wallet-sentinel-")
    master_port = redis.Redis.from_url(master_url).connection_pool.connection_kwargs["port"]
    config = os.path.join(folder, "sentinel.conf")
    with open(config, "w") as f:
        f.write(f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
                f"sentinel monitor wallet 127.0.0.1 {master_port} 1\n"
                "sentinel down-after-milliseconds wallet 1000\n")
    proc = subprocess.Popen(["redis-server", config, "--sentinel"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        sentinel = redis.Redis(port=port)
        wait_for(lambda: _sentinel_knows(sentinel), timeout_s=20,
                 what="the sentinel to know its master")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _sentinel_knows(sentinel: redis.Redis) -> bool:
    try:
        return sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "wallet") \
            is not None
    except redis.ConnectionError:
        return False


def test_through_sentinel_the_service_uses_the_master_and_survives_losing_it(log_dir):
    # Given a master watched by a sentinel, and the service told only of the sentinel
    with redis_server() as master_url, sentinel_watching(master_url) as sentinel:
        master = redis.Redis.from_url(master_url)
        env = {"REDIS_SENTINELS": sentinel, "REDIS_MASTER_NAME": "wallet",
               "REDIS_URL": "redis://127.0.0.1:1/0"}  # a wrong address: only the db is used
        with service(log_dir, **env) as base:
            # When clients use it, Then the caches and counters live in that master
            statuses = exercise(base)
            assert any(key.startswith(b"wallet:") for key in master.keys())
            assert any(key.startswith(b"login:") for key in master.keys())
            # And when the master dies (no replica to promote), Then nothing fails
            master.shutdown(nosave=True)
            statuses += exercise(base)
    assert no_server_errors(statuses)
