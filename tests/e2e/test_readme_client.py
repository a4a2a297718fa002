"""The README's Python client, run as written against a real stack: what a newcomer copies
must work."""
import os
import re

from tests.helpers import ROOT

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
