"""The ledger audit finds what it exists to find: one deliberate corruption per check.

Each test settles a small set of books for real (committed, clean), then corrupts it with
direct SQL inside a transaction that is never committed: the audit, run on the same
connection, sees the corruption; nobody else ever does, and it is gone afterwards, so the
tests that expect a clean audit are not disturbed. The audit scans the whole database,
so each test looks at the findings that name its own rows, and expects exactly one:
the check that exists for that corruption, naming that row.
"""
from decimal import Decimal
from types import SimpleNamespace

import pytest

from ledger import audit
from ledger.system import EXTERNAL, system_wallet_id
from models import Transaction, TransactionRequest, db, utcnow
from tests.integration.factories import (
    HOLD_CHECKS,
    WALLET_CHECKS,
    accept,
    accept_transfer,
    active_hold,
    capture,
    entries,
    findings_about,
    never_committed,
    new_wallet,
    refund,
    reloaded,
    settled,
)

BALANCE = "user wallet balance equals the sum of its entries"
ZERO_SUM = "entries of each request sum to zero"
NEGATIVE = "no user wallet is negative"
SUCCEEDED_HAS_ENTRIES = "every succeeded request that moves money has entries"
OTHERS_HAVE_NONE = "no pending or failed request, hold or void has entries"
LATEST_ENTRY = "latest entry of each user wallet shows its balance"
FEES = "fee entries of each request equal its fee"
HELD = "user wallet held equals the sum of its active holds' remaining amounts"
AVAILABLE = "no user wallet's available balance is negative"
CAPTURES = "each hold's captured total is the sum of its captures, within its amount"
HOLD_STATUS = "each hold's status agrees with its request's"
REFUNDS = "each request's refunded total is the sum of its refunds, within what was received"


@pytest.fixture
def books() -> SimpleNamespace:
    """Two users' settled books: a deposit of 100.00 (fee 0.50), a transfer of 30.00 and a
    withdrawal of 10.00. Ada holds 59.50, Bob 30.00."""
    ada, bob = new_wallet(), new_wallet()
    deposit = settled(accept(ada, "deposit", "100.00"))
    transfer = settled(accept_transfer(ada, bob, "30.00"))
    withdrawal = settled(accept(ada, "withdrawal", "10.00"))
    assert (deposit.fee, reloaded(ada).balance, reloaded(bob).balance) == (50, 5_950, 3_000)
    return SimpleNamespace(ada=reloaded(ada), bob=reloaded(bob), deposit=deposit,
                           transfer=transfer, withdrawal=withdrawal,
                           wallets=[ada, bob], requests=[deposit, transfer, withdrawal])


def sql(query: str, *params) -> None:
    db.execute_sql(query, params)


def latest_entry(wallet_id: int) -> Transaction:
    return Transaction.select().where(Transaction.wallet == wallet_id) \
        .order_by(Transaction.id.desc()).get()


def assert_the_audit_fails_on(check: str, capsys) -> None:
    """`manage.py audit` (audit.main) exits non-zero and names the failing check."""
    capsys.readouterr()
    assert audit.main() == 1
    printed = capsys.readouterr().out
    assert f"FAIL {check}: " in printed and "finding(s)" in printed, printed
    bad, _ = audit.report()
    assert bad >= 1


def test_every_check_is_known_to_report_a_wallet_or_a_request():
    names = [name for name, _ in audit.CHECKS]
    assert names == [BALANCE, ZERO_SUM, NEGATIVE, SUCCEEDED_HAS_ENTRIES, OTHERS_HAVE_NONE,
                     LATEST_ENTRY, FEES, HELD, AVAILABLE, CAPTURES, HOLD_STATUS, REFUNDS]
    assert WALLET_CHECKS == {BALANCE, NEGATIVE, LATEST_ENTRY, HELD, AVAILABLE}
    assert HOLD_CHECKS == {CAPTURES, HOLD_STATUS}


def test_settled_books_are_reported_by_no_check(books, capsys):
    # Given books settled by the service itself
    # When the audit runs, Then none of their wallets or requests is reported
    assert findings_about(books.wallets, books.requests) == {}
    # And with nothing wrong anywhere (every test leaves the books clean), it exits 0
    capsys.readouterr()
    assert audit.main() == 0
    assert capsys.readouterr().out.rstrip().endswith("audit: clean")


