"""Settling money requests against real MariaDB and Redis.

Directly through `settle.settle` / `settle.attempt`, and through the actors on the
test process's StubBroker with an in-process Dramatiq Worker. Users and wallets are made
with the models; requests are accepted with `payments` exactly as the API accepts them
(which also enqueues a message on the stub broker; every test starts and ends with
empty queues).
"""
import queue
import threading
from datetime import timedelta

import dramatiq
import peewee
import pymysql
import pytest
from dramatiq import Message, Worker

import settings
from actors import settle_deposit, settle_transfer
from errors import VersionConflict
from infra import cache, wallet_cache
from infra.broker import current as current_broker
from ledger import audit
from ledger.system import EXTERNAL, FEES, system_wallet_id
from models import (
    Notification,
    Transaction,
    TransactionRequest,
    User,
    Wallet,
    database_params,
    db,
    utcnow,
)
from payments import door, outcomes, settle
from payments import sweep as sweeper
from tests.helpers import broker_url, free_port, scratch_name, unique

JOIN_TIMEOUT_MS = 30_000


# -- helpers ----------------------------------------------------------------------------------
def new_user() -> User:
    name = unique("user_")
    return User.create(email=f"{name}@example.com", username=name,
                       password_hash="not-a-real-hash")


def new_wallet(user: User | None = None, currency: str = "USD") -> Wallet:
    return Wallet.create(user=user or new_user(), currency=currency)


def deposit(wallet: Wallet, amount: str) -> TransactionRequest:
    request, replayed = door.accept(wallet.user, kind="deposit", key=unique("k"),
                                        amount=amount, wallet_id=wallet.id)
    assert not replayed and request.status == "pending"
    return request


def withdrawal(wallet: Wallet, amount: str) -> TransactionRequest:
    request, replayed = door.accept(wallet.user, kind="withdrawal", key=unique("k"),
                                        amount=amount, wallet_id=wallet.id)
    assert not replayed and request.status == "pending"
    return request


def transfer(source: Wallet, target: Wallet, amount: str) -> TransactionRequest:
    request, replayed = door.accept_transfer(source.user, key=unique("k"), from_wallet_id=source.id,
        to_wallet_id=target.id, amount=amount)
    assert not replayed and request.status == "pending"
    return request


def funded_wallet(amount: str = "100.00") -> Wallet:
    """A new user's USD wallet, credited by a settled deposit of `amount` (less the fee)."""
    wallet = new_wallet()
    assert settle.settle(deposit(wallet, amount).id) == settle.SUCCEEDED
    return Wallet.get_by_id(wallet.id)


def reloaded(row):
    return type(row).get_by_id(row.id)


def balance(wallet: Wallet) -> int:
    return reloaded(wallet).balance


def entries(request: TransactionRequest) -> list[Transaction]:
    return list(Transaction.select().where(Transaction.request == request.id)
                .order_by(Transaction.id))


def notes(request: TransactionRequest) -> list[Notification]:
    return list(Notification.select().where(Notification.request == request.id)
                .order_by(Notification.id))


def bump_version(wallet_id: int) -> None:
    """Change a wallet's version from another connection, as a concurrent settlement would."""
    name, params = database_params(settings.DATABASE_URL)
    conn = pymysql.connect(database=name, autocommit=True, **params)
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE wallets SET version = version + 1 WHERE id = %s", (wallet_id,))
    finally:
        conn.close()


def run_in_threads(count: int, target) -> list[BaseException]:
    """Run `target(i)` in `count` threads, each giving its connection back; returns errors."""
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "a settling thread hung"
    return errors


def global_findings() -> dict[str, list]:
    return {name: rows for name, rows in audit.findings().items() if rows}


@pytest.fixture
def broker():
    """The actors' StubBroker, with empty queues and no dead letters before and after."""
    stub = dramatiq.get_broker()
    assert stub is current_broker() and type(stub).__name__ == "StubBroker"
    stub.flush_all()
    yield stub
    stub.flush_all()


