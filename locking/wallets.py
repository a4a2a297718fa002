"""Version-checked, ascending-order balance updates."""
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from errors import VersionConflict
from locking.batch import Statement
from models import Wallet


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
    held: int = 0


# WalletState's fields, in order: what a read selects for it.
STATE_COLUMNS = ("id", "user_id", "currency", "balance", "version", "deleted_at", "created_at",
                 "held")


def state_columns(alias: str) -> str:
    """The SELECT list of a WalletState read from the wallets row `alias` of a join."""
    return ", ".join(f"{alias}.{column}" for column in STATE_COLUMNS)


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
                           Wallet.version, Wallet.deleted_at, Wallet.created_at, Wallet.held)
             .where(Wallet.id.in_(lock_order(ids))).order_by(Wallet.id).tuples())
    if for_update:
        query = query.for_update()
    return {row[0]: WalletState(*row) for row in cast(Iterable[tuple], query)}


def balance_update(states: dict[int, WalletState], deltas: dict[int, int], *,
                   now: datetime, held: dict[int, int] | None = None) -> Statement:
    """The one version-checked UPDATE that adds `deltas` to the balances, and `held` to the
    held amounts (what active holds reserve: state of the wallet like its balance).

    Run it (see locking/batch.py) inside the transaction that read `states`; the caller
    has already checked funds (the posting rules did).

    Parameters:
      states: the wallets as read at the start of the attempt.
      deltas: the signed change of the balance per wallet id, in minor units.
      held: the signed change of the held amount per wallet id.

    Returns:
      The statement, which raises VersionConflict unless it changes every wallet.
    """
    held = held or {}
    ids = lock_order([*deltas, *held])
    # One statement for all wallets: the primary-key scan takes them in ascending order.
    case = " ".join("WHEN %s THEN %s" for _ in ids)
    where = " OR ".join("(id = %s AND version = %s)" for _ in ids)
    params: list[object] = [x for wid in ids for x in (wid, deltas.get(wid, 0))]
    changes = "balance = balance + CASE id {case} END"
    if held:
        params += [x for wid in ids for x in (wid, held.get(wid, 0))]
        changes += ", held = held + CASE id {case} END"
    params.append(now)
    params += [x for wid in ids for x in (wid, states[wid].version)]
    return Statement(
        f"UPDATE wallets SET {changes.format(case=case)}, version = version + 1, "
        f"updated_at = %s WHERE {where}", tuple(params), rows=len(ids),
        mismatch=lambda: VersionConflict(ids[0]))
