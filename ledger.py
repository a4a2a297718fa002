"""The ledger: balanced entries per request, against per-currency system accounts.

System accounts ("external" for money entering or leaving the service, "fees") are
wallet rows without an owner whose balance column is never updated: they are hot,
so their balance is the sum of their entries and nothing ever locks them.
"""
from dataclasses import dataclass

from models import Wallet
from sqlbatch import Statement

EXTERNAL, FEES = "external", "fees"
_system_ids: dict[tuple[str, str], int] = {}


@dataclass(frozen=True)
class Entry:
    """One line of a request's entries, before it is written."""

    wallet_id: int
    type: str
    amount: int
    fee: int = 0
    balance_after: int | None = None
    counterparty_wallet_id: int | None = None


def system_wallet_id(kind: str, currency: str) -> int:
    """The id of the system account `kind` in `currency`, created on first use."""
    key = (kind, currency)
    if key not in _system_ids:
        system_key = f"{kind}:{currency}"
        Wallet.insert(user=None, currency=currency, system_key=system_key) \
            .on_conflict_ignore().execute()
        _system_ids[key] = Wallet.get(Wallet.system_key == system_key).id
    return _system_ids[key]


def entries_insert(request_id: int, entries: list[Entry], *, now) -> Statement:
    """The one INSERT of a request's entries (a second one for the same request fails on
    the unique (request, wallet, type) key).

    Raises:
      ValueError: when the entries do not sum to zero (a bug; nothing is written).
    """
    if sum(e.amount for e in entries) != 0:
        raise ValueError(f"entries of request {request_id} do not balance")
    rows = ", ".join("(%s, %s, %s, %s, %s, %s, %s, %s)" for _ in entries)
    params = tuple(x for e in entries for x in (
        request_id, e.wallet_id, e.type, e.amount, e.fee, e.balance_after,
        e.counterparty_wallet_id, now))
    return Statement("INSERT INTO transactions (request_id, wallet_id, type, amount, fee, "
                     f"balance_after, counterparty_wallet_id, created_at) VALUES {rows}", params)
