"""The guards that exist for races, each tripped on its own.

The racing tests in test_settlement.py are mostly stopped by the version check; here each
other guard is the one thing between a race and a wrong write: the `status = 'pending'`
condition of the settlement's status change, the compound statement's transaction (its
COMMIT, its ROLLBACK after a failed statement), and the row locks of the pessimistic path.
"""
import contextlib
import threading
from collections.abc import Iterator

import peewee
import pymysql
import pytest

import settings
from errors import AlreadySettled, RowChanged, VersionConflict
from locking import batch as sqlbatch
from locking import read_wallets
from locking.batch import Statement
from models import Notification, Wallet, database_params, db, utcnow
from payments import requests, settle
from tests.helpers import unique
from tests.integration.factories import (
    accept,
    accept_transfer,
    active_hold,
    capture,
    entries,
    new_wallet,
    refund,
    reloaded,
    settled,
)

LOCK_REFUSED = (1205, 3572)  # lock wait timeout; NOWAIT could not take the lock


@contextlib.contextmanager
def other_connection() -> Iterator[pymysql.cursors.Cursor]:
    """Another session on the test database, as a concurrent worker would have."""
    name, params = database_params(settings.DATABASE_URL)
    connection = pymysql.connect(database=name, autocommit=True, **params)
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


def seen_elsewhere(query: str, *params) -> tuple:
    with other_connection() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()


def version_elsewhere(wallet_id: int) -> int:
    return seen_elsewhere("SELECT version FROM wallets WHERE id = %s", wallet_id)[0]


def lockable_elsewhere(wallet_id: int) -> bool:
    """Whether another session can take the wallet's row lock right now (without waiting)."""
    try:
        seen_elsewhere("SELECT id FROM wallets WHERE id = %s FOR UPDATE NOWAIT", wallet_id)
        return True
    except pymysql.err.OperationalError as exc:
        assert exc.args[0] in LOCK_REFUSED, exc
        return False


def in_transaction() -> bool:
    """Whether this test's own connection has a transaction open."""
    return db.execute_sql("SELECT @@in_transaction").fetchone()[0] == 1


def touch(wallet_id: int) -> Statement:
    """A version bump: a write that must hit one row and leaves the books as they are."""
    return Statement("UPDATE wallets SET version = version + 1, updated_at = %s WHERE id = %s",
                     (utcnow(), wallet_id), rows=1, mismatch=lambda: VersionConflict(wallet_id))


def note(user_id: int, dedupe_key: str) -> Statement:
    return Statement("INSERT INTO notifications (user_id, type, title, body, is_read, "
                     "dedupe_key, created_at) VALUES (%s, 'test', 'test', 'test', 0, %s, %s)",
                     (user_id, dedupe_key, utcnow()))


@pytest.fixture
def clean_connection():
    """Whatever a broken guard leaves open on this connection is rolled back afterwards,
    so one failure does not spill into the next test."""
    yield
    db.execute_sql("ROLLBACK")


# -- the status guard of the settlement's write -----------------------------------------------
@pytest.mark.parametrize("for_update", [False, True], ids=["optimistic", "pessimistic"])
def test_a_request_given_up_between_the_read_and_the_write_is_not_applied(monkeypatch,
                                                                         for_update):
    # Given an accepted deposit whose attempt reads it pending (the pessimistic attempt reads
    # twice, the second time with the wallets locked), after which (the wallet untouched,
    # so every version still matches) the maintenance actor gives up on it, on a
    # connection of its own as another worker would
    wallet = new_wallet()
    request = accept(wallet, "deposit", "10.00")
    real_read, reads = requests.for_settlement, []

    def read_then_give_up(request_ids):
        read = real_read(request_ids)
        reads.append(request_ids)
        if len(reads) == (2 if for_update else 1):
            gave_up: list[bool] = []
            other = threading.Thread(target=lambda: gave_up.append(settle.give_up(
                request_ids[0], detail="Gave up after 20 retries.")))
            other.start()
            other.join()
            assert gave_up == [True]
        return read

    monkeypatch.setattr(requests, "for_settlement", read_then_give_up)

    # When the attempt writes, Then the status guard stops it whole
    with pytest.raises(AlreadySettled):
        settle.attempt([request.id], for_update=for_update)

    # And nothing was written, the failure stands, and settling again finds nothing to do
    assert settle.settle(request.id) == settle.NOOP
    done = reloaded(request)
    assert (done.status, done.failure_code) == ("failed", "retries_exhausted")
    assert entries(request) == []
    assert (reloaded(wallet).balance, reloaded(wallet).version) == (0, 0)
    assert [n.type for n in Notification.select().where(Notification.request == request.id)] \
        == ["deposit_failed"]
    assert not in_transaction()


# -- the guards of a hold's change and of a refunded total ---------------------------------------
def changed_between_read_and_write(monkeypatch, sql: str, *params) -> None:
    """Make the next settlement read be followed, on another connection, by `sql`: a change
    to a hold or an original that leaves every wallet (and its version) as it was."""
    real_read = requests.for_settlement

    def read_then_change(request_ids):
        read = real_read(request_ids)
        monkeypatch.setattr(requests, "for_settlement", real_read)
        with other_connection() as cursor:
            cursor.execute(sql, params)
        return read

    monkeypatch.setattr(requests, "for_settlement", read_then_change)