def test_a_balance_changed_without_an_entry_is_reported_by_the_balance_check(books, capsys):
    with never_committed():
        # Given Ada's balance raised by 0.01 with no entry for it (her latest entry's
        # balance_after raised along, so only the sum of her entries disagrees)
        sql("UPDATE wallets SET balance = balance + 1 WHERE id = %s", books.ada.id)
        sql("UPDATE transactions SET balance_after = balance_after + 1 WHERE id = %s",
            latest_entry(books.ada.id).id)
        # When the audit runs, Then that check alone reports her wallet, with both figures
        assert findings_about(books.wallets, books.requests) == {
            BALANCE: [(books.ada.id, 5_951, Decimal(5_950))]}
        assert_the_audit_fails_on(BALANCE, capsys)


def test_a_request_whose_entries_do_not_sum_to_zero_is_reported(books, capsys):
    with never_committed():
        # Given the deposit's external entry short by 0.01 (money made from nothing)
        external = system_wallet_id(EXTERNAL, "USD")
        sql("UPDATE transactions SET amount = amount + 1 WHERE request_id = %s "
            "AND wallet_id = %s", books.deposit.id, external)
        # When the audit runs, Then that check alone reports the deposit and the imbalance
        assert findings_about(books.wallets, books.requests) == {
            ZERO_SUM: [(books.deposit.id, Decimal(1))]}
        assert_the_audit_fails_on(ZERO_SUM, capsys)


def test_a_negative_user_wallet_is_reported(books, capsys):
    with never_committed():
        # Given Ada overdrawn by 5.00 through a succeeded withdrawal whose entries balance and
        # whose latest entry shows it (the schema's CHECK refuses a negative wallet, so it is
        # switched off for this connection: the audit is the net under that net)
        overdraft = TransactionRequest.create(
            user=books.ada.user_id, type="withdrawal", status="succeeded", currency="USD",
            amount=6_450, fee=0, wallet=books.ada.id, completed_at=utcnow())
        sql("SET SESSION check_constraint_checks = 0")
        try:
            sql("UPDATE wallets SET balance = -500 WHERE id = %s", books.ada.id)
        finally:
            sql("SET SESSION check_constraint_checks = 1")
        sql("INSERT INTO transactions (request_id, wallet_id, type, amount, fee, "
            "balance_after, created_at) VALUES (%s, %s, 'withdrawal', -6450, 0, -500, %s), "
            "(%s, %s, 'withdrawal', 6450, 0, NULL, %s)",
            overdraft.id, books.ada.id, utcnow(),
            overdraft.id, system_wallet_id(EXTERNAL, "USD"), utcnow())
        # When the audit runs, Then that check alone reports her wallet and its balance
        assert findings_about(books.wallets, books.requests + [overdraft]) == {
            NEGATIVE: [(books.ada.id, -500)]}
        assert_the_audit_fails_on(NEGATIVE, capsys)


def test_a_succeeded_request_without_entries_is_reported(books, capsys):
    with never_committed():
        # Given a withdrawal marked succeeded that never wrote its entries
        lost = TransactionRequest.create(
            user=books.ada.user_id, type="withdrawal", status="succeeded", currency="USD",
            amount=100, fee=0, wallet=books.ada.id, completed_at=utcnow())
        # When the audit runs, Then that check alone reports it
        assert findings_about(books.wallets, books.requests + [lost]) == {
            SUCCEEDED_HAS_ENTRIES: [(lost.id,)]}
        assert_the_audit_fails_on(SUCCEEDED_HAS_ENTRIES, capsys)


@pytest.mark.parametrize("status", ["failed", "pending"])
def test_a_failed_or_pending_request_with_entries_is_reported(books, capsys, status):
    with never_committed():
        # Given the settled withdrawal marked failed (or back to pending), its entries kept:
        # re-running it would apply it twice
        sql("UPDATE transaction_requests SET status = %s WHERE id = %s", status,
            books.withdrawal.id)
        # When the audit runs, Then that check alone reports it, with its status
        assert findings_about(books.wallets, books.requests) == {
            OTHERS_HAVE_NONE: [(books.withdrawal.id, status)]}
        assert_the_audit_fails_on(OTHERS_HAVE_NONE, capsys)


def test_a_latest_entry_that_disagrees_with_the_balance_is_reported(books, capsys):
    with never_committed():
        # Given Bob's latest entry claiming he held 0.01 less than he does
        sql("UPDATE transactions SET balance_after = balance_after - 1 WHERE id = %s",
            latest_entry(books.bob.id).id)
        # When the audit runs, Then that check alone reports his wallet, with both figures
        assert findings_about(books.wallets, books.requests) == {
            LATEST_ENTRY: [(books.bob.id, 3_000, 2_999)]}
        assert_the_audit_fails_on(LATEST_ENTRY, capsys)