@pytest.fixture(autouse=True)
def empty_queues(broker):
    """Accepting a request enqueues a message; no test sees another test's messages."""
    yield


@pytest.fixture
def start_worker(broker):
    """Start an in-process Worker on the stub broker (after the test set up its queues)."""
    workers: list[Worker] = []

    def start() -> Worker:
        worker = Worker(broker, worker_timeout=100)
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def join_worker(broker, worker: Worker, *queues: str, fail_fast: bool = True) -> None:
    for name in queues:
        broker.join(name, timeout=JOIN_TIMEOUT_MS, fail_fast=fail_fast)
    worker.join()


def queued_ids(broker, queue_name: str) -> list[int]:
    return [Message.decode(raw).args[0] for raw in list(broker.queues[queue_name].queue)]


# -- happy paths ------------------------------------------------------------------------------
def test_a_deposit_of_100_credits_99_50_and_books_the_fee_and_the_external_side():
    # Given an empty USD wallet and an accepted deposit of 100.00
    wallet = new_wallet()
    request = deposit(wallet, "100.00")
    assert (request.amount, request.fee) == (10_000, 50)

    # When it is settled
    outcome = settle.settle(request.id)

    # Then the wallet holds 99.50, and the entries balance against the system accounts
    assert outcome == settle.SUCCEEDED
    assert balance(wallet) == 9_950
    rows = entries(request)
    assert sum(e.amount for e in rows) == 0
    external = system_wallet_id(EXTERNAL, "USD")
    fees = system_wallet_id(FEES, "USD")
    by_wallet = {e.wallet_id: e for e in rows}
    assert set(by_wallet) == {wallet.id, external, fees} and len(rows) == 3
    mine = by_wallet[wallet.id]
    assert (mine.type, mine.amount, mine.fee, mine.balance_after) == ("deposit", 9_950, 50, 9_950)
    ext = by_wallet[external]
    assert (ext.type, ext.amount, ext.balance_after, ext.counterparty_wallet_id) == \
        ("deposit", -10_000, None, wallet.id)
    fee = by_wallet[fees]
    assert (fee.type, fee.amount, fee.counterparty_wallet_id) == ("fee", 50, wallet.id)
    done = reloaded(request)
    assert (done.status, done.failure_code) == ("succeeded", None)
    assert done.completed_at is not None
    assert [(n.user_id, n.type) for n in notes(request)] == [(wallet.user_id, "deposit_succeeded")]
    # ... and the system accounts' balance columns were never touched (they are hot rows)
    assert Wallet.get_by_id(external).version == 0 and Wallet.get_by_id(fees).version == 0


def test_a_withdrawal_debits_the_wallet_and_credits_the_external_account():
    # Given a wallet holding 99.50 and an accepted withdrawal of 40.00
    wallet = funded_wallet("100.00")
    request = withdrawal(wallet, "40.00")

    # When it is settled
    outcome = settle.settle(request.id)

    # Then 59.50 is left and the entries balance against the external account
    assert outcome == settle.SUCCEEDED
    assert balance(wallet) == 5_950
    rows = entries(request)
    assert sum(e.amount for e in rows) == 0
    assert [(e.wallet_id, e.type, e.amount, e.balance_after) for e in rows] == [
        (wallet.id, "withdrawal", -4_000, 5_950),
        (system_wallet_id(EXTERNAL, "USD"), "withdrawal", 4_000, None)]
    assert reloaded(request).status == "succeeded"
    assert [n.type for n in notes(request)] == ["withdrawal_succeeded"]


