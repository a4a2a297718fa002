"""Settling several requests in one transaction, against real MariaDB and Redis.

Requests are accepted at the door as the API accepts them (their messages go to the test
process's StubBroker and are flushed); batches are settled with `settle.settle_batch`
directly, or by an in-process Dramatiq Worker whose threads meet in the batcher.
"""
import dramatiq
import pytest
from dramatiq import Worker

import actors  # noqa: F401 - declares the settling actors on the stub broker
from errors import AlreadySettled, VersionConflict
from ledger import audit
from models import Notification, Transaction, Wallet
from payments import batches, settle
from tests.integration.factories import (
    accept,
    accept_transfer,
    funded,
    new_wallet,
    reloaded,
    settled,
)


@pytest.fixture
def stub():
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


def entry_rows(request) -> list[tuple]:
    return [(e.wallet_id, e.type, e.amount, e.balance_after) for e in Transaction.select()
            .where(Transaction.request == request.id).order_by(Transaction.id)]


def clean(wallets: list[Wallet]) -> None:
    ids = {w.id for w in wallets}
    found = {name: [row for row in rows if row[0] in ids]
             for name, rows in audit.findings().items()}
    assert {name: rows for name, rows in found.items() if rows} == {}


def test_a_later_request_sees_the_earlier_ones_and_one_that_fails_fails_alone(stub):
    # Given an empty wallet, and in one batch: a deposit into it, then two transfers out of
    # it that together need more than the deposit brings
    ada, bob = new_wallet(), new_wallet()
    first = accept(ada, "deposit", "10.00")          # credits 9.95
    second = accept_transfer(ada, bob, "6.00")
    third = accept_transfer(ada, bob, "6.00")        # 3.95 left: insufficient
    version = reloaded(ada).version

    # When the batch is settled
    outcomes = settle.settle_batch([third.id, first.id, second.id])

    # Then they applied in acceptance order: the deposit, the first transfer, and the
    # second failed with insufficient_funds, alone
    assert outcomes == {first.id: settle.SUCCEEDED, second.id: settle.SUCCEEDED,
                        third.id: settle.FAILED}
    assert reloaded(third).failure_code == "insufficient_funds" and entry_rows(third) == []
    assert (reloaded(ada).balance, reloaded(bob).balance) == (395, 600)
    # And each entry shows the balance right after its own request
    assert [row for row in entry_rows(first) if row[0] == ada.id] == \
        [(ada.id, "deposit", 995, 995)]
    assert entry_rows(second) == [(ada.id, "transfer_out", -600, 395),
                                  (bob.id, "transfer_in", 600, 600)]
    # And the wallet was written once, for the whole batch
    assert reloaded(ada).version == version + 1
    # And everyone was told: the deposit, the transfer both ways, the failure to its sender
    kinds = sorted(n.type for n in Notification.select().where(
        Notification.request.in_([first.id, second.id, third.id])))
    assert kinds == ["deposit_succeeded", "transfer_failed", "transfer_received",
                     "transfer_succeeded"]
    clean([ada, bob])


def test_a_hot_wallet_is_written_once_for_a_batch_of_transfers_out_of_it(stub):
    # Given a funded wallet and twenty transfers out of it to twenty wallets
    hot = funded("100.00")  # 99.50
    targets = [new_wallet() for _ in range(20)]
    requests = [accept_transfer(hot, target, "1.00") for target in targets]
    version = reloaded(hot).version

    # When they settle in one batch
    outcomes = settle.settle_batch([r.id for r in requests])

    # Then all succeeded, the hot wallet was updated once with the net delta, and its
    # entries run down 98.50, 97.50, ... in order
    assert set(outcomes.values()) == {settle.SUCCEEDED}
    assert reloaded(hot).balance == 9_950 - 2_000 and reloaded(hot).version == version + 1
    afters = [entry_rows(r)[0][3] for r in requests]
    assert afters == [9_950 - 100 * (n + 1) for n in range(20)]
    clean([hot, *targets])


def test_requests_settled_already_and_unknown_ids_are_left_alone_in_a_batch(stub):
    wallet = new_wallet()
    done = settled(accept(wallet, "deposit", "5.00"))
    fresh = accept(wallet, "deposit", "7.00")
    outcomes = settle.settle_batch([done.id, fresh.id, 10**15])
    assert outcomes == {done.id: settle.NOOP, fresh.id: settle.SUCCEEDED,
                        10**15: settle.NOOP}
    assert len(entry_rows(done)) == 3 and reloaded(wallet).balance == 497 + 696


def test_a_request_settled_elsewhere_during_the_attempt_drops_out_and_the_rest_settle(
        stub, monkeypatch):
    # Given two deposits, one of which another worker settles between this attempt's read
    # and its write
    wallet = new_wallet()
    mine, theirs = accept(wallet, "deposit", "10.00"), accept(wallet, "deposit", "20.00")
    real_read, raced = settle.requests.for_settlement, []

    def read_then_race(ids):
        read = real_read(ids)
        if not raced:
            raced.append(1)
            settle.settle_batch([theirs.id])  # (a batch of its own, committed now)
        return read

    monkeypatch.setattr(settle.requests, "for_settlement", read_then_race)

    # When the batch is settled, Then its first write hits the status guard (or the
    # version), is retried, and settles the other request once
    outcomes = settle.settle_batch([mine.id, theirs.id])
    assert outcomes == {mine.id: settle.SUCCEEDED, theirs.id: settle.NOOP}
    assert reloaded(wallet).balance == 995 + 1990
    assert len(entry_rows(theirs)) == 3 and len(entry_rows(mine)) == 3
    clean([wallet])


def test_the_first_attempt_of_a_racing_batch_writes_nothing(stub, monkeypatch):
    wallet = new_wallet()
    mine, theirs = accept(wallet, "deposit", "10.00"), accept(wallet, "deposit", "20.00")
    real_read = settle.requests.for_settlement

    def read_then_race(ids):
        read = real_read(ids)
        monkeypatch.setattr(settle.requests, "for_settlement", real_read)
        settle.settle_batch([theirs.id])
        return read

    monkeypatch.setattr(settle.requests, "for_settlement", read_then_race)
    with pytest.raises((AlreadySettled, VersionConflict)):
        settle.attempt([mine.id, theirs.id])
    assert reloaded(mine).status == "pending" and entry_rows(mine) == []
    assert reloaded(wallet).balance == 1990


def test_a_worker_settles_the_messages_its_threads_hold_in_shared_batches(stub, monkeypatch):
    # Given forty deposits waiting in the queue, and a record of every batch settled
    wallets = [new_wallet() for _ in range(40)]
    requests = [accept(w, "deposit", "1.00") for w in wallets]
    sizes: list[int] = []

    def recorded(ids):
        sizes.append(len(ids))
        return settle.settle_batch(ids)

    monkeypatch.setattr(batches.BATCHER, "settle_many", recorded)

    # When a worker with 16 threads takes them
    worker = Worker(stub, worker_threads=16, worker_timeout=100)
    worker.start()
    try:
        stub.join("deposits", timeout=60_000)
        worker.join()
    finally:
        worker.stop()

    # Then every one settled once, in fewer batches than requests
    assert {reloaded(r).status for r in requests} == {"succeeded"}
    assert sum(sizes) == 40 and max(sizes) > 1 and len(sizes) < 40
    assert {reloaded(w).balance for w in wallets} == {100 - 1}
    clean(wallets)
