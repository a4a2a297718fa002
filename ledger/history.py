"""A wallet's history as its owner reads it: pages of entries (filtered), the balance at a
moment, and statements over a period. Reads only; raw SQL, since a statement may stream a
year of entries and building each row through the ORM would cost more than the query.

Order in time is (created_at, id): a wallet's entries are written under its row's lock, so
within one wallet a later id is a later (or the same) moment, and each entry's
`balance_after` is the wallet's balance once it and every entry before it were applied.
So the balance at a moment is the `balance_after` of the last entry at or before it (one
index probe on (wallet_id, created_at, id), however long the history), and a statement's
closing balance is its opening balance plus the sum of the entries it lists, counted over
exactly the rows it streams (those up to the last id seen when it began).
"""
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from models import db

# Entries of a user wallet, as its Transactions show them; each with its request's
# description (both sides of a transfer show the one the sender gave).
COLUMNS = ("t.id, t.request_id, t.type, t.amount, t.fee, t.balance_after, "
           "t.counterparty_wallet_id, t.created_at, r.description")
JOIN = "LEFT JOIN transaction_requests r ON r.id = t.request_id"
PAGE_SQL = (f"SELECT {COLUMNS} FROM transactions t FORCE INDEX ({{index}}) {JOIN} "
            "WHERE t.wallet_id = %s{where} ORDER BY t.id DESC LIMIT %s")
BALANCE_AT_SQL = ("SELECT balance_after FROM transactions FORCE INDEX (entries_wallet_created) "
                  "WHERE wallet_id = %s AND created_at <= %s "
                  "ORDER BY created_at DESC, id DESC LIMIT 1")
OPENING_SQL = ("SELECT balance_after FROM transactions FORCE INDEX (entries_wallet_created) "
               "WHERE wallet_id = %s AND created_at < %s "
               "ORDER BY created_at DESC, id DESC LIMIT 1")
PERIOD_SQL = ("SELECT COALESCE(SUM(amount), 0), COUNT(*), COALESCE(MAX(id), 0) "
              "FROM transactions FORCE INDEX (entries_wallet_created) "
              "WHERE wallet_id = %s AND created_at >= %s AND created_at < %s")
# One chunk of a statement, resuming after the last (created_at, id) sent.
CHUNK_SQL = (f"SELECT {COLUMNS} FROM transactions t FORCE INDEX (entries_wallet_created) "
             f"{JOIN} WHERE t.wallet_id = %s AND t.created_at < %s AND t.id <= %s "
             "AND (t.created_at > %s OR (t.created_at = %s AND t.id > %s)) "
             "ORDER BY t.created_at, t.id LIMIT %s")
CHUNK_ROWS = 1000
# MariaDB's DATETIME range: moments outside it are clamped (no entry is outside it).
EARLIEST, LATEST = datetime(1000, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)


class Line(NamedTuple):
    """One entry of a wallet as its history shows it (a Transaction)."""

    id: int
    request_id: int
    type: str
    amount: int
    fee: int
    balance_after: int
    counterparty_wallet_id: int | None
    created_at: datetime
    description: str | None


@dataclass(frozen=True)
class EntryFilters:
    """What a page of a wallet's entries is limited to (None: no limit)."""

    type: str | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive

    def key(self) -> str:
        """A stable text naming these filters (for cursor scopes and cache keys)."""
        return "|".join("" if v is None else str(v) for v in
                        (self.type, self.created_from, self.created_to))


def clamp(moment: datetime) -> datetime:
    """`moment` within what a DATETIME column holds."""
    return min(max(moment, EARLIEST), LATEST)


def page_of(wallet_id: int, filters: EntryFilters, *, limit: int,
            after: int | None) -> list[Line]:
    """A page of a wallet's entries, newest first (id descending), after the cursor's id:
    `limit` + 1 rows tell of a next page.

    The index is the one that serves the filters: (wallet_id, type, id) for a type alone,
    (wallet_id, created_at, id) for a period, else (wallet_id, id).
    """
    where: list[str] = []
    params: list[object] = [wallet_id]
    if filters.type is not None:
        where.append("t.type = %s")
        params.append(filters.type)
    if filters.created_from is not None:
        where.append("t.created_at >= %s")
        params.append(clamp(filters.created_from))
    if filters.created_to is not None:
        where.append("t.created_at < %s")
        params.append(clamp(filters.created_to))
    if after is not None:
        where.append("t.id < %s")
        params.append(after)
    period = filters.created_from is not None or filters.created_to is not None
    index = "entries_wallet_created" if period else \
        "entries_wallet_type" if filters.type is not None else "entries_wallet_id"
    sql = PAGE_SQL.format(index=index, where="".join(" AND " + w for w in where))
    rows = db.execute_sql(sql, (*params, limit + 1)).fetchall()
    return [Line(*row) for row in rows]


def balance_at(wallet_id: int, at: datetime) -> int:
    """The wallet's ledger balance once every entry created at or before `at` was applied
    (0 before its first entry)."""
    row = db.execute_sql(BALANCE_AT_SQL, (wallet_id, clamp(at))).fetchone()
    return row[0] if row else 0


@dataclass(frozen=True)
class Period:
    """A statement's figures: the balances around [start, end) and how far it reaches."""

    start: datetime
    end: datetime
    opening: int
    closing: int
    count: int
    last_id: int  # the largest entry id it lists (0 when none)


def period(wallet_id: int, start: datetime, end: datetime) -> Period:
    """The opening balance before `start`, and the sum, count and last id of the entries
    in [start, end): the closing balance is the opening plus that sum, and `entries` later
    streams exactly those entries (a later entry of the wallet has a larger id)."""
    row = db.execute_sql(OPENING_SQL, (wallet_id, clamp(start))).fetchone()
    opening = row[0] if row else 0
    total, count, last_id = db.execute_sql(PERIOD_SQL, (wallet_id, clamp(start),
                                                        clamp(end))).fetchone()
    return Period(start, end, opening, opening + int(total), count, last_id)


def entries(wallet_id: int, span: Period, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[Line]:
    """The entries of a statement, oldest first, read `chunk_rows` at a time (so a year of
    them never sits in memory), up to the period's last id."""
    if span.count == 0:
        return
    last_at, last_id, end = clamp(span.start), 0, clamp(span.end)
    while True:
        rows = db.execute_sql(CHUNK_SQL, (wallet_id, end, span.last_id, last_at, last_at,
                                          last_id, chunk_rows)).fetchall()
        for row in rows:
            yield Line(*row)
        if len(rows) < chunk_rows:
            return
        last_at, last_id = rows[-1][7], rows[-1][0]
