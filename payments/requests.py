"""Every SQL statement on `transaction_requests`, in one home.

The door inserts a request `pending`; a settlement moves it to `succeeded` or `failed`,
only while it is still pending (the guard that makes a racing attempt roll back); the
sweeper and the ops page read it; a re-run puts a `retries_exhausted` one back. (The
caller's filtered list of its requests is payments/history.py.)
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import SQL, NodeList, Value, fn

from errors import AlreadySettled, RowChanged
from ledger.posting import EXPIRE, Outcome
from locking import STATE_COLUMNS, state_columns
from locking.batch import Statement
from models import (
    FAILED,
    PENDING,
    STATUSES,
    SUCCEEDED,
    Transaction,
    TransactionRequest,
    db,
    utcnow,
)
from payments.holds import HOLD_COLUMN_COUNT, HOLD_COLUMNS

INSERT_SQL = (
    "INSERT INTO transaction_requests (user_id, type, status, currency, amount, fee, "
    "wallet_id, to_wallet_id, hold_id, refund_of, capture_final, description, metadata, "
    "trace_id, sweeps, created_at) "
    "VALUES (%s, %s, 'pending', %s, %s, %s, %s, %s, {hold_id}, %s, %s, %s, %s, %s, 0, %s)")
# One round trip for requests, their wallets, the hold each acts on and the request each
# refunds; no locks: the version-checked update and the guarded status, hold and refunded
# changes are what make a settlement attempt safe. Each wallet is joined on its own
# primary key: joined as `w.id = r.wallet_id OR w.id = r.to_wallet_id` (or `IN (...)`),
# MariaDB read the whole wallets table for every request (575 ms a batch at 100,000).
READ_FOR_SETTLEMENT_SQL = (
    "SELECT r.id, r.user_id, r.type, r.status, r.currency, r.amount, r.fee, r.wallet_id, "
    "r.to_wallet_id, r.hold_id, r.refund_of, r.capture_final, r.created_at, r.description, "
    "r.metadata, r.refunded, "
    f"{state_columns('w')}, {state_columns('t')}, "
    f"{HOLD_COLUMNS}, o.id, o.amount - o.fee, o.refunded "
    "FROM transaction_requests r "
    "LEFT JOIN wallets w ON w.id = r.wallet_id "
    "LEFT JOIN wallets t ON t.id = r.to_wallet_id "
    "LEFT JOIN holds h ON h.id = r.hold_id "
    "LEFT JOIN transaction_requests o ON o.id = r.refund_of WHERE r.id IN ({ids})")
FACTS = slice(0, 16)
WALLET = slice(FACTS.stop, FACTS.stop + len(STATE_COLUMNS))
TO_WALLET = slice(WALLET.stop, WALLET.stop + len(STATE_COLUMNS))
HOLD = slice(TO_WALLET.stop, TO_WALLET.stop + HOLD_COLUMN_COUNT)
ORIGINAL = slice(HOLD.stop, HOLD.stop + 3)
# A refund's original: its total refunded grows only from what the attempt read.
REFUNDED_SQL = ("UPDATE transaction_requests SET refunded = CASE id {refunded} END "
                "WHERE {where}")
# Every outcome of a batch in one statement; `status = 'pending'` is the guard.
FINISH_SQL = ("UPDATE transaction_requests SET status = CASE id {status} END, "
              "failure_code = CASE id {code} END, failure_detail = CASE id {detail} END, "
              "completed_at = %s WHERE id IN ({ids}) AND status = 'pending'")
# Both answered from the (status, created_at) index.
COUNT_SQL = ("SELECT status, COUNT(*) FROM transaction_requests "
             "FORCE INDEX (requests_status_created) GROUP BY status")
OLDEST_SQL = "SELECT MIN(created_at) FROM transaction_requests WHERE status = 'pending'"
FAILURES_SHOWN = 20
MAX_SWEEP_GAP_S = 300


@dataclass(frozen=True)
class Facts:
    """A request's facts and status, as a settlement reads them."""

    id: int
    user_id: int
    type: str
    status: str
    currency: str
    amount: int
    fee: int
    wallet_id: int
    to_wallet_id: int | None
    hold_id: int | None = None
    refund_of: int | None = None
    capture_final: bool = False
    # What else the Request shows (its events carry it): when, what for, and for a transfer
    # or capture, how much of it was refunded so far.
    created_at: datetime | None = None
    description: str | None = None
    metadata: str | None = None  # JSON text
    refunded: int = 0


