"""Closing wallets and deleting users: refused while money is in them or on its way.

The rule spans accounts (the rows) and payments (the pending requests), so it lives
here, above both, in one transaction with the wallets locked FOR UPDATE: a settlement
touching one of them waits, then sees it closed.
"""
from accounts import users, wallets
from errors import WalletNotEmpty, WalletNotFound
from infra import wallet_cache
from models import User, db
from payments import requests


def close_wallet(user: User, wallet_id: int) -> None:
    """Close an empty wallet of the caller with no pending request.

    Raises:
      WalletNotFound, WalletNotEmpty.
    """
    with db.atomic():
        locked = wallets.lock_live(user, [wallet_id])
        if not locked:
            raise WalletNotFound(f"No wallet {wallet_id}.")
        if locked[0].balance or requests.pending_for([wallet_id]):
            raise WalletNotEmpty("The wallet holds money or has a pending request.")
        wallets.close([wallet_id])
    wallet_cache.refresh([wallet_id])


def delete_user(user: User) -> None:
    """Soft-delete a user and close its (empty) wallets.

    Raises:
      WalletNotEmpty: while any wallet holds money or has a pending request.
    """
    with db.atomic():
        locked = wallets.lock_live(user)
        ids = [w.id for w in locked]
        if any(w.balance for w in locked) or requests.pending_for(ids):
            raise WalletNotEmpty("Empty your wallets and wait for pending requests first.")
        wallets.close(ids)
        users.mark_deleted(user)
    wallet_cache.refresh(ids)