def test_a_transfer_moves_money_between_two_users_and_notifies_both():
    # Given a sender holding 99.50, a recipient holding nothing, and a transfer of 30.00
    sender = funded_wallet("100.00")
    recipient = new_wallet()
    request = transfer(sender, recipient, "30.00")

    # When it is settled
    outcome = settle.settle(request.id)

    # Then the money moved, the entries mirror each other, and both users are told
    assert outcome == settle.SUCCEEDED
    assert (balance(sender), balance(recipient)) == (6_950, 3_000)
    rows = entries(request)
    assert [(e.wallet_id, e.type, e.amount, e.balance_after, e.counterparty_wallet_id)
            for e in rows] == [
        (sender.id, "transfer_out", -3_000, 6_950, recipient.id),
        (recipient.id, "transfer_in", 3_000, 3_000, sender.id)]
    assert {(n.user_id, n.type) for n in notes(request)} == {
        (sender.user_id, "transfer_succeeded"), (recipient.user_id, "transfer_received")}


# -- failures ---------------------------------------------------------------------------------
def test_a_withdrawal_larger_than_the_balance_fails_with_insufficient_funds_and_writes_nothing():
    # Given a wallet holding 99.50 and a withdrawal of 99.51
    wallet = funded_wallet("100.00")
    before = reloaded(wallet)
    request = withdrawal(wallet, "99.51")

    # When it is settled
    outcome = settle.settle(request.id)

    # Then it failed with insufficient_funds, and nothing moved
    assert outcome == settle.FAILED
    done = reloaded(request)
    assert (done.status, done.failure_code) == ("failed", "insufficient_funds")
    assert done.failure_detail and done.completed_at is not None
    assert entries(request) == []
    after = reloaded(wallet)
    assert (after.balance, after.version) == (before.balance, before.version)
    assert [n.type for n in notes(request)] == ["withdrawal_failed"]


def test_a_withdrawal_of_exactly_the_balance_succeeds_and_leaves_zero():
    # Given a wallet holding 99.50 and a withdrawal of 99.50
    wallet = funded_wallet("100.00")
    request = withdrawal(wallet, "99.50")

    # When it is settled
    outcome = settle.settle(request.id)

    # Then it succeeded and the wallet is empty
    assert outcome == settle.SUCCEEDED
    assert balance(wallet) == 0


def test_a_transfer_larger_than_the_balance_fails_and_tells_only_the_sender():
    # Given a sender holding 99.50 and a transfer of 100.00
    sender = funded_wallet("100.00")
    recipient = new_wallet()
    request = transfer(sender, recipient, "100.00")

    # When it is settled
    outcome = settle.settle(request.id)

    # Then it failed with insufficient_funds, nothing moved, only the sender is told
    assert outcome == settle.FAILED
    assert (reloaded(request).status, reloaded(request).failure_code) == \
        ("failed", "insufficient_funds")
    assert entries(request) == []
    assert (balance(sender), balance(recipient)) == (9_950, 0)
    assert [(n.user_id, n.type) for n in notes(request)] == [(sender.user_id, "transfer_failed")]


def test_a_deposit_to_a_wallet_closed_after_it_was_accepted_fails_with_wallet_closed():
    # Given an accepted deposit, and then the wallet is closed
    wallet = new_wallet()
    request = deposit(wallet, "10.00")
    Wallet.update(deleted_at=utcnow()).where(Wallet.id == wallet.id).execute()

    # When it is settled
    outcome = settle.settle(request.id)

    # Then it failed with wallet_closed and wrote nothing
    assert outcome == settle.FAILED
    assert (reloaded(request).status, reloaded(request).failure_code) == \
        ("failed", "wallet_closed")
    assert entries(request) == []
    assert balance(wallet) == 0


def test_a_transfer_to_a_wallet_closed_after_it_was_accepted_fails_and_moves_nothing():
    # Given an accepted transfer, and then the recipient's wallet is closed
    sender = funded_wallet("100.00")
    recipient = new_wallet()
    request = transfer(sender, recipient, "10.00")
    Wallet.update(deleted_at=utcnow()).where(Wallet.id == recipient.id).execute()

    # When it is settled
    outcome = settle.settle(request.id)

    # Then it failed with wallet_closed, nothing moved, and only the sender is told
    assert outcome == settle.FAILED
    assert reloaded(request).failure_code == "wallet_closed"
    assert entries(request) == []
    assert (balance(sender), balance(recipient)) == (9_950, 0)
    assert [n.type for n in notes(request)] == ["transfer_failed"]