@dataclass(frozen=True)
class SettlementRead:
    """What one settlement read found: the requests (by id), and the rows of the wallets,
    holds and refunded originals they name (each once)."""

    facts: list[Facts]
    wallets: list[tuple]
    holds: list[tuple]
    originals: list[tuple]

    def wallet_ids(self) -> set[int]:
        return {w for f in self.facts for w in (f.wallet_id, f.to_wallet_id) if w is not None}


def insert(user_id: int, *, type: str, currency: str, amount: int, fee: int, wallet_id: int,
           to_wallet_id: int | None, trace_id: str | None, now: datetime,
           hold_id: int | str | None = None, refund_of: int | None = None,
           capture_final: bool = False, description: str | None = None,
           metadata: str | None = None) -> Statement:
    """The INSERT of a new pending request (run with its key's reservation: see door.py).

    Parameters:
      hold_id: the hold it acts on, or the name of the SQL variable that holds the id of a
        hold inserted just before it in the same statement (see holds.py).
      metadata: as JSON text, or None.
    """
    variable = isinstance(hold_id, str)
    params = (user_id, type, currency, amount, fee, wallet_id, to_wallet_id,
              *(() if variable else (hold_id,)), refund_of, capture_final, description,
              metadata, trace_id, now)
    return Statement(INSERT_SQL.format(hold_id=hold_id if variable else "%s"), params)


def by_id(request_id: int) -> TransactionRequest:
    return TransactionRequest.get_by_id(request_id)


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def for_settlement(request_ids: list[int]) -> SettlementRead:
    """The requests (those that exist) and the rows of the wallets (in WalletState's order),
    holds and originals they name, in one round trip; a missing one is simply absent."""
    rows = db.execute_sql(READ_FOR_SETTLEMENT_SQL.format(ids=_marks(len(request_ids))),
                          tuple(request_ids)).fetchall()
    return settlement_read(rows)


def settlement_read(rows: list[tuple]) -> SettlementRead:
    """A SettlementRead from the rows of READ_FOR_SETTLEMENT_SQL."""
    facts = {row[0]: Facts(*row[FACTS]) for row in rows}
    parts: list[dict[int, tuple]] = [{}, {}, {}]
    wallets, hold_rows, originals = parts
    for row in rows:
        for found, columns in ((wallets, WALLET), (wallets, TO_WALLET), (hold_rows, HOLD),
                               (originals, ORIGINAL)):
            if row[columns][0] is not None:
                found[row[columns][0]] = row[columns]
    return SettlementRead(sorted(facts.values(), key=lambda f: f.id),
                          *(list(found.values()) for found in parts))


def refunded_update(before: dict[int, int], after: dict[int, int]) -> Statement:
    """The change of originals' refunded totals, guarded by what the attempt read: it
    matches fewer rows (RowChanged) when a racing refund got there first."""
    ids = sorted(after)
    params: list[object] = [x for i in ids for x in (i, after[i])]
    params += [x for i in ids for x in (i, before[i])]
    return Statement(REFUNDED_SQL.format(refunded=" ".join(["WHEN %s THEN %s"] * len(ids)),
                                         where=" OR ".join(["(id = %s AND refunded = %s)"]
                                                           * len(ids))),
                     tuple(params), rows=len(ids),
                     mismatch=lambda: RowChanged(f"The refunded total of requests {ids}"))


