"""Wallets: idempotent creation, reads, soft deletion, and the ledger pages."""
import peewee

import idempotency
import wallet_cache
from errors import WalletExists, WalletNotEmpty, WalletNotFound
from models import Notification, TransactionRequest, User, Wallet, db, utcnow
from money import parse_currency

ENDPOINT = "POST /v1/wallets"


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
        return earlier, True
    try:
        with db.atomic():
            # One timestamp for both, so the 201 (updated_at = created_at) matches a later GET.
            now = utcnow()
            wallet = Wallet.create(user=user, currency=currency, created_at=now, updated_at=now)
            idempotency.reserve_for_wallet(user.id, key, fingerprint, wallet.id)
            Notification.create(user=user, type="wallet_created", title="Wallet opened",
                                body=f"Your {currency} wallet is ready.",
                                dedupe_key=f"wallet_created:{wallet.id}")
    except peewee.IntegrityError:
        # Either a concurrent call with the same key won (replay it, or refuse it if it was
        # another endpoint's), or another key already opened this currency (one live wallet
        # per user and currency).
        earlier = idempotency.earlier_wallet(user.id, key, fingerprint)
        if earlier is not None:
            return earlier, True
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


def delete_wallet(user: User, wallet_id: int) -> None:
    """Close an empty wallet with no pending request.

    Raises:
      WalletNotFound, WalletNotEmpty.
    """
    with db.atomic():
        # FOR UPDATE: a settlement touching this wallet waits, then sees it closed.
        wallet = Wallet.select().where((Wallet.id == wallet_id) & (Wallet.user == user) &
                                       Wallet.deleted_at.is_null()).for_update().first()
        if wallet is None:
            raise WalletNotFound(f"No wallet {wallet_id}.")
        pending = TransactionRequest.select().where(
            (TransactionRequest.status == "pending") &
            ((TransactionRequest.wallet == wallet) | (TransactionRequest.to_wallet == wallet)))
        if wallet.balance or pending.exists():
            raise WalletNotEmpty("The wallet holds money or has a pending request.")
        now = utcnow()
        Wallet.update(deleted_at=now, updated_at=now, version=Wallet.version + 1) \
            .where(Wallet.id == wallet.id).execute()
    wallet_cache.refresh([wallet.id])


def history_cache_key(wallet: dict, limit: int, after: int | None) -> str:
    """Where a rendered transactions page is cached, named by parsed values only (so no
    query string can mint keys): any change to the wallet bumps its version, so a cached
    page can never show an older ledger than the wallet it belongs to."""
    return f"history:{wallet['id']}:v{wallet['version']}:{limit}:{after or 0}"