def test_settling_an_unknown_request_does_nothing():
    # Given an id no request has
    missing = (TransactionRequest.select(peewee.fn.MAX(TransactionRequest.id)).scalar() or 0) \
        + 1_000_000

    # When it is settled, Then nothing happens
    assert settle.settle(missing) == settle.NOOP
    assert Transaction.select().where(Transaction.request == missing).count() == 0


# -- idempotence and races --------------------------------------------------------------------
def test_settling_a_request_twice_applies_it_once():
    # Given a settled deposit
    wallet = new_wallet()
    request = deposit(wallet, "100.00")
    assert settle.settle(request.id) == settle.SUCCEEDED

    # When it is settled again
    again = settle.settle(request.id)

    # Then the second call is a no-op
    assert again == settle.NOOP
    assert balance(wallet) == 9_950
    assert len(entries(request)) == 3 and len(notes(request)) == 1


def test_calling_the_actor_function_twice_applies_the_request_once():
    # Given an accepted transfer
    sender = funded_wallet("100.00")
    recipient = new_wallet()
    request = transfer(sender, recipient, "25.00")

    # When the actor's function runs twice (a redelivered message)
    settle_transfer(request.id)
    settle_transfer(request.id)

    # Then it was applied once
    assert reloaded(request).status == "succeeded"
    assert (balance(sender), balance(recipient)) == (7_450, 2_500)
    assert len(entries(request)) == 2 and len(notes(request)) == 2


def test_two_settlers_racing_on_one_request_apply_it_once():
    # Given a funded sender and a recipient
    sender = funded_wallet("100.00")
    recipient = new_wallet()
    rounds = 20
    outcomes: list[list[str]] = []

    for _ in range(rounds):
        # ... and an accepted transfer of 1.00
        request = transfer(sender, recipient, "1.00")
        barrier = threading.Barrier(2)
        seen: list[str] = []

        def race(_: int, barrier=barrier, seen=seen, request=request) -> None:
            barrier.wait(10)
            seen.append(settle.settle(request.id))

        # When two settlers start on it at the same moment
        errors = run_in_threads(2, race)

        # Then one applied it and the other found nothing to do
        assert errors == []
        assert sorted(seen) == [settle.NOOP, settle.SUCCEEDED]
        assert len(entries(request)) == 2
        outcomes.append(seen)

    # ... and over all rounds exactly `rounds` transfers of 1.00 moved
    assert (balance(sender), balance(recipient)) == (9_950 - 100 * rounds, 100 * rounds)
    assert global_findings() == {}


def test_the_same_request_sent_three_times_through_the_worker_is_applied_once(broker,
                                                                              start_worker):
    # Given an accepted deposit (accepting enqueued it once) sent twice more
    wallet = new_wallet()
    request = deposit(wallet, "100.00")
    settle_deposit.send(request.id)
    settle_deposit.send(request.id)
    assert queued_ids(broker, "deposits") == [request.id] * 3

    # When a worker processes the queue
    worker = start_worker()
    join_worker(broker, worker, "deposits")

    # Then it was applied once, and nothing was dead-lettered
    assert reloaded(request).status == "succeeded"
    assert balance(wallet) == 9_950
    assert len(entries(request)) == 3 and len(notes(request)) == 1
    assert broker.dead_letters == []


