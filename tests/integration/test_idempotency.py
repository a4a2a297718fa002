"""Idempotency keys at the door: a key answers only the very call that first used it.

Each case is run twice: with Redis remembering the key (the fast path), and with Redis
having forgotten it, so only the database's unique key and stored fingerprint can tell.
"""
import pytest

from accounts import wallets
from errors import IdempotencyKeyReused
from infra import cache
from models import IdempotencyKey, TransactionRequest, Wallet
from payments import door
from tests.helpers import unique
from tests.integration.factories import accept, accept_transfer, new_user, new_wallet, settled

REMEMBERED_BY = ["redis", "the database only"]


def forget_in_redis(user_id: int, key: str, remembered_by: str) -> None:
    if remembered_by == "the database only":
        cache.drop(f"idem:{user_id}:{key}")


def requests_with(user_id: int, key: str) -> list[TransactionRequest]:
    """The requests `key` made (through the one table that reserves keys)."""
    return list(TransactionRequest.select().join(
        IdempotencyKey, on=(IdempotencyKey.request == TransactionRequest.id)).where(
        (IdempotencyKey.user == user_id) & (IdempotencyKey.idempotency_key == key)))


@pytest.mark.parametrize("remembered_by", REMEMBERED_BY)
def test_the_same_call_with_the_same_key_replays_the_first_request(remembered_by):
    # Given a deposit accepted with a key
    wallet = new_wallet()
    key = unique("k")
    first = accept(wallet, "deposit", "10.00", key=key)
    forget_in_redis(wallet.user_id, key, remembered_by)

    # When the very same call is made again ("10" is the same amount as "10.00")
    again, replayed = door.accept(wallet.user, kind="deposit", key=key, amount="10",
                                      wallet_id=wallet.id)

    # Then it is the first request, replayed
    assert replayed and again.id == first.id
    assert [r.id for r in requests_with(wallet.user_id, key)] == [first.id]
    settled(first)  # leave nothing pending


@pytest.mark.parametrize("remembered_by", REMEMBERED_BY)
def test_a_deposits_key_sent_with_a_withdrawal_of_the_same_amount_is_refused(remembered_by):
    # Given a settled deposit of 50.00 made with a key
    wallet = new_wallet()
    key = unique("k")
    deposit = settled(accept(wallet, "deposit", "50.00", key=key))
    forget_in_redis(wallet.user_id, key, remembered_by)

    # When a withdrawal of 50.00 on the same wallet is sent with that key
    with pytest.raises(IdempotencyKeyReused):
        door.accept(wallet.user, kind="withdrawal", key=key, amount="50.00",
                        wallet_id=wallet.id)

    # Then it is refused, not answered with the deposit, and nothing new is recorded
    assert [(r.id, r.type) for r in requests_with(wallet.user_id, key)] == \
        [(deposit.id, "deposit")]


@pytest.mark.parametrize("remembered_by", REMEMBERED_BY)
def test_a_deposits_key_sent_for_another_wallet_of_the_same_user_is_refused(remembered_by):
    # Given a deposit on the user's USD wallet made with a key
    usd = new_wallet()
    eur = new_wallet(usd.user, "EUR")
    key = unique("k")
    deposit = accept(usd, "deposit", "5.00", key=key)
    forget_in_redis(usd.user_id, key, remembered_by)

    # When the same body is sent with that key to the EUR wallet, Then it is refused
    with pytest.raises(IdempotencyKeyReused):
        door.accept(usd.user, kind="deposit", key=key, amount="5.00", wallet_id=eur.id)
    assert [r.wallet_id for r in requests_with(usd.user_id, key)] == [usd.id]
    settled(deposit)  # leave nothing pending


@pytest.mark.parametrize("remembered_by", REMEMBERED_BY)
def test_a_transfers_key_sent_to_another_recipient_is_refused(remembered_by):
    # Given a settled transfer of 5.00 from Ada to Bob made with a key
    ada, bob, carol = new_wallet(), new_wallet(), new_wallet()
    settled(accept(ada, "deposit", "100.00"))
    key = unique("k")
    sent = settled(accept_transfer(ada, bob, "5.00", key=key))
    forget_in_redis(ada.user_id, key, remembered_by)

    # When the same key is sent with 5.00 to Carol instead
    with pytest.raises(IdempotencyKeyReused):
        door.accept_transfer(ada.user, key=key, from_wallet_id=ada.id,
        to_wallet_id=carol.id, amount="5.00")

    # Then it is refused: Carol is not told her transfer went through, nothing new is made
    assert [(r.id, r.to_wallet_id) for r in requests_with(ada.user_id, key)] == \
        [(sent.id, bob.id)]


def test_a_key_that_made_a_money_request_cannot_open_a_wallet():
    # Given a deposit accepted with a key
    wallet = new_wallet()
    key = unique("k")
    deposit = accept(wallet, "deposit", "1.00", key=key)

    # When the user opens a EUR wallet with that key, Then it is refused and none is opened
    with pytest.raises(IdempotencyKeyReused):
        wallets.create_wallet(wallet.user, currency="EUR", key=key)
    assert not Wallet.select().where((Wallet.user == wallet.user_id) &
                                     (Wallet.currency == "EUR")).exists()
    settled(deposit)  # leave nothing pending


def test_a_key_that_opened_a_wallet_cannot_make_a_money_request():
    # Given a wallet opened with a key
    user = new_user()
    key = unique("k")
    wallet, _ = wallets.create_wallet(user, currency="USD", key=key)

    # When a deposit is sent with that key, Then it is refused and nothing is recorded
    with pytest.raises(IdempotencyKeyReused):
        door.accept(user, kind="deposit", key=key, amount="1.00", wallet_id=wallet.id)
    assert requests_with(user.id, key) == []
