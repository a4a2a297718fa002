"""The rules for touching balances. Nothing outside this package writes Wallet.balance.

- Wallets are taken in ascending id order, so two settlements never wait on each
  other in a cycle.
- Every balance change is one version-checked UPDATE whose row count is checked:
  fewer rows than wallets means someone else got there first (VersionConflict), and
  the caller's whole transaction rolls back. `balance_update` builds that statement;
  the settlement sends it with its other writes as one compound statement (sqlbatch).
- After a conflict or two the caller asks for `for_update=True`, which takes the rows
  with SELECT ... FOR UPDATE in the same order, so a hot wallet cannot livelock.
"""
from locking.wallets import (
    STATE_COLUMNS,
    WalletState,
    balance_update,
    lock_order,
    read_wallets,
    state_columns,
)

__all__ = ["STATE_COLUMNS", "WalletState", "balance_update", "lock_order", "read_wallets",
           "state_columns"]
