"""`?wait=` polls: bounded, so other callers find a thread, and woken when their request
settles instead of polling the database in a loop.

Each test runs a web process on a RabbitMQ vhost of its own, so no worker settles its
requests until the test starts one.
"""
import concurrent.futures as futures
import re
import time

import requests

from tests.helpers import Client, free_port, start_web, start_worker


def waiting_polls(base: str) -> int:
    text = requests.get(base + "/metrics", timeout=10).text
    return int(float(re.search(r"^wallet_waiting_polls (\S+)$", text, re.M)[1]))


def until(condition, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def pending_deposit(client: Client) -> int:
    wallet = client.open_wallet("USD")
    return client.deposit(wallet["id"], "10.00")["id"]


def poll(client: Client, request_id: int, wait_s: int) -> dict:
    return poll_answer(client, request_id, wait_s).json()


def poll_answer(client: Client, request_id: int, wait_s: int) -> requests.Response:
    res = client.call("GET", f"/v1/requests/{request_id}?wait={wait_s}")
    assert res.status_code == 200, res.text
    return res


def test_polls_beyond_the_caps_answer_at_once_and_other_callers_always_find_a_thread(
        log_dir, vhost):
    # Given a web process of 8 threads that lets 4 polls wait, 2 per user, and no worker
    web, base = start_web(log_dir, BROKER_URL=vhost, WEB_THREADS="8", MAX_WAITING_POLLS="4",
                          MAX_WAITING_POLLS_PER_USER="2")
    ada, bob, cy = (Client(base).sign_up() for _ in range(3))
    requests_of = {c: pending_deposit(c) for c in (ada, bob, cy)}
    try:
        with futures.ThreadPoolExecutor(max_workers=8) as pool:
            # When Ada and Bob each start two 8-second polls
            waiting = [pool.submit(poll, c, requests_of[c], 8) for c in (ada, ada, bob, bob)]
            until(lambda: waiting_polls(base) == 4, "four polls waiting")
            # And then Ada (over her own cap), Bob and Cy (over the total cap) poll too
            extra = [pool.submit(poll_answer, c, requests_of[c], 8) for c in (ada, bob, cy)]
            answered = [f.result(timeout=30) for f in extra]
            # Then those answer at once, with the request as it stands and when to come back
            assert [a.json()["status"] for a in answered] == ["pending"] * 3
            assert [a.headers.get("Retry-After") for a in answered] == ["1"] * 3
            # While the four are still waiting, others find a thread: health, profile, writes
            assert requests.get(base + "/healthz", timeout=10).status_code == 200
            assert cy.call("GET", "/v1/me").status_code == 200
            assert cy.open_wallet("EUR")["currency"] == "EUR"
            assert not any(f.done() for f in waiting)
            assert waiting_polls(base) == 4
            # And the four end at their deadline, still pending (no worker runs), with no
            # Retry-After: they did wait
            ended = [f.result(timeout=30) for f in waiting]
            assert [a["status"] for a in ended] == ["pending"] * 4
        assert waiting_polls(base) == 0
    finally:
        web.stop()


def test_a_poll_is_woken_when_its_request_settles(log_dir, vhost):
    # Given a web process whose polls reread the database only once a minute, and a
    # pending deposit with nobody to settle it
    web, base = start_web(log_dir, BROKER_URL=vhost, WAIT_RECHECK_S="60")
    worker = None
    try:
        client = Client(base).sign_up()
        request_id = pending_deposit(client)
        with futures.ThreadPoolExecutor(max_workers=1) as pool:
            # When a 25-second poll waits on it, and only then a worker starts
            answer = pool.submit(poll, client, request_id, 25)
            until(lambda: waiting_polls(base) == 1, "the poll waiting")
            worker = start_worker(log_dir, BROKER_URL=vhost)
            # Then the poll answers "succeeded": the settlement woke it (a reread would only
            # have come after the poll's own deadline)
            assert answer.result(timeout=60)["status"] == "succeeded"
    finally:
        if worker is not None:
            worker.stop()
        web.stop()


def test_without_redis_polls_fall_back_to_reading_the_database(log_dir, vhost):
    # Given a web process whose Redis is unreachable (the worker's is fine), so no wake-up
    # can reach it
    web, base = start_web(log_dir, BROKER_URL=vhost, REDIS_URL=f"redis://127.0.0.1:"
                          f"{free_port()}/0", WAIT_RECHECK_S="60", WAIT_FALLBACK_POLL_MS="200")
    worker = None
    try:
        client = Client(base).sign_up()
        request_id = pending_deposit(client)
        with futures.ThreadPoolExecutor(max_workers=1) as pool:
            answer = pool.submit(poll, client, request_id, 25)
            until(lambda: waiting_polls(base) == 1, "the poll waiting")
            worker = start_worker(log_dir, BROKER_URL=vhost)
            # Then the poll still answers "succeeded" before its deadline, from the database
            assert answer.result(timeout=60)["status"] == "succeeded"
    finally:
        if worker is not None:
            worker.stop()
        web.stop()
