"""/metrics on a real web process, and the Prometheus exposition server of a real worker.

The web process and worker here have a RabbitMQ virtual host of their own, so the
deposits they count are theirs alone.
"""
import time

import pika
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import (
    Client,
    free_port,
    own_vhost,
    run_database,
    start_sweeper,
    start_web,
    start_worker,
    unique,
    wait_for,
)
from tests.receiver import Receiver

DEPOSITS_ROUTE = "/v1/wallets/<wallet_id>/deposits"


def scrape(url: str) -> dict[tuple, float]:
    """Every sample at `url`, by name and sorted labels; the answer must be a 200."""
    res = requests.get(url, timeout=30)
    assert res.status_code == 200, res.text
    assert res.headers["Content-Type"].startswith("text/plain"), res.headers
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(res.text) for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture(scope="module")
def metered(log_dir, tmp_path_factory):
    """(web base URL, worker exposition URL, broker URL): a web process with uncached
    business gauges and one worker, on a vhost of their own."""
    with own_vhost() as broker_url:
        web, base = start_web(log_dir, BROKER_URL=broker_url, METRICS_CACHE_TTL_S="0")
        port = free_port()
        worker = start_worker(log_dir, BROKER_URL=broker_url, dramatiq_prom_port=str(port),
                              dramatiq_prom_db=str(tmp_path_factory.mktemp("worker-prom")))
        try:
            yield base, f"http://127.0.0.1:{port}/metrics", broker_url
        finally:
            worker.stop()
            web.stop()


@pytest.fixture(scope="module")
def settled_deposit(metered) -> tuple[Client, int, dict]:
    """A user with a wallet, one deposit that has settled, and a request for no route."""
    base, _, _ = metered
    alice = Client(base).sign_up()
    wallet_id = alice.open_wallet("USD")["id"]
    done = alice.settled(alice.deposit(wallet_id, "10.00")["id"])
    assert done["status"] == "succeeded", done
    assert alice.call("GET", f"/v1/no-such-thing/{wallet_id}").status_code == 404
    return alice, wallet_id, done


def test_requests_are_counted_by_route_template_and_status_with_latency_buckets(
        metered, settled_deposit):
    # Given a settled deposit and a request no route matched
    base, _, _ = metered
    _, wallet_id, _ = settled_deposit
    # When /metrics is scraped
    samples = scrape(base + "/metrics")
    # Then the deposit counts under its route template, the 404 under "unmatched"
    assert value(samples, "http_requests_total", route=DEPOSITS_ROUTE, method="POST",
                 status="202") >= 1
    assert value(samples, "http_requests_total", route="unmatched", method="GET",
                 status="404") >= 1
    # And no route label is a raw path: each is a rule of the app, or "unmatched"
    import api

    routes = {dict(labels)["route"] for _, labels in samples if "route" in dict(labels)}
    assert f"/v1/wallets/{wallet_id}/deposits" not in routes
    assert routes <= {route.rule for route in api.app.app.routes} | {"unmatched"}
    # And the duration histogram has its buckets, the last one holding every deposit
    buckets = {dict(labels)["le"]: v for (name, labels), v in samples.items()
               if name == "http_request_duration_seconds_bucket"
               and dict(labels)["route"] == DEPOSITS_ROUTE}
    assert len(buckets) > 5
    assert buckets["+Inf"] == value(samples, "http_request_duration_seconds_count",
                                    route=DEPOSITS_ROUTE, method="POST") >= 1


def test_a_new_deposit_is_counted_as_accepted_once_and_its_replay_not_at_all(
        metered, settled_deposit):
    # Given a user with a wallet, and the accepted deposits counted so far
    base, _, _ = metered
    alice, wallet_id, _ = settled_deposit
    before = value(scrape(base + "/metrics"), "wallet_requests_accepted_total",
                   type="deposit")
    # When one deposit is posted, then posted again with the same key
    key = unique("metered-")
    path = f"/v1/wallets/{wallet_id}/deposits"
    first = alice.call("POST", path, json={"amount": "1.00"}, key=key)
    replay = alice.call("POST", path, json={"amount": "1.00"}, key=key)
    assert first.status_code == replay.status_code == 202
    assert replay.headers["Idempotent-Replayed"] == "true"
    # Then the counter went up by exactly one
    after = value(scrape(base + "/metrics"), "wallet_requests_accepted_total", type="deposit")
    assert after == before + 1


