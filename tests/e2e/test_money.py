"""Money movement end to end: real waitress, a real dramatiq worker, real RabbitMQ."""
import random
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from ledger import audit
from models import Transaction, TransactionRequest
from tests.helpers import Client, is_problem, start_web, unique


def entries_of(request_id: int) -> list[Transaction]:
    return list(Transaction.select().where(Transaction.request == request_id))


def test_a_deposit_credits_the_amount_net_of_the_fee(client):
    # Given an empty wallet
    wallet = client.open_wallet("USD")
    # When 100.00 is deposited
    accepted = client.deposit(wallet["id"], "100.00")
    # Then it was accepted as pending, and settles with a 0.50 fee
    assert accepted["status"] == "pending" and accepted["fee"] == "0.50"
    done = client.settled(accepted["id"])
    assert done["status"] == "succeeded" and done["completed_at"]
    assert client.wallet(wallet["id"])["balance"] == "99.50"
    entries = entries_of(accepted["id"])
    assert sum(e.amount for e in entries) == 0 and len(entries) == 3


def test_fees_at_nonzero_rates_are_charged_on_every_operation_and_come_out_of_what_arrives(
        stack, log_dir):
    # Given a web process charging 1 % on deposits, 0.75 % on withdrawals and 1.5 % on
    # transfers (the shared worker settles its requests: the fee is fixed at the door)
    web, base = start_web(log_dir, DEPOSIT_FEE_BP="100", WITHDRAWAL_FEE_BP="75",
                          TRANSFER_FEE_BP="150")
    try:
        alice, bob = Client(base).sign_up(), Client(base).sign_up()
        a, b = alice.open_wallet("USD")["id"], bob.open_wallet("USD")["id"]
        # When Alice deposits 101.01, withdraws 46.00 and sends Bob 31.00
        done = [alice.settled(alice.deposit(a, "101.01")["id"]),
                alice.settled(alice.withdraw(a, "46.00")["id"]),
                alice.settled(alice.transfer(a, b, "31.00")["id"])]
        # Then each fee is its rate, rounded half up (1.0101, 0.345 and 0.465)
        assert [(d["status"], d["fee"]) for d in done] == \
            [("succeeded", "1.01"), ("succeeded", "0.35"), ("succeeded", "0.47")]
        # And Alice paid exactly what she asked to move, Bob got 31.00 less the fee
        assert alice.wallet(a)["balance"] == "23.00"  # 100.00 - 46.00 - 31.00
        assert bob.wallet(b)["balance"] == "30.53"
    finally:
        web.stop()
    # And every request booked its fee as an entry of its own, and balances
    for request in done:
        entries = entries_of(request["id"])
        assert sum(e.amount for e in entries) == 0
        assert [e.amount for e in entries if e.type == "fee"] == \
            [int(request["fee"].replace(".", ""))]


def test_a_202_carries_the_location_of_the_request(client):
    wallet = client.open_wallet("EUR")
    res = client.call("POST", f"/v1/wallets/{wallet['id']}/deposits", json={"amount": "5"},
                      key=unique())
    assert res.status_code == 202
    assert res.headers["Location"] == f"/v1/requests/{res.json()['id']}"
    assert client.call("GET", res.headers["Location"]).json()["id"] == res.json()["id"]


def test_a_withdrawal_and_a_transfer_move_exactly_their_amounts(client, other):
    # Given 99.50 in the sender's wallet and an empty recipient
    source = client.open_wallet("USD")
    target = other.open_wallet("USD")
    client.settled(client.deposit(source["id"], "100.00")["id"])
    # When 20.25 is withdrawn and 30.00 sent to the other user
    assert client.settled(client.withdraw(source["id"], "20.25")["id"])["status"] == "succeeded"
    sent = client.transfer(source["id"], target["id"], "30.00")
    assert client.settled(sent["id"])["status"] == "succeeded"
    # Then both balances show it, and both users were told
    assert client.wallet(source["id"])["balance"] == "49.25"
    assert other.wallet(target["id"])["balance"] == "30.00"
    theirs = other.call("GET", "/v1/notifications?unread=true").json()["items"]
    assert any(n["request_id"] == sent["id"] and n["type"] == "transfer_received" for n in theirs)
    mine = client.call("GET", "/v1/notifications").json()["items"]
    assert any(n["request_id"] == sent["id"] for n in mine)


def test_a_withdrawal_beyond_the_balance_fails_with_insufficient_funds(client):
    wallet = client.open_wallet("USD")
    client.settled(client.deposit(wallet["id"], "10.00")["id"])
    failed = client.settled(client.withdraw(wallet["id"], "10.00")["id"])
    assert failed["status"] == "failed" and failed["failure_code"] == "insufficient_funds"
    assert client.wallet(wallet["id"])["balance"] == "9.95"
    assert entries_of(failed["id"]) == []


