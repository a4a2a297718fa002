"""Events and webhooks end to end: real waitress, real dramatiq workers and sweeper, real
RabbitMQ, and a real receiver that verifies every delivery with `standardwebhooks`."""
import signal
import threading

import pytest

from models import WebhookJob
from tests.helpers import Client, is_problem, start_sweeper, start_worker, unique, wait_for
from tests.receiver import Receiver

# Fast schedules for the processes these tests start.
FAST = {"SWEEP_EVERY_S": "1", "WEBHOOK_FIRST_RETRY_S": "1", "WEBHOOK_RESEND_AFTER_S": "5"}


@pytest.fixture
def receiver():
    found = Receiver().start()
    yield found
    found.stop()


@pytest.fixture
def sweeper(log_dir, stack):
    proc = start_sweeper(log_dir, **FAST)
    yield proc
    proc.stop()


def register(client: Client, receiver: Receiver, **body) -> dict:
    path = "/" + unique("hook")
    res = client.call("POST", "/v1/webhooks", json={"url": receiver.url(path), **body},
                      key=unique("k"))
    assert res.status_code == 201, res.text
    receiver.secrets[path] = res.json()["secret"]
    return {**res.json(), "path": path}


def feed(client: Client, **query) -> list[dict]:
    """Every event of the caller, following next_after."""
    items, after = [], 0
    while True:
        page = client.call("GET", "/v1/events", params={"after": after, "limit": 100, **query})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        if page.json()["next_after"] == after:
            return items
        after = page.json()["next_after"]


def money(client: Client, other: Client) -> None:
    """A deposit, a transfer to `other` and a hold for it, each settled."""
    mine, theirs = client.open_wallet("USD")["id"], other.open_wallet("USD")["id"]
    for accepted in (client.deposit(mine, "50.00"), client.transfer(mine, theirs, "5.00"),
                     client.move(f"/v1/wallets/{mine}/holds",
                                 {"amount": "2.00", "to_wallet_id": theirs})):
        assert client.settled(accepted["id"])["status"] == "succeeded"


def everything_delivered(client: Client, receiver: Receiver, hook: dict) -> bool:
    return {str(e["id"]) for e in feed(client)} <= set(receiver.delivered(hook["path"]))


def test_an_integrator_is_sent_every_event_signed_and_finds_them_in_the_feed(
        client, other, receiver, sweeper):
    # Given a webhook (its secret shown once: never in a read)
    hook = register(client, receiver)
    assert hook["secret"].startswith("whsec_") and hook["events"][0] == "wallet.created"
    shown = client.call("GET", f"/v1/webhooks/{hook['id']}").json()
    assert "secret" not in shown and shown["url"] == hook["url"]
    assert [h["id"] for h in client.call("GET", "/v1/webhooks").json()["items"]] == [hook["id"]]
    # When money moves
    money(client, other)
    # Then every event of the caller reaches the receiver, verified with the package as a
    # receiver would, with the event (as the feed shows it) as the body
    wait_for(lambda: everything_delivered(client, receiver, hook), timeout_s=60,
             what="every event to be delivered")
    events = feed(client)
    assert [e["type"] for e in events] == ["wallet.created", "request.succeeded",
                                           "request.succeeded", "request.succeeded",
                                           "hold.activated"]
    got = receiver.delivered(hook["path"])
    for event in events:
        assert got[str(event["id"])][0].verified == event
    # And the deliveries log says so, newest first (each attempt is written once the worker
    # has the receiver's answer, a moment after the receiver gave it)
    def logged() -> list:
        return client.call("GET", f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]

    wait_for(lambda: len(logged()) >= len(events), timeout_s=30,
             what="every delivery to be logged")
    log = logged()
    assert {d["status"] for d in log} == {"succeeded"} and len(log) == len(events)
    assert [d["id"] for d in log] == sorted((d["id"] for d in log), reverse=True)
    # The other party got its own events (transfer.received, hold.activated) in its feed
    assert [e["type"] for e in feed(other)][-2:] == ["transfer.received", "hold.activated"]
    delete = client.call("DELETE", f"/v1/webhooks/{hook['id']}")
    assert delete.status_code == 204


def test_the_feed_answers_after_a_point_by_type_and_refuses_bad_queries(client):
    client.open_wallet("USD"), client.open_wallet("EUR")
    both = feed(client)
    assert [e["type"] for e in both] == ["wallet.created", "wallet.created"]
    page = client.call("GET", "/v1/events", params={"after": both[0]["id"]}).json()
    assert ([e["id"] for e in page["items"]], page["next_after"]) == ([both[1]["id"]],
                                                                      both[1]["id"])
    empty = client.call("GET", "/v1/events", params={"after": both[1]["id"]}).json()
    assert empty == {"items": [], "next_after": both[1]["id"]}
    assert feed(client, type="request.failed") == []
    assert len(client.call("GET", "/v1/events?limit=1").json()["items"]) == 1
    for bad in ("type=money.printed", "after=-1", "limit=0", "limit=101", "after=x", "color=1"):
        assert is_problem(client.call("GET", f"/v1/events?{bad}"), 422, "validation_error")


