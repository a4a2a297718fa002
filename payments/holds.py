"""Every SQL statement on `holds`, in one home.

The door inserts a hold `pending` with its request (one compound statement); a settlement
changes its status and captured total with an update guarded by what it read (so a capture,
a void and an expiry that race change it once); the expiry finds the holds whose time is
up; the API reads them, one or a page, for either party.
"""
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import SimpleNamespace

import orjson

from accounts import resources, users
from errors import RowChanged
from ledger.posting import ACTIVE, Hold
from locking import STATE_COLUMNS, state_columns
from locking.batch import Statement
from models import PENDING, User, db, newest_first
from models import Hold as HoldRow

# The id of the hold inserted by `insert_pending`, for the statements after it.
NEW_HOLD_ID = "@new_hold_id"
INSERT_SQL = (
    "INSERT INTO holds (user_id, wallet_id, to_wallet_id, to_user_id, currency, amount, "
    "captured, status, expires_at, description, metadata, created_at, updated_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, 0, 'pending', %s, %s, %s, %s, %s)")
UPDATE_SQL = ("UPDATE holds SET status = CASE id {status} END, "
              "captured = CASE id {captured} END, updated_at = %s WHERE {where}")
# Served by the (status, expires_at) index.
DUE_SQL = ("SELECT id FROM holds WHERE status = 'active' AND expires_at <= %s "
           "ORDER BY expires_at LIMIT %s")
# A hold as the API reads it (raw SQL: it is read with its caller in one query, see
# caller_and_hold).
BY_ID_SQL = f"SELECT {HoldRow.columns('h')} FROM holds h WHERE h.id = %s"
CALLER_AND_HOLD_SQL = users.USER_WITH.format(rows=BY_ID_SQL)
# A hold as a settlement reads it: what the rules need (as_rule_sees), then what the Hold
# shows besides (an event carries it).
HOLD_COLUMNS = ("h.id, h.user_id, h.wallet_id, h.to_wallet_id, h.currency, h.amount, "
                "h.captured, h.status, h.to_user_id, h.expires_at, h.request_id, "
                "h.created_at, h.description, h.metadata")
HOLD_COLUMN_COUNT = 14
# The expiry's read: the holds and the wallets they name, in WalletState's order (each
# wallet joined on its own primary key: see requests.READ_FOR_SETTLEMENT_SQL).
WALLET = slice(HOLD_COLUMN_COUNT, HOLD_COLUMN_COUNT + len(STATE_COLUMNS))
TO_WALLET = slice(WALLET.stop, WALLET.stop + len(STATE_COLUMNS))
READ_FOR_EXPIRY_SQL = (
    f"SELECT {HOLD_COLUMNS}, {state_columns('w')}, {state_columns('t')} "
    "FROM holds h JOIN wallets w ON w.id = h.wallet_id "
    "LEFT JOIN wallets t ON t.id = h.to_wallet_id "
    "WHERE h.id IN ({ids})")


def insert_pending(*, user_id: int, wallet_id: int, to_wallet_id: int | None,
                   to_user_id: int | None, currency: str, amount: int, expires_at: datetime,
                   description: str | None, metadata: str | None,
                   now: datetime) -> list[Statement]:
    """The INSERT of a new pending hold, then its id kept in NEW_HOLD_ID for the request's
    INSERT that follows; `attach_request` then names the request on the hold."""
    return [Statement(INSERT_SQL, (user_id, wallet_id, to_wallet_id, to_user_id, currency,
                                   amount, expires_at, description, metadata, now, now)),
            Statement(f"SET {NEW_HOLD_ID} = LAST_INSERT_ID()")]


def attach_request() -> Statement:
    """Name the request just inserted (LAST_INSERT_ID()) on the hold inserted before it."""
    return Statement(f"UPDATE holds SET request_id = LAST_INSERT_ID() WHERE id = {NEW_HOLD_ID}",
                     rows=1, mismatch=lambda: RowChanged("The new hold"))


def shown(row: tuple, after: Hold, *, now: datetime) -> dict:
    """The Hold as an event shows it: `row` as read (HOLD_COLUMNS), changed to `after`."""
    extras = dict(zip(("expires_at", "request_id", "created_at", "description", "metadata"),
                      row[9:HOLD_COLUMN_COUNT], strict=True))
    if isinstance(extras["metadata"], str):
        extras["metadata"] = orjson.loads(extras["metadata"])
    return resources.hold(SimpleNamespace(
        id=after.id, wallet_id=after.wallet_id, to_wallet_id=after.to_wallet_id,
        currency=after.currency, amount=after.amount, captured=after.captured,
        status=after.status, updated_at=now, **extras))


