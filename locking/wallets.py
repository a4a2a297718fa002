"""Version-checked, ascending-order balance updates."""
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from errors import VersionConflict
from models import Wallet, db, utcnow


@dataclass(frozen=True)
class WalletState:
    """A wallet as read at the start of a settlement attempt."""

    id: int
    user_id: int | None
    currency: str
    balance: int
    version: int
    deleted_at: datetime | None
    created_at: datetime


def lock_order(ids: Iterable[int]) -> list[int]:
    """The order in which wallets are taken: ascending id, each once."""
    return sorted(set(ids))


def read_wallets(ids: Iterable[int], *, for_update: bool = False) -> dict[int, WalletState]:
    """Read wallets in lock order; with `for_update`, lock them until the transaction ends.

    Parameters:
      ids: the wallets a settlement touches.
      for_update: take row locks (the pessimistic path after repeated conflicts).

    Returns:
      The wallets found, by id (a missing id is simply absent).
    """
    query = (Wallet.select(Wallet.id, Wallet.user, Wallet.currency, Wallet.balance,
                           Wallet.version, Wallet.deleted_at, Wallet.created_at)
             .where(Wallet.id.in_(lock_order(ids))).order_by(Wallet.id).tuples())
    if for_update:
        query = query.for_update()
    return {row[0]: WalletState(*row) for row in query}


def apply_deltas(states: dict[int, WalletState], deltas: dict[int, int], *,
                 now: datetime | None = None) -> dict[int, int]:
    """Add `deltas` to the balances in one version-checked UPDATE.

    Must run inside `db.atomic()`; the caller has already checked funds.

    Parameters:
      states: the wallets as read by `read_wallets` in this transaction.
      deltas: the signed change per wallet id, in minor units.

    Returns:
      The balance of each wallet after the change.

    Raises:
      VersionConflict: when any wallet changed since it was read; nothing was applied.
    """
    ids = lock_order(deltas)
    now = now or utcnow()
    # One statement for all wallets: the primary-key scan takes them in ascending order.
    case = " ".join("WHEN %s THEN %s" for _ in ids)
    where = " OR ".join("(id = %s AND version = %s)" for _ in ids)
    params: list = [x for wid in ids for x in (wid, deltas[wid])]
    params.append(now)
    params += [x for wid in ids for x in (wid, states[wid].version)]
    cursor = db.execute_sql(
        f"UPDATE wallets SET balance = balance + CASE id {case} END, version = version + 1, "
        f"updated_at = %s WHERE {where}", params)
    if cursor.rowcount != len(ids):
        stale = next(iter(ids))
        raise VersionConflict(stale)
    return {wid: states[wid].balance + deltas[wid] for wid in ids}
