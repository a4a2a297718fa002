"""Holds, captures, voids, expiry and refunds end to end: real waitress, real dramatiq
workers, real RabbitMQ, concurrent HTTP clients where the contract says races are decided
once."""
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from ledger import audit
from models import Hold, TransactionRequest, db
from tests.helpers import Client, is_problem, start_sweeper, start_worker, unique, wait_for


def funded(client: Client, amount: str = "100.00") -> int:
    wallet = client.open_wallet("USD")["id"]
    assert client.settled(client.deposit(wallet, amount)["id"])["status"] == "succeeded"
    return wallet


def hold(client: Client, wallet: int, amount: str, *, to: int | None = None, **extra) -> dict:
    body = {"amount": amount, **({"to_wallet_id": to} if to else {}), **extra}
    return client.move(f"/v1/wallets/{wallet}/holds", body)


def active(client: Client, wallet: int, amount: str, *, to: int | None = None) -> int:
    accepted = hold(client, wallet, amount, to=to)
    assert client.settled(accepted["id"])["status"] == "succeeded"
    return accepted["hold_id"]


def capture(client: Client, hold_id: int, body: dict | None = None):
    return client.call("POST", f"/v1/holds/{hold_id}/captures", json=body or {},
                       key=unique("k"))


def void(client: Client, hold_id: int):
    return client.call("POST", f"/v1/holds/{hold_id}/void", json={}, key=unique("k"))


def balances(client: Client, wallet: int) -> tuple[str, str, str]:
    shown = client.wallet(wallet)
    return shown["balance"], shown["held_balance"], shown["available_balance"]


def no_findings() -> None:
    bad, report = audit.report()
    assert bad == 0, report


def test_a_hold_captured_in_two_parts_then_refunded_over_http(client, other):
    # Given Ada with 99.50 and Bob with an empty wallet
    ada, bob = funded(client), other.open_wallet("USD")["id"]
    # When Ada holds 60.00 for Bob, with a description and metadata
    accepted = hold(client, ada, "60.00", to=bob, description="Order 1017",
                    metadata={"order": "1017"})
    # Then the 202 is the hold's request, naming its hold, which exists already
    assert (accepted["type"], accepted["status"], accepted["to_wallet_id"],
            accepted["refunded"], accepted["metadata"]) == ("hold", "pending", bob, None,
                                                            {"order": "1017"})
    assert accepted["description"] == "Order 1017"
    seen = client.call("GET", f"/v1/holds/{accepted['hold_id']}")
    assert seen.status_code == 200 and seen.json()["request_id"] == accepted["id"]
    assert client.settled(accepted["id"])["status"] == "succeeded"
    held = client.call("GET", f"/v1/holds/{accepted['hold_id']}").json()
    assert (held["status"], held["amount"], held["captured"], held["remaining"]) == \
        ("active", "60.00", "0.00", "60.00")
    assert balances(client, ada) == ("99.50", "60.00", "39.50")
    # And Bob sees it too, in his list of holds
    listed = other.call("GET", "/v1/holds?status=active").json()["items"]
    assert [h["id"] for h in listed] == [held["id"]]
    # When Bob captures 25.00, then the rest
    first = capture(other, held["id"], {"amount": "25.00"})
    assert first.status_code == 202, first.text
    assert other.settled(first.json()["id"])["status"] == "succeeded"
    assert balances(client, ada) == ("74.50", "35.00", "39.50")
    rest = capture(other, held["id"])
    assert rest.status_code == 202 and rest.json()["amount"] == "35.00"
    assert other.settled(rest.json()["id"])["status"] == "succeeded"
    # Then the hold is captured, nothing is held, Bob has 60.00
    done = client.call("GET", f"/v1/holds/{held['id']}").json()
    assert (done["status"], done["captured"], done["remaining"]) == ("captured", "60.00", "0.00")
    assert balances(client, ada) == ("39.50", "0.00", "39.50")
    assert balances(other, bob) == ("60.00", "0.00", "60.00")
    # When Bob refunds 10.00 of the first capture, then tries more than is left
    back = other.call("POST", f"/v1/requests/{first.json()['id']}/refunds",
                      json={"amount": "10.00"}, key=unique("k"))
    assert back.status_code == 202 and back.json()["refund_of"] == first.json()["id"]
    assert other.settled(back.json()["id"])["status"] == "succeeded"
    too_much = other.call("POST", f"/v1/requests/{first.json()['id']}/refunds",
                          json={"amount": "15.01"}, key=unique("k"))
    assert is_problem(too_much, 422, "refund_exceeds_original")
    # Then Ada has it back, and the capture shows what was refunded
    assert balances(client, ada) == ("49.50", "0.00", "49.50")
    assert other.call("GET", f"/v1/requests/{first.json()['id']}").json()["refunded"] == "10.00"
    kinds = [n["type"] for n in client.call("GET", "/v1/notifications").json()["items"]]
    assert {"refund_received", "hold_captured", "hold_succeeded"} <= set(kinds)
    no_findings()