def as_rule_sees(row: tuple, *, now: datetime) -> Hold:
    """A hold row (id, user_id, wallet_id, to_wallet_id, currency, amount, captured, status,
    to_user_id, expires_at, ...) as the posting rules see it at `now`."""
    id, user_id, wallet_id, to_wallet_id, currency, amount, captured, status, to_user_id, \
        expires_at = row[:10]
    return Hold(id, user_id, wallet_id, to_wallet_id, currency, amount, captured, status,
                to_user_id, expired=expires_at <= now)


def update(before: Mapping[int, Hold], after: Mapping[int, Hold], *,
           now: datetime) -> Statement:
    """The change of every hold an attempt decided, guarded by the status and captured total
    it read: it matches fewer rows (RowChanged) when a racing attempt changed one first."""
    ids = sorted(after)
    when = " ".join(["WHEN %s THEN %s"] * len(ids))
    params: list[object] = [x for i in ids for x in (i, after[i].status)]
    params += [x for i in ids for x in (i, after[i].captured)]
    params.append(now)
    params += [x for i in ids for x in (i, before[i].status, before[i].captured)]
    where = " OR ".join(["(id = %s AND status = %s AND captured = %s)"] * len(ids))
    return Statement(UPDATE_SQL.format(status=when, captured=when, where=where),
                     tuple(params), rows=len(ids),
                     mismatch=lambda: RowChanged(f"One of holds {ids}"))


def due(*, now: datetime, limit: int) -> list[int]:
    """Ids of active holds whose time is up, the longest overdue first."""
    return [row[0] for row in db.execute_sql(DUE_SQL, (now, limit)).fetchall()]


def for_expiry(hold_ids: list[int]) -> tuple[list[tuple], list[tuple]]:
    """The rows of these holds and of the wallets they name (each once)."""
    rows = db.execute_sql(READ_FOR_EXPIRY_SQL.format(ids=", ".join(["%s"] * len(hold_ids))),
                          tuple(hold_ids)).fetchall()
    holds = {row[0]: row[:HOLD_COLUMN_COUNT] for row in rows}
    wallets = {row[columns][0]: row[columns] for row in rows for columns in (WALLET, TO_WALLET)
               if row[columns][0] is not None}
    return list(holds.values()), list(wallets.values())


def by_id(hold_id: int) -> HoldRow | None:
    """Hold `hold_id`, read afresh."""
    row = db.execute_sql(BY_ID_SQL, (hold_id,)).fetchone()
    return None if row is None else HoldRow.from_row(row)


def caller_and_hold(token: str, hold_id: int) -> tuple[User, dict[int, HoldRow]]:
    """`accounts.users.user_for_token(token)` and `by_id(hold_id)` in one query.

    Returns:
      The user, and the hold by its id ({} when there is none), for `of_party`.

    Raises:
      Unauthorized: as user_for_token.
    """
    return users.user_with(token, CALLER_AND_HOLD_SQL, (hold_id,), HoldRow.from_row)


def of_party(user_id: int, hold_id: int,
             found: dict[int, HoldRow] | None = None) -> HoldRow | None:
    """Hold `hold_id` if the user is its payer or its recipient.

    Parameters:
      found: caller_and_hold's answer, if the caller already has it; else read here.
    """
    hold = by_id(hold_id) if found is None else found.get(hold_id)
    return hold if hold is not None and user_id in (hold.user_id, hold.to_user_id) else None


def any_open_on(wallet_ids: Iterable[int]) -> bool:
    """Whether a pending or active hold reserves money of one of these wallets."""
    ids = list(wallet_ids)
    return bool(ids) and HoldRow.select().where(
        HoldRow.wallet_id.in_(ids) & HoldRow.status.in_((PENDING, ACTIVE))).exists()


def page_of(user_id: int, *, status: str | None, wallet_id: int | None, limit: int,
            after: int | None) -> list[HoldRow]:
    """A page of the holds the user is party to (or, with `wallet_id`, that name that
    wallet of theirs), all or of one status, newest first.

    Payer and recipient sides are read through their own (owner, id) indexes and merged,
    so each side is a keyset scan rather than an OR no index serves.
    """
    if wallet_id is not None:
        sides = [(HoldRow.wallet_id == wallet_id, "holds_wallet_id"),
                 (HoldRow.to_wallet_id == wallet_id, "holds_to_wallet_id")]
    else:
        sides = [(HoldRow.user_id == user_id, "holds_user_status" if status else "holds_user_id"),
                 (HoldRow.to_user_id == user_id,
                  "holds_to_user_status" if status else "holds_to_user_id")]
    found: dict[int, HoldRow] = {}
    for where, index in sides:
        query = HoldRow.select().where(where)
        if status is not None:
            query = query.where(HoldRow.status == status)
        for row in newest_first(query, HoldRow.id, index=index, limit=limit, after=after):
            found[row.id] = row
    return sorted(found.values(), key=lambda row: -row.id)[:limit + 1]