def test_the_business_gauges_show_requests_by_status_and_dead_letters_per_queue(
        metered, settled_deposit):
    # Given a settled deposit, and one message put straight into the transfers' dead letters
    base, _, broker_url = metered
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        connection.channel().basic_publish("", "transfers.XQ", b"{}")
    finally:
        connection.close()
    # When /metrics is scraped
    samples = scrape(base + "/metrics")
    # Then requests are counted by status, and the oldest pending one has an age
    assert value(samples, "wallet_requests", status="succeeded") >= 1
    assert value(samples, "wallet_requests", status="pending") is not None
    assert value(samples, "wallet_oldest_pending_request_age_seconds") >= 0
    # And each actor queue's dead letters are counted, this one's included
    dead = {dict(labels)["queue"]: v for (name, labels), v in samples.items()
            if name == "wallet_dead_lettered_messages"}
    assert dead == {"deposits": 0, "holds": 0, "maintenance": 0, "refunds": 0, "transfers": 1,
                    "webhooks": 0, "withdrawals": 0}
    assert value(samples, "wallet_metrics_collector_errors_total", source="broker") == 0
    assert value(samples, "wallet_metrics_collector_errors_total", source="database") == 0


def test_the_worker_serves_dramatiq_metrics_on_its_own_port(metered, settled_deposit):
    # Given a worker that settled a deposit
    _, worker_url, _ = metered
    # When its exposition server is scraped (it starts once the worker has booted)
    deadline = time.monotonic() + 30
    while True:
        try:
            samples = scrape(worker_url)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "the worker's exposition server never answered"
            time.sleep(0.2)
    # Then it counts the settle_deposit messages it processed
    assert value(samples, "dramatiq_messages_total", actor_name="settle_deposit",
                 queue_name="deposits") >= 1


@pytest.mark.parametrize("source", ["broker", "database"])
def test_with_a_source_unreachable_a_scrape_still_answers_and_counts_the_error(
        log_dir, source):
    # Given a web process whose broker, or database, listens on a closed port
    closed = free_port()
    env = ({"BROKER_URL": f"amqp://guest:guest@127.0.0.1:{closed}/%2F"} if source == "broker"
           else {"DATABASE_URL": f"mysql://root@127.0.0.1:{closed}/{run_database()}"})
    web, base = start_web(log_dir, METRICS_CACHE_TTL_S="0", **env)
    try:
        # When /metrics is scraped
        samples = scrape(base + "/metrics")
        # Then it answers 200 with what it could read, and counts the failure
        assert value(samples, "wallet_metrics_collector_errors_total", source=source) >= 1
        other = {"broker": "database", "database": "broker"}[source]
        assert value(samples, "wallet_metrics_collector_errors_total", source=other) == 0
        names = {name for name, _ in samples}
        assert ("wallet_requests" in names) == (source == "broker")
        assert ("wallet_dead_lettered_messages" in names) == (source == "database")
    finally:
        web.stop()


def test_webhook_deliveries_are_counted_by_outcome_with_their_latency_and_health_is_gauged(
        log_dir, metered):
    # Given a webhook whose receiver fails its first answer, and a sweeper on this vhost
    base, worker_url, broker_url = metered
    receiver = Receiver(status=503).start()
    sweeper = start_sweeper(log_dir, BROKER_URL=broker_url, SWEEP_EVERY_S="1")
    try:
        carol = Client(base).sign_up()
        res = carol.call("POST", "/v1/webhooks", key=unique("k"), json={
            "url": receiver.url("/m"), "events": ["wallet.created"]})
        receiver.secrets["/m"] = res.json()["secret"]
        carol.open_wallet("USD")
        wait_for(lambda: receiver.seen, timeout_s=30, what="a first (failing) attempt")
        # Then the web's gauges show a delivery pending and a failing endpoint (the worker
        # records the attempt once the receiver's answer is in: a moment after it is seen)
        wait_for(lambda: (value(scrape(base + "/metrics"), "wallet_webhook_failing_endpoints")
                          or 0) >= 1, timeout_s=10, what="the failed attempt to be recorded")
        samples = scrape(base + "/metrics")
        assert value(samples, "wallet_webhook_jobs_pending") >= 1
        assert value(samples, "wallet_webhook_failing_endpoints") >= 1
        assert value(samples, "wallet_webhook_oldest_undelivered_event_age_seconds") > 0
        # When the receiver recovers and the retry goes through
        receiver.status = 200
        wait_for(lambda: receiver.delivered("/m"), timeout_s=30, what="the retry")
        # Then the worker counted one failed and one succeeded attempt, with latencies (it
        # counts an attempt once the receiver's answer is in: a moment after the receiver
        # has seen it)
        wait_for(lambda: value(scrape(worker_url), "wallet_webhook_deliveries_total",
                               outcome="succeeded") is not None, timeout_s=10,
                 what="the worker to count the delivery")
        worker = scrape(worker_url)
        assert value(worker, "wallet_webhook_deliveries_total", outcome="failed") >= 1
        assert value(worker, "wallet_webhook_deliveries_total", outcome="succeeded") >= 1
        assert value(worker, "wallet_webhook_delivery_duration_seconds_count") >= 2
    finally:
        carol.call("DELETE", f"/v1/webhooks/{res.json()['id']}")
        sweeper.stop()
        receiver.stop()
