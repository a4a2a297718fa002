"""A wallet's history against MariaDB: filtered pages of entries and of requests, the
balance at a moment, statements whose balances agree with their entries.

Requests are accepted at the door as the API accepts them and settled as the actors
settle them; where a test needs entries at known moments, it moves their timestamps in
the order they were written (as time would have).
"""
from datetime import datetime, timedelta

from ledger import history
from ledger.history import EntryFilters
from models import Transaction, TransactionRequest, Wallet, db
from payments import door
from payments.details import parse_details
from payments.history import RequestFilters
from payments.history import page_of as requests_page
from tests.helpers import unique
from tests.integration.factories import (
    accept,
    accept_transfer,
    findings_about,
    new_wallet,
    reloaded,
    settled,
)

DAY1 = datetime(2026, 1, 1, 9, 0, 0)


def at_days(wallet: Wallet, *moments: datetime) -> list[Transaction]:
    """Put the wallet's entries, oldest first, at these moments (one each)."""
    rows = list(Transaction.select().where(Transaction.wallet == wallet.id)
                .order_by(Transaction.id))
    assert len(rows) == len(moments)
    for row, moment in zip(rows, moments, strict=True):
        db.execute_sql("UPDATE transactions SET created_at = %s WHERE id = %s", (moment, row.id))
    return [reloaded(row) for row in rows]


def described(wallet: Wallet, kind: str, amount: str, *, description: str | None = None,
              metadata: dict | None = None) -> TransactionRequest:
    request, _ = door.accept(wallet.user, kind=kind, key=unique("k"), amount=amount,
                             wallet_id=wallet.id,
                             details=parse_details(description, metadata))
    return settled(request)


def test_the_balance_at_a_moment_is_the_balance_after_the_last_entry_at_or_before_it():
    # Given a wallet with three entries on three days
    wallet = new_wallet()
    for amount in ("100.00", "50.00"):
        settled(accept(wallet, "deposit", amount))
    settled(accept(wallet, "withdrawal", "20.00"))
    days = [DAY1, DAY1 + timedelta(days=1), DAY1 + timedelta(days=2)]
    first, second, third = at_days(wallet, *days)
    # Then before the first entry it is zero, at an entry's own moment it includes it,
    # between two entries it is the earlier one's, and in the future it is today's
    assert history.balance_at(wallet.id, DAY1 - timedelta(microseconds=1)) == 0
    assert history.balance_at(wallet.id, DAY1) == first.balance_after == 9950
    assert history.balance_at(wallet.id, days[1] - timedelta(microseconds=1)) == 9950
    assert history.balance_at(wallet.id, days[1] + timedelta(hours=5)) == 9950 + 4975
    assert history.balance_at(wallet.id, datetime(2999, 1, 1)) == reloaded(wallet).balance \
        == third.balance_after
    # And moments outside what a DATETIME holds are answered, not refused
    assert history.balance_at(wallet.id, datetime(1, 1, 1)) == 0
    assert history.balance_at(wallet.id, datetime(9999, 12, 31, 23, 59, 59)) == 12925
    assert findings_about([wallet], []) == {}


def test_a_statements_opening_plus_its_entries_is_its_closing_balance():
    # Given five entries, one a day
    wallet, other = new_wallet(), new_wallet()
    settled(accept(wallet, "deposit", "100.00"))
    settled(accept(other, "deposit", "10.00"))
    settled(accept_transfer(wallet, other, "30.00"))
    settled(accept_transfer(other, wallet, "5.00"))
    settled(accept(wallet, "withdrawal", "1.00"))
    settled(accept(wallet, "deposit", "10.00"))
    rows = at_days(wallet, *(DAY1 + timedelta(days=i) for i in range(5)))
    # When the statement covers days 2 to 4 (from inclusive, to exclusive)
    span = history.period(wallet.id, DAY1 + timedelta(days=1), DAY1 + timedelta(days=4))
    lines = list(history.entries(wallet.id, span))
    # Then it lists exactly those three entries, oldest first, and the balances agree
    assert [line.id for line in lines] == [r.id for r in rows[1:4]]
    assert span.opening == rows[0].balance_after
    assert span.closing == span.opening + sum(line.amount for line in lines) \
        == rows[3].balance_after
    assert span.count == 3 and span.last_id == rows[3].id
    # And a period without entries opens and closes at the balance it had
    quiet = history.period(wallet.id, DAY1 + timedelta(days=10), DAY1 + timedelta(days=11))
    assert (quiet.opening, quiet.closing, list(history.entries(wallet.id, quiet))) == \
        (reloaded(wallet).balance, reloaded(wallet).balance, [])


def test_a_statement_reads_its_entries_in_chunks_and_misses_none_sharing_a_moment():
    # Given seven entries, four of them at the very same moment
    wallet = new_wallet()
    for _ in range(7):
        settled(accept(wallet, "deposit", "1.00"))
    moments = [DAY1, DAY1, DAY1, DAY1, DAY1 + timedelta(seconds=1), DAY1 + timedelta(seconds=1),
               DAY1 + timedelta(seconds=2)]
    rows = at_days(wallet, *moments)
    span = history.period(wallet.id, DAY1, DAY1 + timedelta(days=1))
    # When the statement is read two entries at a time
    lines = list(history.entries(wallet.id, span, chunk_rows=2))
    # Then every entry comes once, in (time, id) order
    assert [line.id for line in lines] == [r.id for r in rows]
    assert span.closing == sum(line.amount for line in lines) == reloaded(wallet).balance