@pytest.mark.parametrize("kind", ["deposit", "withdrawal", "transfer"])
def test_each_operation_is_settled_by_its_actor_through_a_worker(broker, start_worker, kind):
    # Given a running worker and a funded wallet
    wallet = funded_wallet("100.00")
    recipient = new_wallet()
    broker.flush_all()
    worker = start_worker()

    # When a request of this kind is accepted (which enqueues it for its actor)
    request = {"deposit": lambda: deposit(wallet, "10.00"),
               "withdrawal": lambda: withdrawal(wallet, "10.00"),
               "transfer": lambda: transfer(wallet, recipient, "10.00")}[kind]()
    join_worker(broker, worker, f"{kind}s")

    # Then the worker settled it
    assert reloaded(request).status == "succeeded"
    assert balance(wallet) == {"deposit": 9_950 + 995, "withdrawal": 8_950,
                               "transfer": 8_950}[kind]
    assert sum(e.amount for e in entries(request)) == 0 and entries(request)


def test_a_business_failure_through_the_worker_fails_the_request_once_without_retrying(
        broker, start_worker):
    # Given a worker and a withdrawal larger than the balance
    wallet = funded_wallet("1.00")
    broker.flush_all()
    worker = start_worker()

    # When it is accepted and processed
    request = withdrawal(wallet, "5.00")
    join_worker(broker, worker, "withdrawals")

    # Then it failed with insufficient_funds, and the message was not dead-lettered
    assert (reloaded(request).status, reloaded(request).failure_code) == \
        ("failed", "insufficient_funds")
    assert broker.dead_letters == []
    assert entries(request) == []


# -- version conflicts ------------------------------------------------------------------------
def test_a_forced_version_conflict_is_retried_and_the_request_succeeds_once(monkeypatch):
    # Given a deposit, and another writer that changes the wallet just before the first update
    wallet = new_wallet()
    request = deposit(wallet, "100.00")
    version_before = reloaded(wallet).version
    real_update = outcomes.balance_update
    calls: list[int] = []

    def update_after_a_concurrent_write(states, deltas, **kwargs):
        calls.append(len(calls))
        if len(calls) == 1:
            bump_version(wallet.id)
        return real_update(states, deltas, **kwargs)

    monkeypatch.setattr(outcomes, "balance_update", update_after_a_concurrent_write)

    # When it is settled
    outcome = settle.settle(request.id)

    # Then the first attempt conflicted, the second succeeded, and it applied once
    assert outcome == settle.SUCCEEDED
    assert len(calls) == 2
    after = reloaded(wallet)
    assert after.balance == 9_950
    assert after.version == version_before + 2  # the other writer's bump, then ours
    assert len(entries(request)) == 3 and len(notes(request)) == 1
    assert reloaded(request).status == "succeeded"


def test_after_repeated_conflicts_settle_takes_the_wallets_with_select_for_update(monkeypatch):
    # Given a transfer, and a concurrent writer on each optimistic attempt
    sender = funded_wallet("100.00")
    recipient = new_wallet()
    request = transfer(sender, recipient, "10.00")
    tries = settings.OPTIMISTIC_TRIES
    assert tries >= 1
    real_read, real_update = settle.read_wallets, outcomes.balance_update
    reads: list[tuple[bool, list[int]]] = []
    updates: list[int] = []

    def spy_read(ids, *, for_update=False):
        reads.append((for_update, sorted(ids)))
        return real_read(ids, for_update=for_update)

    def update_after_a_concurrent_write(states, deltas, **kwargs):
        updates.append(1)
        if not reads:  # only optimistic attempts: a locked row would block it
            bump_version(sender.id)
        return real_update(states, deltas, **kwargs)

    monkeypatch.setattr(settle, "read_wallets", spy_read)
    monkeypatch.setattr(outcomes, "balance_update", update_after_a_concurrent_write)

    # When it is settled
    outcome = settle.settle(request.id)

    # Then after OPTIMISTIC_TRIES conflicts the last attempt locked both wallets' rows and
    # succeeded
    assert len(updates) == tries + 1
    assert reads == [(True, sorted([sender.id, recipient.id]))]
    assert outcome == settle.SUCCEEDED
    assert (balance(sender), balance(recipient)) == (8_950, 1_000)
    assert len(entries(request)) == 2