def test_someone_elses_webhook_is_not_found_and_urls_and_events_are_checked(
        client, other, receiver):
    hook = register(client, receiver)
    for method, path in (("GET", f"/v1/webhooks/{hook['id']}"),
                         ("DELETE", f"/v1/webhooks/{hook['id']}"),
                         ("GET", f"/v1/webhooks/{hook['id']}/deliveries")):
        assert is_problem(other.call(method, path), 404, "webhook_not_found")
    for body, code in (({"url": "ftp://x.example/"}, "invalid_webhook_url"),
                       ({"url": "https://a:b@x.example/"}, "invalid_webhook_url"),
                       ({"url": "https://x.example/" + "a" * 2040}, "invalid_webhook_url"),
                       ({"url": "https://x.example/", "events": ["nope"]}, "validation_error"),
                       ({"url": "https://x.example/", "events": []}, "validation_error")):
        res = other.call("POST", "/v1/webhooks", json=body, key=unique("k"))
        assert is_problem(res, 422, code)
    assert other.call("GET", "/v1/webhooks").json() == {"items": []}
    assert client.call("DELETE", f"/v1/webhooks/{hook['id']}").status_code == 204
    assert is_problem(client.call("GET", f"/v1/webhooks/{hook['id']}"), 404,
                      "webhook_not_found")


def test_a_receiver_that_never_answers_holds_no_settlement(stack, log_dir, receiver, client):
    # Given a settling worker and a webhooks worker of their own, as the Procfile runs them,
    # a sweeper, and a receiver that holds every delivery until released
    from payments.queues import SETTLING_QUEUES
    released = receiver.gate = threading.Event()
    settling = start_worker(log_dir, threads=4, queues=tuple(SETTLING_QUEUES))
    hooks = start_worker(log_dir, threads=2, queues=("webhooks",), WEBHOOK_TIMEOUT_S="30")
    sweeper = start_sweeper(log_dir, **FAST)
    try:
        hook = register(client, receiver)
        wallet = client.open_wallet("USD")["id"]
        # When its events pile up (both webhook threads stuck on the receiver) and more
        # money moves
        done = [client.settled(client.deposit(wallet, "1.00")["id"]) for _ in range(6)]
        # Then every deposit settled all the same
        assert {d["status"] for d in done} == {"succeeded"}
        released.set()
        wait_for(lambda: everything_delivered(client, receiver, hook), timeout_s=90,
                 what="the held deliveries to go through once released")
    finally:
        released.set()
        for proc in (sweeper, hooks, settling):
            proc.stop()


def test_deliveries_survive_a_worker_killed_mid_delivery_and_a_receiver_down(
        stack, log_dir, client, other, receiver):
    # Given a webhooks worker of its own and a sweeper, and a receiver slow to answer
    worker = start_worker(log_dir, threads=2, queues=("webhooks",), **FAST)
    sweeper = start_sweeper(log_dir, **FAST)
    try:
        hook = register(client, receiver)
        receiver.delay_s = 1.0
        money(client, other)
        # When the worker is SIGKILLed while deliveries are in flight
        wait_for(lambda: receiver.seen, timeout_s=30, what="a delivery to start")
        worker.kill(signal.SIGKILL)
        worker.proc.wait(10)
        # And the receiver is down for a while (its port refusing connections), while a new
        # wallet makes one more event (so some delivery fails even if every earlier one
        # was done before the kill)
        port = receiver.port
        receiver.stop()
        worker = start_worker(log_dir, threads=2, queues=("webhooks",), **FAST)
        client.open_wallet("EUR")
        wait_for(lambda: WebhookJob.select().where(
            (WebhookJob.webhook_id == hook["id"]) & (WebhookJob.attempts > 0) &
            (WebhookJob.status == "pending")).exists(), timeout_s=60,
            what="a delivery to fail while the receiver is down")
        receiver.delay_s = 0.0
        receiver.start(port=port)
        # Then every event reaches it at least once, the same webhook-id on every attempt
        wait_for(lambda: everything_delivered(client, receiver, hook), timeout_s=120,
                 what="every event to be delivered after the outage")
        for event_id, attempts in receiver.delivered(hook["path"]).items():
            assert {a.headers["webhook-id"] for a in attempts} == {event_id}
        log = client.call("GET", f"/v1/webhooks/{hook['id']}/deliveries?limit=100").json()
        failed = [d for d in log["items"] if d["status"] == "failed"]
        assert failed and all(d["response_status"] is None and d["error"] for d in failed)
        assert all(d["next_attempt_at"] for d in failed)
    finally:
        client.call("DELETE", f"/v1/webhooks/{hook['id']}")
        sweeper.stop()
        worker.stop()
