"""Accepting money requests at the door.

A request is checked, recorded durably as `pending` together with the reservation of its
Idempotency-Key (one compound statement), and only then handed to its queue; if the
queue is down the sweeper hands it over later (the outbox pattern).
"""
import logging
from collections.abc import Callable

import peewee

import settings
from accounts.wallets import DoorWallet, at_the_door
from errors import CurrencyMismatch, SameWallet, ValidationError, WalletError, WalletNotFound
from infra import idempotency, logs
from locking.batch import Statement, run
from models import PENDING, TransactionRequest, User, utcnow
from money import canonical_amount, fee_for, parse_amount
from payments import requests
from payments.send import send

log = logging.getLogger(__name__)

FEE_BP: dict[str, Callable[[], int]] = {"deposit": lambda: settings.DEPOSIT_FEE_BP,
                                        "withdrawal": lambda: settings.WITHDRAWAL_FEE_BP,
                                        "transfer": lambda: settings.TRANSFER_FEE_BP}


def _earlier(user: User, key: str, fingerprint: str) -> TransactionRequest | None:
    """The truth: the request an earlier call with this key made, if any."""
    request_id = idempotency.earlier_request(user.id, key, fingerprint)
    return None if request_id is None else requests.by_id(request_id)


def _own_wallet(found: dict[int, DoorWallet], wallet_id: int, user: User) -> DoorWallet:
    wallet = found.get(wallet_id)
    if wallet is None or wallet.user_id != user.id:
        raise WalletNotFound(f"No wallet {wallet_id}.")
    return wallet


def _wallet_id(value: object, field: str) -> int:
    """A positive JSON integer id (not a string, float or boolean)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise ValidationError(f"{field}: must be a positive integer id",
                              errors=[{"field": field, "message": "must be a positive integer id"}])
    return value


def _record(user: User, *, key: str, fingerprint: str, **fields) -> tuple[TransactionRequest, bool]:
    """Insert the pending request, or find the one a concurrent call with this key made."""
    request = TransactionRequest(user=user, status=PENDING, created_at=utcnow(), sweeps=0,
                                 trace_id=logs.context().get("request_id"), **fields)
    try:
        # The request and its key's reservation, committed together in one round trip:
        # durable before the 202.
        rows = run(requests.insert(user.id, type=request.type, currency=request.currency,
                                   amount=request.amount, fee=request.fee,
                                   wallet_id=request.wallet_id,
                                   to_wallet_id=request.to_wallet_id,
                                   trace_id=request.trace_id, now=request.created_at),
                   Statement(*idempotency.reserve_for_request(user.id, key, fingerprint)),
                   then="SELECT LAST_INSERT_ID()")
        request.id = rows[0][0]
    except peewee.IntegrityError:
        earlier = _earlier(user, key, fingerprint)
        if earlier is None:
            raise
        return earlier, True
    send(request)
    return request, False


def _accept(user: User, *, key: str, fingerprint: str,
            door: Callable[[], dict]) -> tuple[TransactionRequest, bool]:
    """Replay an earlier call with this key, or pass the door checks and record a new request.

    Redis only spares the database work: a key it has seen with this body is looked up
    as a replay; one it has not seen goes straight to the door. The unique key in the
    database decides in every case.
    """
    seen = idempotency.claim(user.id, key, fingerprint)
    if seen is not None:
        earlier = _earlier(user, key, fingerprint)
        if earlier is not None:
            return earlier, True
    try:
        fields = door()
    except WalletError:
        # A retry of a request that was accepted replays it even if the door now says no
        # (say the wallet was closed since); only a genuinely new call gets the error.
        earlier = _earlier(user, key, fingerprint)
        if earlier is not None:
            return earlier, True
        idempotency.release(user.id, key)  # a refused call consumes nothing
        raise
    return _record(user, key=key, fingerprint=fingerprint, **fields)


def accept(user: User, *, kind: str, key: str, amount: object,
           wallet_id: int) -> tuple[TransactionRequest, bool]:
    """Accept a deposit or withdrawal on the caller's wallet.

    Returns:
      The pending request, and whether it replays an earlier call with this key.

    Raises:
      WalletNotFound, InvalidAmount, IdempotencyKeyReused.
    """
    fingerprint = idempotency.fingerprint(f"POST /v1/wallets/{wallet_id}/{kind}s",
                                          {"amount": canonical_amount(amount)})

    def door() -> dict:
        wallet = _own_wallet(at_the_door([wallet_id]), wallet_id, user)
        minor = parse_amount(amount, wallet.currency)
        return {"type": kind, "wallet": wallet.id, "currency": wallet.currency, "amount": minor,
                "fee": fee_for(minor, FEE_BP[kind]())}

    return _accept(user, key=key, fingerprint=fingerprint, door=door)


def accept_transfer(user: User, *, key: str, from_wallet_id: object, to_wallet_id: object,
                    amount: object) -> tuple[TransactionRequest, bool]:
    """Accept a transfer from the caller's wallet to any live wallet of the same currency.

    Raises:
      ValidationError, WalletNotFound, CurrencyMismatch, SameWallet, InvalidAmount,
      IdempotencyKeyReused.
    """
    fingerprint = idempotency.fingerprint("POST /v1/transfers", {
        "from_wallet_id": from_wallet_id, "to_wallet_id": to_wallet_id,
        "amount": canonical_amount(amount)})

    def door() -> dict:
        bad, ids = [], {}
        for name, value in (("from_wallet_id", from_wallet_id), ("to_wallet_id", to_wallet_id)):
            try:
                ids[name] = _wallet_id(value, name)
            except ValidationError as exc:
                bad += exc.errors or []
        if bad:
            raise ValidationError("Wallet ids must be positive integers.", errors=bad)
        source_id, target_id = ids["from_wallet_id"], ids["to_wallet_id"]
        found = at_the_door([source_id, target_id])
        source = _own_wallet(found, source_id, user)
        if source_id == target_id:
            raise SameWallet("A transfer needs two different wallets.", errors=[
                {"field": "to_wallet_id", "message": "must differ from from_wallet_id"}])
        target = found.get(target_id)
        if target is None:
            raise WalletNotFound(f"No wallet {target_id}.")
        if source.currency != target.currency:
            raise CurrencyMismatch(f"Cannot move {source.currency} into a {target.currency} "
                                   "wallet.", errors=[{"field": "to_wallet_id",
                                                       "message": "currency differs"}])
        minor = parse_amount(amount, source.currency)
        return {"type": "transfer", "wallet": source.id, "to_wallet": target.id,
                "currency": source.currency, "amount": minor,
                "fee": fee_for(minor, FEE_BP["transfer"]())}

    return _accept(user, key=key, fingerprint=fingerprint, door=door)