def test_a_conflict_on_every_attempt_raises_and_leaves_the_request_pending_and_untouched(
        monkeypatch):
    # Given a deposit whose every balance update conflicts
    wallet = new_wallet()
    request = deposit(wallet, "10.00")
    attempts: list[int] = []

    def always_conflict(states, deltas, **kwargs):
        attempts.append(1)
        raise VersionConflict(next(iter(deltas)))

    monkeypatch.setattr(outcomes, "balance_update", always_conflict)

    # When it is settled
    with pytest.raises(VersionConflict):
        settle.settle(request.id)

    # Then every attempt was made, and nothing was written: the actor will retry later
    assert len(attempts) == settings.OPTIMISTIC_TRIES + 1
    assert reloaded(request).status == "pending"
    assert entries(request) == [] and notes(request) == []
    assert (balance(wallet), reloaded(wallet).version) == (0, 0)
    monkeypatch.undo()
    assert settle.settle(request.id) == settle.SUCCEEDED  # tidy: leave nothing pending


# -- retries exhausted ------------------------------------------------------------------------
def test_a_settlement_that_always_fails_transiently_ends_failed_with_retries_exhausted(
        broker, start_worker, monkeypatch):
    # Given a database error on every settlement attempt, and one retry allowed
    wallet = new_wallet()
    request = deposit(wallet, "10.00")
    broker.flush_all()
    monkeypatch.setattr(settings, "MAX_RETRIES", 1)
    attempts: list[int] = []

    def database_down(request_ids, *, for_update=False):
        attempts.extend(request_ids)
        raise peewee.OperationalError(2013, "Lost connection to server during query (test)")

    monkeypatch.setattr(settle, "attempt", database_down)

    # When its message is processed with short backoffs
    message = settle_deposit.send_with_options(args=(request.id,), max_retries=1,
                                               min_backoff=1, max_backoff=10)
    worker = start_worker()
    join_worker(broker, worker, "deposits", fail_fast=False)
    join_worker(broker, worker, "maintenance")

    # Then it was tried twice, dead-lettered, and the request failed with nothing written
    assert attempts == [request.id, request.id]
    dead = [m for m in broker.dead_letters if m.actor_name == "settle_deposit"]
    assert [(m.message_id, list(m.args)) for m in dead] == [(message.message_id, [request.id])]
    done = reloaded(request)
    assert (done.status, done.failure_code) == ("failed", "retries_exhausted")
    assert "1 retries" in done.failure_detail
    assert entries(request) == []
    assert balance(wallet) == 0
    assert [n.type for n in notes(request)] == ["deposit_failed"]


def test_giving_up_on_a_request_that_already_settled_changes_nothing():
    # Given a settled deposit
    wallet = new_wallet()
    request = deposit(wallet, "10.00")
    settle.settle(request.id)

    # When its retries are declared exhausted afterwards (a late dead letter)
    marked = settle.give_up(request.id, detail="late")

    # Then it stays succeeded
    assert marked is False
    assert (reloaded(request).status, reloaded(request).failure_code) == ("succeeded", None)