def test_a_statement_streams_only_what_its_balances_counted_when_new_entries_arrive():
    # Given a statement of today begun, its figures read
    wallet = new_wallet()
    settled(accept(wallet, "deposit", "10.00"))
    start = reloaded(wallet).created_at - timedelta(days=1)
    span = history.period(wallet.id, start, start + timedelta(days=2))
    # When another entry is written before its entries are read
    settled(accept(wallet, "deposit", "10.00"))
    lines = list(history.entries(wallet.id, span))
    # Then the entries streamed are those its closing balance counted
    assert len(lines) == 1 and span.closing == lines[0].amount == 995


def test_a_page_of_entries_filters_by_type_and_period_and_shows_the_requests_description():
    # Given deposits, a described transfer out and a withdrawal on four days
    wallet, other = new_wallet(), new_wallet()
    described(wallet, "deposit", "100.00", description="salary")
    transfer, _ = door.accept_transfer(wallet.user, key=unique("k"), from_wallet_id=wallet.id,
                                       to_wallet_id=other.id, amount="10.00",
                                       details=parse_details("rent, march", {"flat": "3b"}))
    settled(transfer)
    settled(accept(wallet, "deposit", "5.00"))
    settled(accept(wallet, "withdrawal", "1.00"))
    rows = at_days(wallet, *(DAY1 + timedelta(days=i) for i in range(4)))
    # Then the type filter keeps deposits, the period keeps days 2 and 3, and both combine
    deposits = history.page_of(wallet.id, EntryFilters(type="deposit"), limit=10, after=None)
    assert [line.id for line in deposits] == [rows[2].id, rows[0].id]
    period = EntryFilters(created_from=DAY1 + timedelta(days=1),
                          created_to=DAY1 + timedelta(days=3))
    assert [line.id for line in history.page_of(wallet.id, period, limit=10, after=None)] == \
        [rows[2].id, rows[1].id]
    both = EntryFilters(type="deposit", created_from=DAY1 + timedelta(days=1))
    assert [line.id for line in history.page_of(wallet.id, both, limit=10, after=None)] == \
        [rows[2].id]
    # And both sides of the transfer show its description
    out = history.page_of(wallet.id, EntryFilters(type="transfer_out"), limit=10, after=None)
    into = history.page_of(other.id, EntryFilters(type="transfer_in"), limit=10, after=None)
    assert out[0].description == into[0].description == "rent, march"
    assert deposits[-1].description == "salary" and deposits[0].description is None
    # And a page is limit + 1 rows at most, resuming below the cursor's id
    first = history.page_of(wallet.id, EntryFilters(), limit=2, after=None)
    assert [line.id for line in first] == [rows[3].id, rows[2].id, rows[1].id]
    assert [line.id for line in history.page_of(wallet.id, EntryFilters(), limit=2,
                                                after=rows[2].id)] == [rows[1].id, rows[0].id]


def test_the_request_list_filters_combine_over_status_type_wallet_period_and_metadata():
    # Given a user with two wallets and requests of several kinds
    usd = new_wallet()
    eur = Wallet.create(user=usd.user, currency="EUR")
    stranger = new_wallet()
    deposit = described(usd, "deposit", "100.00", metadata={"order": "17", "shop": "x"})
    other_order = described(usd, "deposit", "1.00", metadata={"order": "18"})
    padded = described(usd, "deposit", "1.00", metadata={"order": "17 "})
    eur_deposit = described(eur, "deposit", "3.00", metadata={"order": "17"})
    transfer = settled(accept_transfer(usd, stranger, "5.00"))
    failed = accept(usd, "withdrawal", "1000.00")
    door_failed = settled_failed(failed)
    user = usd.user

    def ids(**given) -> list[int]:
        return [r.id for r in requests_page(user, RequestFilters(**given), limit=50, after=None)]

    # Then each filter keeps its own, newest first
    assert ids() == [door_failed.id, transfer.id, eur_deposit.id, padded.id, other_order.id,
                     deposit.id]
    assert ids(status="failed") == [door_failed.id]
    assert ids(type="transfer") == [transfer.id]
    assert ids(wallet_id=eur.id) == [eur_deposit.id]
    assert ids(wallet_id=stranger.id) == [transfer.id]  # as the request's to_wallet_id
    # And metadata matches exactly (no padding or case folded), on one key
    assert ids(metadata=("order", "17")) == [eur_deposit.id, deposit.id]
    assert ids(metadata=("order", "17 ")) == [padded.id]
    assert ids(metadata=("ORDER", "17")) == []
    # And filters combine
    assert ids(type="deposit", wallet_id=usd.id, metadata=("order", "17")) == [deposit.id]
    assert ids(status="succeeded", type="withdrawal") == []
    # And a period is created_from inclusive, created_to exclusive
    moment = reloaded(transfer).created_at
    assert ids(created_from=moment) == [door_failed.id, transfer.id]
    assert ids(created_to=moment) == [eur_deposit.id, padded.id, other_order.id, deposit.id]
    assert ids(created_from=moment, created_to=moment) == []
    # And nobody else's requests ever appear
    assert transfer.id not in [r.id for r in requests_page(
        stranger.user, RequestFilters(wallet_id=stranger.id), limit=50, after=None)]


def settled_failed(request: TransactionRequest) -> TransactionRequest:
    from payments import settle

    assert settle.settle(request.id) == settle.FAILED
    return reloaded(request)
