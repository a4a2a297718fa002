"""Closing wallets and deleting users: refused while money is in them, on its way, or held.

The rule spans accounts (the rows) and payments (the pending requests), so it lives
here, above both, in one transaction with the wallets locked FOR UPDATE: a settlement
touching one of them waits, then sees it closed.
"""
from accounts import users, wallets
from errors import WalletNotEmpty, WalletNotFound
from infra import wallet_cache
from models import User, db
from payments import holds, requests


def close_wallet(user: User, wallet_id: int) -> None:
    """Close an empty wallet of the caller with no pending request.

    Raises:
      WalletNotFound, WalletNotEmpty.
    """
    with db.atomic():
        locked = wallets.lock_live(user, [wallet_id])
        if not locked:
            raise WalletNotFound(f"No wallet {wallet_id}.")
        if locked[0].balance or requests.pending_for([wallet_id]) or \
                holds.any_open_on([wallet_id]):
            raise WalletNotEmpty("The wallet holds money, has a pending request or an "
                                 "active hold.")
        wallets.close([wallet_id])
    wallet_cache.refresh([wallet_id])


def delete_user(user: User) -> None:
    """Soft-delete a user and close its (empty) wallets.

    Raises:
      WalletNotEmpty: while any wallet holds money, has a pending request or a hold.
    """
    with db.atomic():
        locked = wallets.lock_live(user)
        ids = [w.id for w in locked]
        if any(w.balance for w in locked) or requests.pending_for(ids) or \
                holds.any_open_on(ids):
            raise WalletNotEmpty("Empty your wallets and wait for pending requests and "
                                 "active holds first.")
        wallets.close(ids)
        users.mark_deleted(user)
    wallet_cache.refresh(ids)
