"""Faults on the money path: a killed worker, a stopped RabbitMQ, a stopped Redis (its own).

Each test runs its own web, worker and sweeper processes, really stops a service or
kills a process, and leaves every service running when it ends, pass or fail.
"""
import contextlib
import subprocess
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import redis

from ledger import audit
from models import Transaction
from tests.helpers import (
    Client,
    free_port,
    redis_server,
    start_sweeper,
    start_web,
    start_worker,
    wait_for,
)

FAST_SWEEP = {"SWEEP_AFTER_S": "1", "SWEEP_EVERY_S": "1"}


@pytest.fixture
def own_stack(log_dir):
    """web + worker + sweeper of this test alone; returns (base, processes dict)."""
    web, base = start_web(log_dir, **FAST_SWEEP)
    procs = {"web": web, "worker": start_worker(log_dir), "sweeper": start_sweeper(
        log_dir, **FAST_SWEEP)}
    try:
        yield base, procs
    finally:
        for proc in procs.values():
            proc.stop()


def entries_per_request(ids: list[int]) -> dict[int, int]:
    counts = {rid: 0 for rid in ids}
    for entry in Transaction.select(Transaction.request).where(Transaction.request.in_(ids)):
        counts[entry.request_id] += 1
    return counts


def funded_pair(base: str, amount: str = "10050.26") -> tuple[Client, Client, int, int]:
    alice, bob = Client(base).sign_up(), Client(base).sign_up()
    a, b = alice.open_wallet("USD")["id"], bob.open_wallet("USD")["id"]
    alice.settled(alice.deposit(a, amount)["id"])
    bob.settled(bob.deposit(b, amount)["id"])
    return alice, bob, a, b


def test_a_worker_killed_mid_load_loses_and_repeats_nothing(own_stack, log_dir):
    # Given two funded users and a worker settling their transfers
    base, procs = own_stack
    alice, bob, a, b = funded_pair(base)
    total = Decimal(alice.wallet(a)["balance"]) + Decimal(bob.wallet(b)["balance"])

    def send(i):
        sender, source, target = (alice, a, b) if i % 2 else (bob, b, a)
        session = Client(base)
        session.token = sender.token
        return session.transfer(source, target, f"{1 + i % 17}.{i % 100:02d}")["id"]

    # When the worker is SIGKILLed halfway through 200 transfers and a new one started
    with ThreadPoolExecutor(16) as pool:
        first = list(pool.map(send, range(100)))
        procs["worker"].kill()
        procs["worker"].proc.wait(10)
        second = list(pool.map(send, range(100, 200)))
    procs["worker"] = start_worker(log_dir)
    ids = first + second
    outcomes = {rid: (alice if i % 2 else bob).settled(rid) for i, rid in enumerate(ids)}
    # Then every request ended exactly once, and succeeded (each sender holds 10,000.01 and
    # sends under 1,000), and not a cent moved twice
    assert {o["status"] for o in outcomes.values()} == {"succeeded"}
    counts = entries_per_request(ids)
    for rid, outcome in outcomes.items():
        assert counts[rid] == (2 if outcome["status"] == "succeeded" else 0), outcome
    assert Decimal(alice.wallet(a)["balance"]) + Decimal(bob.wallet(b)["balance"]) == total
    assert all(not rows for rows in audit.findings().values())


def failed_sends(process) -> int:
    """How many sends to the broker this process has logged as failed."""
    return process.output().count("Could not enqueue request")


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def test_with_rabbitmq_stopped_requests_are_accepted_and_the_sweeper_completes_them(own_stack):
    # Given a funded wallet
    base, procs = own_stack
    alice, bob, a, b = funded_pair(base, "100.00")
    rabbitmqctl("stop_app")
    try:
        # When RabbitMQ is down, deposits are still accepted with a 202
        ids = [alice.deposit(a, "1.00")["id"] for _ in range(10)]
        ids.append(alice.transfer(a, b, "5.00")["id"])
        # And the sweeper has failed to send twice since (two sweeps SWEEP_EVERY_S apart: by
        # the second, these requests were past SWEEP_AFTER_S and due)
        before = failed_sends(procs["sweeper"])
        wait_for(lambda: failed_sends(procs["sweeper"]) >= before + 2, timeout_s=60,
                 what="the sweeper to fail to send twice while RabbitMQ is down")
        # Then they are all still pending: not lost, not failed
        assert {alice.call("GET", f"/v1/requests/{rid}").json()["status"] for rid in ids} == \
            {"pending"}
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
    # Then, once it is back, the sweeper gets every one of them settled exactly once
    outcomes = [alice.settled(rid) for rid in ids]
    assert {o["status"] for o in outcomes} == {"succeeded"}
    assert set(entries_per_request(ids).values()) <= {2, 3}
    assert alice.wallet(a)["balance"] == "104.40"  # 99.50 + 10 x 0.99 - 5.00
    assert bob.wallet(b)["balance"] == "104.50"


def test_with_redis_stopped_reads_and_money_movement_keep_working(log_dir):
    # Given a stack on a Redis of its own (never the machine's), and a cached balance
    port = free_port()
    cache = contextlib.ExitStack()
    url = cache.enter_context(redis_server(port=port))
    web, base = start_web(log_dir, REDIS_URL=url, **FAST_SWEEP)
    procs = [web, start_worker(log_dir, REDIS_URL=url),
             start_sweeper(log_dir, REDIS_URL=url, **FAST_SWEEP)]
    try:
        alice, bob, a, b = funded_pair(base, "10.00")
        alice.wallet(a)
        cache.close()  # Redis stops
        with pytest.raises(redis.RedisError):
            redis.Redis.from_url(url, socket_timeout=1).ping()
        # When Redis is down: log in, deposit, transfer, read
        alice.log_in()
        done = alice.settled(alice.transfer(a, b, "2.50")["id"])
        listed = alice.call("GET", f"/v1/wallets/{a}/transactions").json()["items"]
        # Then everything answered from MariaDB
        assert done["status"] == "succeeded"
        assert alice.wallet(a)["balance"] == "7.45" and bob.wallet(b)["balance"] == "12.45"
        assert listed[0]["request_id"] == done["id"]
        ready = alice.call("GET", "/readyz")
        assert ready.status_code == 200 and ready.json()["redis"] == "error"  # still serves
        # And once Redis is back (on the same port) the cache does not serve the old balance
        with redis_server(port=port):
            wait_for(lambda: alice.call("GET", "/readyz").json()["redis"] == "ok",
                     timeout_s=20, what="the web process to see Redis again")
            assert alice.wallet(a)["balance"] == "7.45"
    finally:
        for proc in procs:
            proc.stop()
        cache.close()