# -- hot wallet -------------------------------------------------------------------------------
@pytest.mark.slow
def test_eight_threads_settling_200_transfers_out_of_one_hot_wallet_all_succeed():
    # Given a sender holding 995.00, four recipients, and 200 accepted transfers of 1.00
    sender = funded_wallet("1000.00")
    recipients = [new_wallet() for _ in range(4)]
    requests = [transfer(sender, recipients[i % 4], "1.00") for i in range(200)]
    todo: queue.Queue = queue.Queue()
    for request in requests:
        todo.put(request.id)
    outcomes: list[str] = []

    def settler(_: int) -> None:
        while True:
            try:
                request_id = todo.get_nowait()
            except queue.Empty:
                return
            outcomes.append(settle.settle(request_id))

    # When eight threads settle them concurrently
    errors = run_in_threads(8, settler)

    # Then no settlement ran out of attempts, every transfer succeeded once, and the
    # money is conserved and the ledger clean
    assert errors == []
    assert outcomes.count(settle.SUCCEEDED) == 200 and len(outcomes) == 200
    statuses = list(TransactionRequest.select(TransactionRequest.status, peewee.fn.COUNT(1))
                    .where(TransactionRequest.id.in_([r.id for r in requests]))
                    .group_by(TransactionRequest.status).tuples())
    assert statuses == [("succeeded", 200)]
    assert balance(sender) == 99_500 - 20_000
    assert [balance(r) for r in recipients] == [5_000] * 4
    assert balance(sender) + sum(balance(r) for r in recipients) == 99_500
    assert Transaction.select().where(
        Transaction.request.in_([r.id for r in requests])).count() == 400
    assert global_findings() == {}


# -- wallet cache ---------------------------------------------------------------------------
def test_after_a_settlement_the_wallet_cache_shows_the_new_balance_and_version():
    # Given a wallet with nothing cached and an accepted deposit
    wallet = new_wallet()
    cache.drop(f"wallet:{wallet.id}")
    request = deposit(wallet, "100.00")

    # When it is settled
    settle.settle(request.id)

    # Then the cache holds the wallet's new state
    cached = wallet_cache.fetch(wallet.id)
    row = reloaded(wallet)
    assert cached is not None
    assert (cached["balance"], cached["version"]) == (row.balance, row.version) == (9_950, 1)
    assert (cached["id"], cached["user_id"], cached["currency"], cached["deleted"]) == \
        (wallet.id, wallet.user_id, "USD", False)


def test_the_wallet_cache_never_replaces_a_newer_version_with_an_older_one():
    # Given a wallet whose cache holds version 2 after two settled deposits
    wallet = new_wallet()
    cache.drop(f"wallet:{wallet.id}")
    settle.settle(deposit(wallet, "100.00").id)
    older = wallet_cache.state_of(reloaded(wallet))
    settle.settle(deposit(wallet, "100.00").id)
    assert wallet_cache.fetch(wallet.id)["version"] == 2

    # When a reader that loaded version 1 stores it late, or stores version 2 again
    wallet_cache.store(older)
    wallet_cache.store({**wallet_cache.state_of(reloaded(wallet)), "balance": 1})

    # Then the cache still shows version 2 and its real balance
    cached = wallet_cache.fetch(wallet.id)
    assert (cached["version"], cached["balance"]) == (2, 19_900)
    # ... while a newer version does replace it
    wallet_cache.store({**wallet_cache.state_of(reloaded(wallet)), "version": 3, "balance": 7})
    assert (wallet_cache.fetch(wallet.id)["version"], wallet_cache.fetch(wallet.id)["balance"]) \
        == (3, 7)
    cache.drop(f"wallet:{wallet.id}")


def test_a_settlement_and_a_reader_cache_wallets_even_after_redis_lost_the_store_script():
    # Given a wallet, and a Redis that forgot every script (as after a restart)
    wallet = new_wallet()
    cache.drop(f"wallet:{wallet.id}")
    cache.client.script_flush()
    # When a deposit into it settles
    settle.settle(deposit(wallet, "100.00").id)
    # Then its new state is cached all the same, and Redis has the script again
    assert (wallet_cache.fetch(wallet.id)["version"], wallet_cache.fetch(wallet.id)["balance"]) \
        == (1, 9_950)
    assert cache.client.script_exists(wallet_cache.STORE_SHA) == [True]
    # And so does a reader's fill after Redis forgot the script again
    cache.drop(f"wallet:{wallet.id}")
    cache.client.script_flush()
    wallet_cache.store(wallet_cache.state_of(reloaded(wallet)))
    assert (wallet_cache.fetch(wallet.id)["version"], wallet_cache.fetch(wallet.id)["balance"]) \
        == (1, 9_950)
    cache.drop(f"wallet:{wallet.id}")