def test_the_door_answers_each_party_and_each_stranger_as_the_contract_says(client, other,
                                                                            stack):
    ada, bob = funded(client), other.open_wallet("USD")["id"]
    eve = Client(stack).sign_up()
    hold_id = active(client, ada, "10.00", to=bob)
    # The payer may read it, not decide it; a stranger sees nothing
    assert client.call("GET", f"/v1/holds/{hold_id}").status_code == 200
    assert is_problem(capture(client, hold_id), 403, "forbidden")
    assert is_problem(void(client, hold_id), 403, "forbidden")
    assert is_problem(eve.call("GET", f"/v1/holds/{hold_id}"), 404, "hold_not_found")
    assert is_problem(capture(eve, hold_id), 404, "hold_not_found")
    assert is_problem(capture(other, 2**62), 404, "hold_not_found")
    # More than remains; then, once voided, not active
    assert is_problem(capture(other, hold_id, {"amount": "10.01"}), 422, "exceeds_hold")
    assert is_problem(capture(other, hold_id, {"final": 1}), 422, "validation_error")
    voided = void(other, hold_id)
    assert voided.status_code == 202 and voided.json()["amount"] == "10.00"
    assert other.settled(voided.json()["id"])["status"] == "succeeded"
    assert is_problem(capture(other, hold_id), 409, "hold_not_active")
    assert is_problem(void(other, hold_id), 409, "hold_not_active")
    # A hold's own checks at the door
    assert is_problem(client.call("POST", f"/v1/wallets/{ada}/holds", key=unique("k"),
                                  json={"amount": "1.00", "expires_in_s": 59}),
                      422, "validation_error")
    assert is_problem(client.call("POST", f"/v1/wallets/{ada}/holds", key=unique("k"),
                                  json={"amount": "1.00", "to_wallet_id": ada}),
                      422, "same_wallet")
    assert is_problem(client.call("POST", f"/v1/wallets/{ada}/holds", key=unique("k"),
                                  json={"amount": "1.00", "metadata": {"bad key": "x"}}),
                      422, "validation_error")
    assert is_problem(client.call("GET", f"/v1/holds?wallet_id={bob}"), 404, "wallet_not_found")
    assert is_problem(client.call("GET", "/v1/holds?status=open"), 422, "validation_error")
    # Refunds: the sender of a transfer and a stranger are told it does not exist; a
    # deposit of one's own is not refundable
    transfer = client.settled(client.transfer(ada, bob, "1.00")["id"])
    for caller in (client, eve):
        assert is_problem(caller.call("POST", f"/v1/requests/{transfer['id']}/refunds",
                                      json={}, key=unique("k")), 404, "request_not_found")
    deposit = client.call("GET", "/v1/requests?status=succeeded").json()["items"][-1]
    assert deposit["type"] == "deposit"
    assert is_problem(client.call("POST", f"/v1/requests/{deposit['id']}/refunds", json={},
                                  key=unique("k")), 409, "not_refundable")
    # And the recipient may read the transfer it received; a stranger may not
    assert other.call("GET", f"/v1/requests/{transfer['id']}").json()["refunded"] == "0.00"
    assert is_problem(eve.call("GET", f"/v1/requests/{transfer['id']}"), 404,
                      "request_not_found")