def test_a_hold_changed_between_the_read_and_the_write_stops_the_capture(monkeypatch):
    # Given an active hold, a capture of it, and a change to the hold (its captured total,
    # as a racing capture would make it) between the capture's read and its write
    ada, bob = new_wallet(), new_wallet()
    settled(accept(ada, "deposit", "10.00"))
    hold = active_hold(ada, "5.00", to=bob)
    request = capture(hold, "2.00")
    changed_between_read_and_write(monkeypatch, "UPDATE holds SET captured = captured + 100 "
                                                "WHERE id = %s", hold.id)
    # When the attempt writes, Then the hold's guard stops it whole
    with pytest.raises(RowChanged):
        settle.attempt([request.id])
    assert reloaded(request).status == "pending" and entries(request) == []
    assert reloaded(bob).balance == 0
    assert not in_transaction()
    # (the books put back as they were, then settled for real)
    db.execute_sql("UPDATE holds SET captured = captured - 100 WHERE id = %s", (hold.id,))
    assert settle.settle(request.id) == settle.SUCCEEDED


def test_a_refunded_total_changed_between_the_read_and_the_write_stops_the_refund(monkeypatch):
    ada, bob = new_wallet(), new_wallet()
    settled(accept(ada, "deposit", "10.00"))
    transfer = settled(accept_transfer(ada, bob, "5.00"))
    request = refund(transfer, "1.00")
    # (by 0.07, not the refund's own 1.00: a write of the value already there changes no row)
    changed_between_read_and_write(monkeypatch, "UPDATE transaction_requests SET refunded = "
                                                "refunded + 7 WHERE id = %s", transfer.id)
    with pytest.raises(RowChanged):
        settle.attempt([request.id])
    assert reloaded(request).status == "pending" and entries(request) == []
    assert reloaded(ada).balance == 495 and not in_transaction()
    db.execute_sql("UPDATE transaction_requests SET refunded = refunded - 7 WHERE id = %s",
                   (transfer.id,))
    assert settle.settle(request.id) == settle.SUCCEEDED


# -- the compound statement's transaction -----------------------------------------------------
def test_a_batch_commits_every_statement_and_leaves_no_transaction_open():
    # Given a wallet and two writes, one that must hit one row
    wallet = new_wallet()
    key = unique("note-")

    # When they run as one batch
    sqlbatch.run(touch(wallet.id), note(wallet.user_id, key))

    # Then another session sees both, and this connection holds no transaction or lock
    assert version_elsewhere(wallet.id) == 1
    assert seen_elsewhere("SELECT COUNT(*) FROM notifications WHERE dedupe_key = %s", key) == (1,)
    assert not in_transaction()
    assert lockable_elsewhere(wallet.id)


def test_a_row_count_mismatch_raises_its_own_error_and_undoes_the_earlier_statements(
        clean_connection):
    # Given a batch whose second write finds no row (as a lost version check would)
    wallet = new_wallet()

    # When it runs
    with pytest.raises(VersionConflict):
        sqlbatch.run(touch(wallet.id), touch(0))

    # Then the first write was undone, and no transaction or row lock is left behind
    assert not in_transaction()
    assert version_elsewhere(wallet.id) == 0 and reloaded(wallet).version == 0
    assert lockable_elsewhere(wallet.id)


def test_a_statement_that_fails_midway_is_rolled_back_and_leaves_no_transaction_open(
        clean_connection):
    # Given a notification already written, and a batch that bumps a wallet and then
    # writes that notification again (a unique-key violation, as a second set of entries
    # for one request would be)
    wallet = new_wallet()
    key = unique("note-")
    sqlbatch.run(note(wallet.user_id, key))

    # When the batch runs
    with pytest.raises(peewee.IntegrityError):
        sqlbatch.run(touch(wallet.id), note(wallet.user_id, key))

    # Then the bump is gone, this connection has no transaction open, and the wallet's
    # row is not held: a settlement elsewhere would not wait on it
    assert not in_transaction()
    assert reloaded(wallet).version == 0 and version_elsewhere(wallet.id) == 0
    assert lockable_elsewhere(wallet.id)


def test_inside_the_callers_transaction_a_batch_neither_commits_nor_opens_its_own(
        clean_connection):
    # Given a caller's transaction that has already written
    wallet = new_wallet()
    with db.atomic() as transaction:
        db.execute_sql("UPDATE wallets SET version = version + 1 WHERE id = %s", (wallet.id,))

        # When a batch runs inside it
        sqlbatch.run(touch(wallet.id), own_transaction=False)

        # Then both writes wait for the caller: unseen elsewhere, then rolled back together
        assert in_transaction() and reloaded(wallet).version == 2
        assert version_elsewhere(wallet.id) == 0
        transaction.rollback()
    assert reloaded(wallet).version == 0 and version_elsewhere(wallet.id) == 0


# -- the pessimistic path's row locks ---------------------------------------------------------
def test_wallets_read_for_update_stay_locked_until_the_transaction_ends(clean_connection):
    # Given two wallets
    first, second = new_wallet(), new_wallet()

    # When they are read for update inside a transaction
    with db.atomic():
        states = read_wallets([second.id, first.id], for_update=True)

        # Then both are read, and no other session can take either row meanwhile
        assert sorted(states) == [first.id, second.id]
        assert not lockable_elsewhere(first.id) and not lockable_elsewhere(second.id)

    # And once it ends, they are free again
    assert lockable_elsewhere(first.id) and lockable_elsewhere(second.id)


def test_wallets_read_without_for_update_are_not_locked(clean_connection):
    wallet = new_wallet()
    with db.atomic():
        assert list(read_wallets([wallet.id])) == [wallet.id]
        assert lockable_elsewhere(wallet.id)
    assert Wallet.get_by_id(wallet.id).version == 0