def test_fee_entries_that_do_not_equal_the_fee_are_reported(books, capsys):
    with never_committed():
        # Given the deposit's fee entry dropped and its 0.50 folded into the external
        # entry: the entries still balance, but the fee account never got the fee
        external = system_wallet_id(EXTERNAL, "USD")
        sql("DELETE FROM transactions WHERE request_id = %s AND type = 'fee'",
            books.deposit.id)
        sql("UPDATE transactions SET amount = amount + 50 WHERE request_id = %s "
            "AND wallet_id = %s", books.deposit.id, external)
        assert sum(e.amount for e in entries(books.deposit)) == 0
        # When the audit runs, Then that check alone reports the deposit, its fee and the sum
        assert findings_about(books.wallets, books.requests) == {
            FEES: [(books.deposit.id, 50, Decimal(0))]}
        assert_the_audit_fails_on(FEES, capsys)


# -- two-phase money and refunds ----------------------------------------------------------------
@pytest.fixture
def held(books) -> SimpleNamespace:
    """The books, plus a hold of 20.00 from Ada for Bob, 5.00 of it captured, and 1.00 of the
    transfer refunded by Bob."""
    hold = active_hold(books.ada, "20.00", to=books.bob)
    taken = settled(capture(hold, "5.00"))
    back = settled(refund(books.transfer, "1.00"))
    requests = books.requests + [taken, back, TransactionRequest.get_by_id(hold.request_id)]
    assert findings_about(books.wallets, requests, [hold.id]) == {}
    return SimpleNamespace(books=books, hold=hold, taken=taken, back=back, requests=requests)


def found(held: SimpleNamespace, extra=()) -> dict:
    return findings_about(held.books.wallets, held.requests + list(extra), [held.hold.id])


def test_a_held_amount_that_no_hold_explains_is_reported(held, capsys):
    with never_committed():
        sql("UPDATE wallets SET held = held + 1 WHERE id = %s", held.books.ada.id)
        assert found(held) == {HELD: [(held.books.ada.id, 1_501, Decimal(1_500))]}
        assert_the_audit_fails_on(HELD, capsys)


def test_more_held_than_the_balance_is_reported_even_when_holds_explain_it(held, capsys):
    with never_committed():
        # Given the hold grown past Ada's balance, and her held amount along with it (the
        # schema's CHECK refuses that, so it is switched off for this connection)
        sql("SET SESSION check_constraint_checks = 0")
        try:
            sql("UPDATE holds SET amount = amount + 100000 WHERE id = %s", held.hold.id)
            sql("UPDATE wallets SET held = held + 100000 WHERE id = %s", held.books.ada.id)
        finally:
            sql("SET SESSION check_constraint_checks = 1")
        assert found(held) == {AVAILABLE: [(held.books.ada.id, 5_550, 101_500)]}
        assert_the_audit_fails_on(AVAILABLE, capsys)


def test_a_captured_total_that_no_capture_explains_is_reported(held, capsys):
    with never_committed():
        sql("UPDATE holds SET captured = captured + 100 WHERE id = %s", held.hold.id)
        sql("UPDATE wallets SET held = held - 100 WHERE id = %s", held.books.ada.id)
        assert found(held) == {CAPTURES: [(held.hold.id, 2_000, 600, Decimal(500))]}
        assert_the_audit_fails_on(CAPTURES, capsys)


def test_a_hold_whose_status_disagrees_with_its_request_is_reported(held, capsys):
    with never_committed():
        # Given the hold's request marked failed while its hold stays active
        sql("UPDATE transaction_requests SET status = 'failed' WHERE id = %s",
            held.hold.request_id)
        assert found(held) == {HOLD_STATUS: [(held.hold.id, "active", held.hold.request_id,
                                              "failed")]}
        assert_the_audit_fails_on(HOLD_STATUS, capsys)


def test_a_refunded_total_that_no_refund_explains_is_reported(held, capsys):
    with never_committed():
        sql("UPDATE transaction_requests SET refunded = refunded + 1 WHERE id = %s",
            held.books.transfer.id)
        assert found(held) == {REFUNDS: [(held.books.transfer.id, 3_000, 101, Decimal(100))]}
        assert_the_audit_fails_on(REFUNDS, capsys)


def test_a_hold_or_void_with_entries_is_reported(held, capsys):
    with never_committed():
        # Given the hold's request given the capture's entries, as if it had moved money
        sql("UPDATE transactions SET request_id = %s WHERE request_id = %s",
            held.hold.request_id, held.taken.id)
        findings = found(held)
        assert findings[OTHERS_HAVE_NONE] == [(held.hold.request_id, "succeeded")]
        assert_the_audit_fails_on(OTHERS_HAVE_NONE, capsys)