# -- sweeper ----------------------------------------------------------------------------------
def test_the_sweeper_resends_a_stale_pending_request_and_counts_it_but_not_a_fresh_one(broker):
    # Given no other request due for a sweep right now
    for _ in range(20):
        if sweeper.sweep_once() == 0:
            break
    broker.flush_all()
    # ... a pending request older than SWEEP_AFTER_S, and a fresh one
    wallet = new_wallet()
    stale, fresh = deposit(wallet, "10.00"), deposit(wallet, "20.00")
    broker.flush_all()  # as if both first sends were lost
    TransactionRequest.update(
        created_at=utcnow() - timedelta(seconds=settings.SWEEP_AFTER_S + 30)
    ).where(TransactionRequest.id == stale.id).execute()

    # When the sweeper runs
    sent = sweeper.sweep_once()

    # Then the stale request is on its queue again and counted; the fresh one is not
    assert sent >= 1
    assert stale.id in queued_ids(broker, "deposits")
    assert fresh.id not in queued_ids(broker, "deposits")
    assert (reloaded(stale).sweeps, reloaded(fresh).sweeps) == (1, 0)
    assert reloaded(stale).swept_at is not None

    # ... and a sweep right after does not send it again (it backs off)
    broker.flush_all()
    sweeper.sweep_once()
    assert stale.id not in queued_ids(broker, "deposits")
    assert reloaded(stale).sweeps == 1

    settle.settle(stale.id), settle.settle(fresh.id)  # tidy: leave nothing pending


def test_while_a_queue_has_a_backlog_the_sweeper_leaves_its_young_requests_alone(
        broker, monkeypatch):
    # Given a RabbitMQ vhost whose deposits queue holds a message waiting for a worker,
    # behind a two-node cluster URL whose first node is down
    import os
    import subprocess
    import sys

    import pika

    vhost = scratch_name("sweep")
    subprocess.run([sys.executable, "manage.py", "vhost", "--fresh", vhost], check=True,
                   timeout=60, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    url = broker_url(vhost)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_declare("deposits", durable=True)
    channel.queue_purge("deposits")
    channel.basic_publish("", "deposits", b"{}")
    from infra import broker as broker_module

    down = f"amqp://guest:guest@127.0.0.1:{free_port()}/{vhost}"
    monkeypatch.setattr(broker_module, "KIND", "amqp")
    monkeypatch.setattr(broker_module, "NODES", tuple(
        broker_module._with_defaults(node) for node in (down, url)))
    for _ in range(20):  # nothing else due
        if sweeper.sweep_once() == 0:
            break
    broker.flush_all()
    # ... and two pending deposits past SWEEP_AFTER_S: one young, one past the grace period
    wallet = new_wallet()
    young, old = deposit(wallet, "1.00"), deposit(wallet, "2.00")
    broker.flush_all()
    TransactionRequest.update(created_at=utcnow() - timedelta(seconds=settings.SWEEP_AFTER_S + 5)) \
        .where(TransactionRequest.id == young.id).execute()
    TransactionRequest.update(
        created_at=utcnow() - timedelta(seconds=settings.SWEEP_BACKLOG_GRACE_S + 5)) \
        .where(TransactionRequest.id == old.id).execute()
    try:
        # When the sweeper runs
        assert sweeper.backlogged_types() == {"deposit"}
        sweeper.sweep_once()
        # Then only the one past the grace period was re-sent
        queued = queued_ids(broker, "deposits")
        assert old.id in queued and young.id not in queued
        # ... and once the queue is drained, the young one is re-sent too
        channel.queue_purge("deposits")
        assert sweeper.backlogged_types() == set()
        broker.flush_all()
        sweeper.sweep_once()
        assert young.id in queued_ids(broker, "deposits")
    finally:
        connection.close()
        settle.settle(young.id), settle.settle(old.id)  # tidy: leave nothing pending
