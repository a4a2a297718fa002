"""Ledger entries: the one home of SQL writing the `transactions` table (a wallet's history
as its owner reads it, pages, balances at a moment and statements: ledger/history.py).

A request's entries are written in one INSERT, in the same transaction as the balances
and the request's outcome; a second INSERT for the same request fails on the unique
(request, wallet, type) key.
"""
from collections.abc import Sequence
from datetime import datetime

from ledger.posting import Entry
from locking.batch import Statement
from models import Transaction


def entries_insert(by_request: Sequence[tuple[int, Sequence[Entry]]], *,
                   now: datetime) -> Statement:
    """The one INSERT of the entries of every request of a settlement.

    Parameters:
      by_request: each request's id and its entries.

    Raises:
      ValueError: when a request's entries do not sum to zero (a bug; nothing is written).
    """
    for request_id, entries in by_request:
        if sum(e.amount for e in entries) != 0:
            raise ValueError(f"entries of request {request_id} do not balance")
    rows = ", ".join("(%s, %s, %s, %s, %s, %s, %s, %s)" for _, entries in by_request
                     for _ in entries)
    params = tuple(x for request_id, entries in by_request for e in entries for x in (
        request_id, e.wallet_id, e.type, e.amount, e.fee, e.balance_after,
        e.counterparty_wallet_id, now))
    return Statement("INSERT INTO transactions (request_id, wallet_id, type, amount, fee, "
                     f"balance_after, counterparty_wallet_id, created_at) VALUES {rows}", params)


def of_request(request_id: int) -> list[Transaction]:
    """A request's entries, in the order they were written."""
    return list(Transaction.select().where(Transaction.request == request_id)
                .order_by(Transaction.id))


def any_for(request_id: int) -> bool:
    """Whether a request has entries."""
    return Transaction.select().where(Transaction.request == request_id).exists()