def test_a_replayed_hold_answers_the_same_and_places_one_hold(client):
    ada = funded(client)
    body, key = {"amount": "5.00", "metadata": {"a": "1"}}, unique("k")
    first = client.call("POST", f"/v1/wallets/{ada}/holds", json=body, key=key)
    again = client.call("POST", f"/v1/wallets/{ada}/holds", json=body, key=key)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    assert Hold.select().where(Hold.wallet_id == ada).count() == 1
    # The same key with other metadata is another request: refused
    other = client.call("POST", f"/v1/wallets/{ada}/holds", key=key,
                        json={**body, "metadata": {"a": "2"}})
    assert is_problem(other, 422, "idempotency_key_reused")
    client.settled(first.json()["id"])
    assert void(client, first.json()["hold_id"]).status_code == 202


def test_captures_racing_a_void_are_decided_once(client, other):
    # Given a hold of 50.00 for Bob
    ada, bob = funded(client), other.open_wallet("USD")["id"]
    hold_id = active(client, ada, "50.00", to=bob)
    # When 12 captures of 5.00 and a void are sent at once from 13 threads
    barrier = threading.Barrier(13)

    def send(n: int):
        barrier.wait()
        return void(other, hold_id) if n == 6 else capture(other, hold_id, {"amount": "5.00"})

    with ThreadPoolExecutor(13) as pool:
        answers = list(pool.map(send, range(13)))
    # Then each was accepted (202) or refused at the door because the void had already won
    # (409); every accepted one settled
    accepted = [a.json() for a in answers if a.status_code == 202]
    assert all(a.status_code in (202, 409) for a in answers), [a.text for a in answers]
    outcomes = [other.settled(a["id"]) for a in accepted]
    won = [o for o in outcomes if o["type"] == "capture" and o["status"] == "succeeded"]
    lost = [o for o in outcomes if o["status"] == "failed"]
    assert all(o["failure_code"] in ("hold_not_active", "exceeds_hold") for o in lost)
    # And the hold ended once: captured what the winning captures took, never more than 50.00
    final = client.call("GET", f"/v1/holds/{hold_id}").json()
    captured = sum(Decimal(o["amount"]) for o in won)
    assert Decimal(final["captured"]) == captured <= Decimal("50.00")
    assert final["status"] in ("voided", "captured") and final["remaining"] == "0.00"
    assert balances(other, bob)[0] == f"{captured:.2f}"
    assert balances(client, ada) == (f"{Decimal('99.50') - captured:.2f}", "0.00",
                                     f"{Decimal('99.50') - captured:.2f}")
    no_findings()


def test_concurrent_refunds_never_give_back_more_than_was_received(client, other):
    ada, bob = funded(client), other.open_wallet("USD")["id"]
    transfer = client.settled(client.transfer(ada, bob, "30.00")["id"])
    # When Bob sends 10 refunds of 4.00 at once (40.00 asked, 30.00 received)
    barrier = threading.Barrier(10)

    def send(_: int):
        barrier.wait()
        return other.call("POST", f"/v1/requests/{transfer['id']}/refunds",
                          json={"amount": "4.00"}, key=unique("k"))

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(send, range(10)))
    accepted = [a.json()["id"] for a in answers if a.status_code == 202]
    refused = [a for a in answers if a.status_code != 202]
    assert all(is_problem(a, 422, "refund_exceeds_original") for a in refused)
    outcomes = [other.settled(i) for i in accepted]
    succeeded = [o for o in outcomes if o["status"] == "succeeded"]
    # Then exactly 7 went through (28.00), and no more can: the rest failed as the door would
    assert len(succeeded) == 7
    assert all(o["failure_code"] == "refund_exceeds_original" for o in outcomes
               if o["status"] == "failed")
    assert other.call("GET", f"/v1/requests/{transfer['id']}").json()["refunded"] == "28.00"
    assert balances(other, bob)[0] == "2.00"
    no_findings()


