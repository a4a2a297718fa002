"""Wallets: idempotent creation, reads through the versioned cache, the door's lookup, and
closing (whose money rule, no pending request, is checked by payments/closing.py).

Balances are written only by locking/; this module never touches one.
"""
from collections.abc import Iterable
from dataclasses import dataclass

import peewee

from accounts import events, notifications, resources
from errors import WalletExists, WalletNotFound
from infra import idempotency, wallet_cache
from models import User, Wallet, db, utcnow
from money import parse_currency

ENDPOINT = "POST /v1/wallets"
# The door's one query: the live user wallets named. Raw SQL: this runs on every money
# request, and building it through peewee cost more CPU than the query itself.
DOOR_SQL = ("SELECT id, user_id, currency FROM wallets WHERE id IN (%s, %s) "
            "AND deleted_at IS NULL AND user_id IS NOT NULL")


@dataclass(frozen=True)
class DoorWallet:
    """A live user wallet, as the door checks a request against it."""

    id: int
    user_id: int
    currency: str


def create_wallet(user: User, *, currency: object, key: str) -> tuple[Wallet, bool]:
    """Open the caller's wallet in `currency`, at most once per Idempotency-Key.

    Returns:
      The wallet, and whether this call replayed an earlier one.

    Raises:
      UnsupportedCurrency, WalletExists, IdempotencyKeyReused.
    """
    currency = parse_currency(currency)
    fingerprint = idempotency.fingerprint(ENDPOINT, {"currency": currency})
    earlier = idempotency.earlier_wallet(user.id, key, fingerprint)
    if earlier is not None:
        return Wallet.get_by_id(earlier), True
    try:
        with db.atomic():
            # One timestamp for both, so the 201 (updated_at = created_at) matches a later GET.
            now = utcnow()
            wallet = Wallet.create(user=user, currency=currency, created_at=now, updated_at=now)
            idempotency.reserve_for_wallet(user.id, key, fingerprint, wallet.id)
            notifications.wallet_opened(user_id=user.id, wallet_id=wallet.id, currency=currency)
            events.record(user.id, events.WALLET_CREATED,
                          resources.wallet(wallet_cache.state_of(wallet)))
    except peewee.IntegrityError:
        # Either a concurrent call with the same key won (replay it, or refuse it if it was
        # another endpoint's), or another key already opened this currency (one live wallet
        # per user and currency).
        earlier = idempotency.earlier_wallet(user.id, key, fingerprint)
        if earlier is not None:
            return Wallet.get_by_id(earlier), True
        raise WalletExists(f"You already have a {currency} wallet.") from None
    return wallet, False


def live_wallets(user: User) -> list[dict]:
    """The caller's live wallets, oldest first, read from the database."""
    return [wallet_cache.state_of(w) for w in Wallet.select().where(
        (Wallet.user == user) & Wallet.deleted_at.is_null()).order_by(Wallet.id)]


def get_wallet(user: User, wallet_id: int) -> dict:
    """The caller's live wallet, from the cache when it has it (see wallet_cache).

    Raises:
      WalletNotFound: also for someone else's or a closed wallet, so ids leak nothing.
    """
    state = wallet_cache.fetch(wallet_id)
    if state is None:
        row = Wallet.get_or_none(Wallet.id == wallet_id)
        if row is not None:
            state = wallet_cache.state_of(row)
            wallet_cache.store(state)
    if state is None or state["user_id"] != user.id or state["deleted"]:
        raise WalletNotFound(f"No wallet {wallet_id}.")
    return state


def at_the_door(ids: list[int]) -> dict[int, DoorWallet]:
    """The live user wallets among `ids` (at most two; system accounts are never a party)."""
    rows = db.execute_sql(DOOR_SQL, (ids[0], ids[-1])).fetchall()
    return {row[0]: DoorWallet(*row) for row in rows}


def owned(user: User, wallet_id: int) -> bool:
    """Whether `wallet_id` is, or was before it closed, one of the user's wallets."""
    return Wallet.select().where((Wallet.id == wallet_id) & (Wallet.user == user)).exists()


def lock_live(user: User, ids: Iterable[int] | None = None) -> list[Wallet]:
    """The user's live wallets (all, or those among `ids`), locked FOR UPDATE in ascending id
    order until the caller's transaction ends: a settlement touching one waits, then sees
    it closed."""
    query = Wallet.select().where((Wallet.user == user) & Wallet.deleted_at.is_null())
    if ids is not None:
        query = query.where(Wallet.id.in_(list(ids)))
    return list(query.order_by(Wallet.id).for_update())


def close(wallet_ids: list[int]) -> None:
    """Close wallets (inside the caller's transaction, with the rows locked)."""
    if wallet_ids:
        now = utcnow()
        Wallet.update(deleted_at=now, updated_at=now, version=Wallet.version + 1) \
            .where(Wallet.id.in_(wallet_ids)).execute()
