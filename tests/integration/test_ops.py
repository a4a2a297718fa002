"""The ops page's repairs and figures, called directly against real MariaDB and Redis.

Requests are accepted with `payments` as the API accepts them, which enqueues their
message on the test process's StubBroker; `settle.give_up` then fails one the way the
maintenance actor does when its retries run out.
"""
import threading

import dramatiq
import pytest
from dramatiq import Message

from errors import NotRerunnable
from ledger import audit
from models import (
    STATUSES,
    AuditRun,
    Notification,
    Transaction,
    TransactionRequest,
    User,
    Wallet,
    db,
    utcnow,
)
from payments import door, requests, rerun, settle
from tests.helpers import unique
from tests.integration.factories import never_committed


def new_wallet() -> Wallet:
    name = unique("user_")
    user = User.create(email=f"{name}@example.com", username=name,
                       password_hash="not-a-real-hash")
    return Wallet.create(user=user, currency="USD")


def accept(wallet: Wallet, kind: str = "deposit", amount: str = "100.00") -> TransactionRequest:
    request, _ = door.accept(wallet.user, kind=kind, key=unique("k"), amount=amount,
                                 wallet_id=wallet.id)
    return request


def exhausted(wallet: Wallet | None = None) -> TransactionRequest:
    """A deposit whose retries ran out: failed / retries_exhausted, no entries."""
    request = accept(wallet or new_wallet())
    assert settle.give_up(request.id, detail="Gave up after 20 retries.")
    return reloaded(request)


def reloaded(request: TransactionRequest) -> TransactionRequest:
    return TransactionRequest.get_by_id(request.id)


def entries(request: TransactionRequest) -> list[Transaction]:
    return list(Transaction.select().where(Transaction.request == request.id))


def sent_ids(stub, queue: str = "deposits") -> list[int]:
    """The request ids of the messages waiting on the stub broker's queue (left there)."""
    return [Message.decode(raw).args[0] for raw in list(stub.queues[queue].queue)]


@pytest.fixture
def stub():
    broker = dramatiq.get_broker()
    assert type(broker).__name__ == "StubBroker"
    broker.flush_all()
    yield broker
    broker.flush_all()


# -- re-run -------------------------------------------------------------------------------
def test_re_run_refuses_a_pending_a_succeeded_and_a_business_failed_request(stub):
    # Given a pending, a succeeded and an insufficient-funds request
    wallet = new_wallet()
    pending = accept(wallet)
    succeeded = accept(wallet)
    assert settle.settle(succeeded.id) == settle.SUCCEEDED
    poor = accept(new_wallet(), kind="withdrawal", amount="5.00")
    assert settle.settle(poor.id) == settle.FAILED
    stub.flush_all()
    for request in (pending, succeeded, poor):
        before = reloaded(request)
        # When an operator re-runs it
        with pytest.raises(NotRerunnable):
            rerun.rerun(request.id)
        # Then nothing about it changed and nothing was sent
        after = reloaded(request)
        assert (after.status, after.failure_code, after.completed_at) == \
            (before.status, before.failure_code, before.completed_at)
    assert sent_ids(stub) == [] and sent_ids(stub, "withdrawals") == []
    settle.settle(pending.id)  # leave no pending request behind


def test_re_run_refuses_an_unknown_request():
    with pytest.raises(NotRerunnable):
        rerun.rerun(2**62)


def test_re_run_refuses_a_retries_exhausted_request_that_has_ledger_entries(stub):
    # Given a settled deposit whose row was then marked failed / retries_exhausted
    # (an inconsistency the audit reports; re-running it would apply it a second time)
    request = accept(new_wallet())
    assert settle.settle(request.id) == settle.SUCCEEDED
    TransactionRequest.update(status="failed", failure_code="retries_exhausted") \
        .where(TransactionRequest.id == request.id).execute()
    stub.flush_all()
    try:
        # When an operator re-runs it
        with pytest.raises(NotRerunnable):
            rerun.rerun(request.id)
        # Then it stays as it was, with its one set of entries, and nothing is sent
        assert (reloaded(request).status, len(entries(request))) == ("failed", 3)
        assert sent_ids(stub) == []
        # And the audit reports exactly this inconsistency
        assert (request.id, "failed") in \
            audit.findings()["no pending or failed request, hold or void has entries"]
    finally:  # leave the books as the audit expects them
        TransactionRequest.update(status="succeeded", failure_code=None) \
            .where(TransactionRequest.id == request.id).execute()