def test_an_expiry_racing_captures_is_decided_once(stack, log_dir, client, other):
    # Given a sweeper asking for an expiry round every second, and a hold whose time is
    # (made) almost up
    sweeper = start_sweeper(log_dir, HOLD_EXPIRY_SWEEP_S="3")
    try:
        ada, bob = funded(client), other.open_wallet("USD")["id"]
        hold_id = active(client, ada, "90.00", to=bob)
        db.execute_sql("UPDATE holds SET expires_at = UTC_TIMESTAMP(6) + INTERVAL 1 SECOND "
                       "WHERE id = %s", (hold_id,))
        # When Bob keeps capturing 0.10 until the door says the hold is no longer active
        accepted = []
        while True:
            res = capture(other, hold_id, {"amount": "0.10"})
            if res.status_code != 202:
                assert is_problem(res, 409, "hold_not_active")
                break
            accepted.append(res.json()["id"])
        # Then the service expired it, and each capture either went through before the
        # expiry or failed with hold_not_active: exactly one of them won for every cent
        wait_for(lambda: Hold.get_by_id(hold_id).status == "expired", timeout_s=30,
                 what="the hold to be expired by the service")
        outcomes = [other.settled(i) for i in accepted]
        taken = [o for o in outcomes if o["status"] == "succeeded"]
        assert all(o["failure_code"] == "hold_not_active" for o in outcomes
                   if o["status"] == "failed")
        final = client.call("GET", f"/v1/holds/{hold_id}").json()
        captured = Decimal("0.10") * len(taken)
        assert Decimal(final["captured"]) == captured and final["remaining"] == "0.00"
        left = f"{Decimal('99.50') - captured:.2f}"
        assert balances(client, ada) == (left, "0.00", left)
        kinds = [n["type"] for n in other.call("GET", "/v1/notifications").json()["items"]]
        assert "hold_expired" in kinds
    finally:
        sweeper.stop()
    no_findings()


def test_a_hold_on_a_hot_wallet_is_settled_inside_batches_with_its_transfers(stack, log_dir,
                                                                              client, other):
    # Given a worker with 16 threads (so batches form) and one wallet every request leaves
    worker = start_worker(log_dir, threads=16)
    try:
        hot, bob = funded(client, "100.00"), other.open_wallet("USD")["id"]
        # When 40 transfers of 2.00 and 10 holds of 3.00 are sent at once (80.00 + 30.00
        # asked of 99.50: some must fail)
        def send(n: int) -> dict:
            if n % 5 == 0:
                return hold(client, hot, "3.00", to=bob)
            return client.transfer(hot, bob, "2.00")

        with ThreadPoolExecutor(16) as pool:
            accepted = list(pool.map(send, range(50)))
        outcomes = [client.settled(a["id"]) for a in accepted]
    finally:
        worker.stop()
    # Then what succeeded fits what was there, and the held and available amounts agree
    spent = sum(Decimal(o["amount"]) for o in outcomes
                if o["status"] == "succeeded" and o["type"] == "transfer")
    held = sum(Decimal(o["amount"]) for o in outcomes
               if o["status"] == "succeeded" and o["type"] == "hold")
    failed = [o for o in outcomes if o["status"] == "failed"]
    assert spent + held <= Decimal("99.50") and failed
    assert all(o["failure_code"] == "insufficient_funds" for o in failed)
    assert balances(client, hot) == (f"{Decimal('99.50') - spent:.2f}", f"{held:.2f}",
                                     f"{Decimal('99.50') - spent - held:.2f}")
    # And some hold was settled in the same transaction as other requests on this wallet
    # (a batch writes one completed_at for all of its requests)
    rows = list(TransactionRequest.select().where(TransactionRequest.wallet == hot))
    together = [r for r in rows if r.type == "hold" and any(
        o.id != r.id and o.completed_at == r.completed_at for o in rows)]
    assert len([r for r in rows if r.type == "hold"]) == 10 and together
    no_findings()


@pytest.mark.parametrize("path", ["/v1/wallets/{w}/deposits", "/v1/wallets/{w}/withdrawals"])
def test_description_and_metadata_travel_with_every_money_request(client, path):
    wallet = funded(client)
    body = {"amount": "1.00", "description": "rent", "metadata": {"invoice": "77", "x.y": ""}}
    accepted = client.move(path.format(w=wallet), body)
    assert (accepted["description"], accepted["metadata"]) == ("rent", body["metadata"])
    done = client.settled(accepted["id"])
    assert (done["description"], done["metadata"]) == ("rent", body["metadata"])
    # metadata omitted, null and {} are all none, and read back as {}
    for empty in ({}, {"metadata": None}, {"metadata": {}}):
        plain = client.move(path.format(w=wallet), {"amount": "0.01", **empty})
        assert plain["metadata"] == {} and plain["description"] is None