def test_transfers_refuse_mismatched_currencies_the_same_wallet_and_others_wallets(client, other):
    usd, eur = client.open_wallet("USD"), client.open_wallet("EUR")
    theirs = other.open_wallet("USD")
    body = {"from_wallet_id": usd["id"], "to_wallet_id": eur["id"], "amount": "1.00"}
    assert is_problem(client.call("POST", "/v1/transfers", json=body, key=unique()), 422,
                      "currency_mismatch")
    body = {"from_wallet_id": usd["id"], "to_wallet_id": usd["id"], "amount": "1.00"}
    assert is_problem(client.call("POST", "/v1/transfers", json=body, key=unique()), 422,
                      "same_wallet")
    body = {"from_wallet_id": theirs["id"], "to_wallet_id": usd["id"], "amount": "1.00"}
    assert is_problem(client.call("POST", "/v1/transfers", json=body, key=unique()), 404,
                      "wallet_not_found")
    assert is_problem(client.call("POST", f"/v1/wallets/{theirs['id']}/deposits",
                                  json={"amount": "1"}, key=unique()), 404, "wallet_not_found")
    # and nothing was recorded for any of them
    assert TransactionRequest.select().where(TransactionRequest.user == client.user_id).count() == 0


def test_someone_elses_request_is_not_found(client, other):
    wallet = client.open_wallet("USD")
    request = client.deposit(wallet["id"], "1.00")
    assert is_problem(other.call("GET", f"/v1/requests/{request['id']}"), 404, "request_not_found")


def test_fifty_concurrent_posts_with_one_key_make_one_request(stack, client):
    # Given a wallet and one Idempotency-Key
    wallet = client.open_wallet("USD")
    key = unique("same")

    def post(_):
        session = Client(stack)
        session.token = client.token
        return session.call("POST", f"/v1/wallets/{wallet['id']}/deposits",
                            json={"amount": "7.00"}, key=key)

    # When 50 clients post it at once
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(post, range(50)))
    # Then there is one request, and every answer carries it, byte for byte
    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 49
    assert TransactionRequest.select().where(TransactionRequest.user == client.user_id).count() == 1
    client.settled(answers[0].json()["id"])
    assert client.wallet(wallet["id"])["balance"] == "6.96"  # fee 0.035 rounds up


def test_a_replay_after_settlement_returns_the_original_202(client):
    wallet = client.open_wallet("USD")
    key = unique()
    first = client.call("POST", f"/v1/wallets/{wallet['id']}/deposits", json={"amount": "3.00"},
                        key=key)
    client.settled(first.json()["id"])
    again = client.call("POST", f"/v1/wallets/{wallet['id']}/deposits", json={"amount": "3.00"},
                        key=key)
    assert again.status_code == 202 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = client.call("POST", f"/v1/wallets/{wallet['id']}/deposits", json={"amount": "4"},
                          key=key)
    assert is_problem(changed, 422, "idempotency_key_reused")


def test_once_a_request_reads_succeeded_the_next_wallet_read_shows_it(client):
    # Given a wallet whose balance is cached by repeated reads
    wallet = client.open_wallet("USD")
    for round_ in range(1, 11):
        client.wallet(wallet["id"])
        # When a deposit settles
        request = client.deposit(wallet["id"], "1.00")
        assert client.settled(request["id"])["status"] == "succeeded"
        # Then the very next read shows it (1.00 less a fee of 0.005, rounded half up)
        assert Decimal(client.wallet(wallet["id"])["balance"]) == Decimal("0.99") * round_


def test_three_hundred_concurrent_transfers_among_ten_wallets_conserve_money(stack):
    # Given ten users with 1000.00 each
    users = [Client(stack).sign_up() for _ in range(10)]
    wallets = [u.open_wallet("USD")["id"] for u in users]
    for user, wallet in zip(users, wallets, strict=True):
        user.settled(user.deposit(wallet, "1005.03")["id"])  # 1000.00 after the fee
    total_before = sum(Decimal(u.wallet(w)["balance"])
                       for u, w in zip(users, wallets, strict=True))
    assert total_before == Decimal("10000.00")
    rng = random.Random(7)
    plan = []
    for _ in range(300):
        a, b = rng.sample(range(10), 2)
        plan.append((a, b, f"{rng.randint(1, 40000) / 100:.2f}"))

    def send(item):
        a, b, amount = item
        session = Client(stack)
        session.token = users[a].token
        return session.transfer(wallets[a], wallets[b], amount)["id"]

    # When 20 client threads send 300 random transfers at once
    with ThreadPoolExecutor(20) as pool:
        ids = list(pool.map(send, plan))
    outcomes = [users[a].settled(rid) for (a, _, _), rid in zip(plan, ids, strict=True)]
    # Then every request settled once, most of them moving money (shuffling the plan 2,000
    # ways never left fewer than 238 succeeding), money is conserved, the audit is clean
    assert {o["status"] for o in outcomes} <= {"succeeded", "failed"}
    assert all(o["failure_code"] in (None, "insufficient_funds") for o in outcomes)
    assert sum(o["status"] == "succeeded" for o in outcomes) >= 200
    total_after = sum(Decimal(u.wallet(w)["balance"])
                      for u, w in zip(users, wallets, strict=True))
    assert total_after == total_before
    for rid, outcome in zip(ids, outcomes, strict=True):
        entries = entries_of(rid)
        assert len(entries) == (2 if outcome["status"] == "succeeded" else 0)
        assert sum(e.amount for e in entries) == 0
    assert all(not rows for rows in audit.findings().values()), audit.findings()