def test_a_re_run_retries_exhausted_request_is_pending_again_and_then_settles_exactly_once(stub):
    # Given a deposit of 100.00 whose retries ran out (with its failure notification)
    wallet = new_wallet()
    request = exhausted(wallet)
    stub.flush_all()
    assert (request.status, request.failure_code) == ("failed", "retries_exhausted")
    # When an operator re-runs it
    again = rerun.rerun(request.id)
    # Then it is pending with its failure cleared, and its id was sent to its actor once
    assert (again.status, again.failure_code, again.failure_detail, again.completed_at) == \
        ("pending", None, None, None)
    assert sent_ids(stub) == [request.id]
    # And settling it (twice, as a duplicate message would) applies it once
    assert settle.settle(request.id) == settle.SUCCEEDED
    assert settle.settle(request.id) == settle.NOOP
    assert reloaded(request).status == "succeeded" and len(entries(request)) == 3
    assert Wallet.get_by_id(wallet.id).balance == 9950
    # And the user's history keeps the failure and adds the success
    kinds = [n.type for n in Notification.select().where(Notification.request == request.id)
             .order_by(Notification.id)]
    assert kinds == ["deposit_failed", "deposit_succeeded"]
    # And it cannot be re-run again
    with pytest.raises(NotRerunnable):
        rerun.rerun(request.id)
    assert {k: v for k, v in audit.findings().items() if v} == {}


def test_two_operators_re_running_one_request_at_once_re_run_it_once(stub):
    # Given a request whose retries ran out
    request = exhausted()
    stub.flush_all()
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def press() -> None:
        barrier.wait()
        try:
            rerun.rerun(request.id)
            outcomes.append("re-run")
        except NotRerunnable:
            outcomes.append("refused")
        finally:
            db.close()

    # When two operators press re-run at the same moment
    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # Then one re-ran it and one was refused, and it was sent once
    assert sorted(outcomes) == ["re-run", "refused"]
    assert sent_ids(stub) == [request.id]


def test_a_request_re_run_and_failed_again_can_be_re_run_again(stub):
    # Given a request that was re-run and whose retries ran out a second time
    request = exhausted()
    rerun.rerun(request.id)
    assert settle.give_up(request.id, detail="Gave up after 20 retries.")
    stub.flush_all()
    # When it is re-run again and settled
    rerun.rerun(request.id)
    # Then it succeeds once, with both failures still in the user's history
    assert settle.settle(request.id) == settle.SUCCEEDED
    kinds = [n.type for n in Notification.select().where(Notification.request == request.id)]
    assert sorted(kinds) == ["deposit_failed", "deposit_failed", "deposit_succeeded"]


# -- figures ------------------------------------------------------------------------------
def test_request_stats_count_every_status_and_find_the_oldest_pending_request(stub):
    # Given the counts now, then one more pending and one more failed request
    before = requests.stats()
    pending = accept(new_wallet())
    exhausted()
    # When the stats are read
    after = requests.stats()
    # Then each count moved by exactly what was added
    assert after.by_status["pending"] == before.by_status["pending"] + 1
    assert after.by_status["failed"] == before.by_status["failed"] + 1
    assert after.by_status["succeeded"] == before.by_status["succeeded"]
    assert after.by_status == {s: TransactionRequest.select().where(
        TransactionRequest.status == s).count() for s in STATUSES}
    # And the oldest pending request is at most as young as the one just made
    assert after.oldest_pending_at is not None
    assert after.oldest_pending_at <= reloaded(pending).created_at
    settle.settle(pending.id)


def test_the_latest_failures_come_newest_first_and_at_most_twenty(stub):
    # Given 21 new failed requests
    made = [exhausted().id for _ in range(21)]
    # When the latest failures are read
    shown = requests.latest_failures()
    # Then they are the 20 newest, newest first, with their reason
    assert [r.id for r in shown] == made[::-1][:20]
    assert {(r.failure_code, r.failure_detail) for r in shown} == \
        {("retries_exhausted", "Gave up after 20 retries.")}


def test_an_audit_run_is_recorded_with_its_findings_and_report_and_is_the_latest():
    # Given a wallet whose balance was raised without an entry (in a transaction that is
    # never committed, so only this connection, and the audit on it, ever sees it)
    wallet = new_wallet()
    with never_committed():
        db.execute_sql("UPDATE wallets SET balance = balance + 1 WHERE id = %s", (wallet.id,))
        # When the audit runs from the ops page
        started = utcnow()
        run = audit.run_and_record()
        # Then its run is stored: when, how many findings, the report, and it is the latest
        stored = AuditRun.get_by_id(run.id)
        assert started <= stored.started_at <= stored.finished_at
        assert stored.findings >= 1
        assert stored.findings == sum(len(rows) for rows in audit.findings().values())
        assert stored.report.startswith("audit: ") and "entries of each request sum to zero" in \
            stored.report
        assert "FAIL user wallet balance equals the sum of its entries" in stored.report
        assert audit.latest().id == run.id
