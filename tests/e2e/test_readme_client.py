"""The README's Python client, run as written against a real stack: what a newcomer copies
must work."""
import os
import re
import threading

from tests.helpers import ROOT, start_sweeper, unique, wait_for

SECTION = "## A client that retries safely (Python)"


def readme_client(base_url: str) -> dict:
    """The README's client code block, executed with its API pointed at `base_url`."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text[text.index(SECTION):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    namespace["API"] = base_url
    return namespace


def test_the_readme_client_sends_money_and_runs_an_order_through_a_hold(stack, client, other):
    api = readme_client(stack)
    buyer = client.open_wallet("USD")["id"]
    seller = other.open_wallet("USD")["id"]
    assert client.settled(client.deposit(buyer, "100.00")["id"])["status"] == "succeeded"
    # A transfer, as the README sends it
    sent = api["send_money"](client.token, buyer, seller, "9.50")
    assert (sent["status"], sent["amount"]) == ("succeeded", "9.50")
    # An order: held, shipped in two parts (the second takes all that is left), refunded
    hold_id = api["place_order"](client.token, buyer, seller, "50.00")
    first = api["ship"](other.token, hold_id, "30.00")
    rest = api["ship"](other.token, hold_id, last=True)
    back = api["give_back"](other.token, first["id"], "5.00")
    assert [r["status"] for r in (first, rest, back)] == ["succeeded"] * 3
    assert (rest["amount"], back["refund_of"]) == ("20.00", first["id"])
    shown = client.wallet(buyer)
    assert (shown["balance"], shown["held_balance"]) == ("45.00", "0.00")
    # A 4xx is raised with its code, not retried
    try:
        api["place_order"](client.token, buyer, seller, "1000.00")
    except RuntimeError as exc:
        assert str(exc) == "insufficient_funds"
    else:
        raise AssertionError("a hold beyond the balance was placed")


def readme_receiver() -> dict:
    """The README's webhook receiver, not yet serving (set its `SECRET`)."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text[text.index("A receiver in a few lines"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    serving = 'HTTPServer(("127.0.0.1", 8000), Receiver).serve_forever()'
    assert code.rstrip().endswith(serving)
    code = code.rstrip()[:-len(serving)]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace


def test_the_readme_receiver_verifies_and_dedupes_real_deliveries(stack, log_dir, client):
    # Given the README's receiver serving on a free port, registered as a webhook
    receiver = readme_receiver()
    server = receiver["HTTPServer"](("127.0.0.1", 0), receiver["Receiver"])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sweeper = start_sweeper(log_dir, SWEEP_EVERY_S="1")
    try:
        res = client.call("POST", "/v1/webhooks", key=unique("k"), json={
            "url": f"http://127.0.0.1:{server.server_address[1]}/wallet-events",
            "events": ["request.succeeded"]})
        receiver["SECRET"] = res.json()["secret"]
        # When money moves
        wallet = client.open_wallet("USD")["id"]
        done = client.settled(client.deposit(wallet, "3.00")["id"])
        # Then the receiver verified it (it answers 204 only then) and remembered its id
        events = client.call("GET", "/v1/events?type=request.succeeded").json()["items"]
        mine = [e["id"] for e in events if e["data"]["id"] == done["id"]]
        wait_for(lambda: {str(i) for i in mine} <= receiver["seen"], timeout_s=30,
                 what="the README receiver to verify the delivery")
        # And its log holds that one delivery (written once the worker has the answer, a
        # moment after the receiver gave it)
        def log() -> list:
            return client.call("GET", f"/v1/webhooks/{res.json()['id']}/deliveries").json()[
                "items"]

        wait_for(log, timeout_s=30, what="the delivery to be logged")
        assert [(d["status"], d["response_status"]) for d in log()] == [("succeeded", 204)]
    finally:
        client.call("DELETE", f"/v1/webhooks/{res.json()['id']}")
        sweeper.stop()
        server.shutdown()