def finish(outcomes: list[Outcome], *, now: datetime) -> Statement:
    """The move of every outcome's request out of `pending`, in one statement, guarded: it
    matches fewer rows (AlreadySettled) when something else settled one first. (An expiry
    is no request: its outcomes are left out.)"""
    outcomes = [o for o in outcomes if o.order.type != EXPIRE]
    when = " ".join(["WHEN %s THEN %s"] * len(outcomes))
    ids = [o.order.id for o in outcomes]
    params: list[object] = []
    for column in ("status", "code", "detail"):
        for outcome in outcomes:
            failure = outcome.failure
            value = (SUCCEEDED if failure is None else FAILED) if column == "status" else \
                (None if failure is None else failure.code) if column == "code" else \
                (None if failure is None or not failure.detail else failure.detail[:255])
            params += [outcome.order.id, value]
    return Statement(FINISH_SQL.format(status=when, code=when, detail=when,
                                       ids=_marks(len(ids))),
                     (*params, now, *ids), rows=len(ids),
                     mismatch=lambda: AlreadySettled(f"one of requests {ids}"))


def pending_for(wallet_ids: list[int]) -> bool:
    """Whether any pending request names one of these wallets, as payer or recipient."""
    if not wallet_ids:
        return False
    return TransactionRequest.select().where(
        (TransactionRequest.status == PENDING) &
        (TransactionRequest.wallet.in_(wallet_ids) |
         TransactionRequest.to_wallet.in_(wallet_ids))).exists()


# -- the sweeper ------------------------------------------------------------------------------
def stale(*, after_s: int, limit: int) -> list[TransactionRequest]:
    """Pending requests whose last send is older than their backoff allows: `after_s`
    seconds, doubling with each re-send, at most MAX_SWEEP_GAP_S."""
    gap = fn.LEAST(after_s * fn.POW(2, TransactionRequest.sweeps), MAX_SWEEP_GAP_S)
    last = fn.COALESCE(TransactionRequest.swept_at, TransactionRequest.created_at)
    return list(TransactionRequest.select(TransactionRequest.id, TransactionRequest.type,
                                          TransactionRequest.sweeps,
                                          TransactionRequest.created_at)
                .where((TransactionRequest.status == PENDING) &
                       # A NodeList, not SQL(..., [gap]): SQL params are values, and
                       # an expression passed as one was rendered after the text.
                       (last < NodeList((Value(utcnow()), SQL("- INTERVAL"), gap,
                                         SQL("SECOND")))))
                .order_by(TransactionRequest.id).limit(limit))


def mark_swept(request_id: int) -> None:
    TransactionRequest.update(sweeps=TransactionRequest.sweeps + 1, swept_at=utcnow()) \
        .where(TransactionRequest.id == request_id).execute()


# -- the ops page ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Stats:
    """How many requests are in each status, and since when the oldest pending one waits."""

    by_status: dict[str, int]
    oldest_pending_at: datetime | None

    def oldest_pending_age_s(self, now: datetime) -> float:
        """Seconds the oldest pending request has waited (0 when none waits)."""
        if self.oldest_pending_at is None:
            return 0.0
        return max((now - self.oldest_pending_at).total_seconds(), 0.0)


def stats() -> Stats:
    """Counts per status (an index-only scan) and the oldest pending request's creation."""
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(db.execute_sql(COUNT_SQL).fetchall())
    return Stats(counts, db.execute_sql(OLDEST_SQL).fetchone()[0])


def latest_failures(limit: int = FAILURES_SHOWN) -> list[TransactionRequest]:
    """The most recently created failed requests, newest first."""
    return list(TransactionRequest.select()
                .where(TransactionRequest.status == FAILED)
                .order_by(TransactionRequest.created_at.desc(), TransactionRequest.id.desc())
                .limit(limit))


def reopen(request_id: int, *, failure_code: str) -> bool:
    """Put a request `failed` with `failure_code` and without entries back to `pending`, in
    one statement that checks all three (so two operators at once reopen it once).

    Returns:
      Whether it was reopened.
    """
    no_entries = ~fn.EXISTS(Transaction.select(SQL("1")).where(Transaction.request == request_id))
    now = utcnow()
    return (TransactionRequest
            .update(status=PENDING, failure_code=None, failure_detail=None, completed_at=None,
                    sweeps=0, swept_at=now)
            .where((TransactionRequest.id == request_id) & (TransactionRequest.status == FAILED)
                   & (TransactionRequest.failure_code == failure_code) & no_entries)
            .execute()) == 1


def older_than(seconds: int) -> datetime:
    return utcnow() - timedelta(seconds=seconds)
