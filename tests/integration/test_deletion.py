"""Closing a wallet or deleting a user waits for every request that names its wallets.

A wallet can be empty while money is on its way in or out: a pending deposit, or a
transfer someone else sent to it. Closing it then would fail that request after the
sender was told it was accepted, so both deletions are refused until nothing is pending.
"""
import pytest

from errors import WalletNotEmpty
from models import User, Wallet
from payments import closing, settle
from tests.integration.factories import accept, accept_transfer, new_wallet, reloaded, settled


def live(row) -> bool:
    return reloaded(row).deleted_at is None


def pending_into(wallet: Wallet, how: str):
    """A request still pending that moves money into the (empty) wallet."""
    if how == "its own deposit":
        return accept(wallet, "deposit", "10.00")
    sender = new_wallet()
    settled(accept(sender, "deposit", "20.00"))
    return accept_transfer(sender, wallet, "10.00")


@pytest.mark.parametrize("how", ["its own deposit", "a transfer from someone else"])
def test_an_empty_wallet_with_a_pending_request_cannot_be_closed(how):
    # Given an empty wallet with money on its way in
    wallet = new_wallet()
    request = pending_into(wallet, how)

    # When its owner closes it, Then it is refused and the wallet stays open
    with pytest.raises(WalletNotEmpty):
        closing.close_wallet(wallet.user, wallet.id)
    assert live(wallet) and reloaded(request).status == "pending"

    # And once the request has settled, the money arrives in the still-open wallet
    assert settle.settle(request.id) == settle.SUCCEEDED
    assert reloaded(wallet).balance > 0


@pytest.mark.parametrize("how", ["its own deposit", "a transfer from someone else"])
def test_a_user_whose_empty_wallet_has_a_pending_request_cannot_be_deleted(how):
    # Given a user whose only wallet is empty, with money on its way in
    wallet = new_wallet()
    request = pending_into(wallet, how)

    # When the user is deleted, Then it is refused, and the user and wallet stay
    with pytest.raises(WalletNotEmpty):
        closing.delete_user(wallet.user)
    assert live(wallet) and reloaded(wallet.user).deleted_at is None
    assert settle.settle(request.id) == settle.SUCCEEDED


def test_once_nothing_is_pending_an_empty_wallet_closes_and_its_user_can_be_deleted():
    # Given a wallet whose deposit failed (nothing pending, nothing held)
    wallet = new_wallet()
    request = accept(wallet, "deposit", "10.00")
    assert settle.give_up(request.id, detail="Gave up after 20 retries.")

    # When it is closed and its user deleted, Then both go
    closing.close_wallet(wallet.user, wallet.id)
    closing.delete_user(User.get_by_id(wallet.user_id))
    assert not live(wallet) and reloaded(wallet.user).deleted_at is not None
