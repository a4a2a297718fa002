"""Accepting money requests at the door: deposits, withdrawals and transfers here, and the
machinery every money request goes through (holds.py, refunds.py use it too).

A request is checked, recorded durably as `pending` together with the reservation of its
Idempotency-Key (and the hold it places, if any) in one compound statement, and only then
handed to its queue; if the queue is down the sweeper hands it over later (the outbox).
"""
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeGuard

import peewee

import settings
from accounts.wallets import DoorWallet, at_the_door
from errors import CurrencyMismatch, SameWallet, ValidationError, WalletError, WalletNotFound
from infra import idempotency, logs
from ledger.posting import DEPOSIT, TRANSFER, WITHDRAWAL
from locking.batch import Statement, run
from models import PENDING, TransactionRequest, User, utcnow
from money import canonical_amount, fee_for, parse_amount
from payments import holds, requests
from payments.details import Details
from payments.send import send

log = logging.getLogger(__name__)

FEE_BP: dict[str, Callable[[], int]] = {DEPOSIT: lambda: settings.DEPOSIT_FEE_BP,
                                        WITHDRAWAL: lambda: settings.WITHDRAWAL_FEE_BP,
                                        TRANSFER: lambda: settings.TRANSFER_FEE_BP}
NO_DETAILS = Details()


def _earlier(user: User, key: str, fingerprint: str) -> TransactionRequest | None:
    """The truth: the request an earlier call with this key made, if any."""
    request_id = idempotency.earlier_request(user.id, key, fingerprint)
    return None if request_id is None else requests.by_id(request_id)


def own_wallet(found: dict[int, DoorWallet] | None, wallet_id: int, user: User) -> DoorWallet:
    """The caller's live wallet `wallet_id`, from `found` (at_the_door's answer, if the
    caller already has it) or read at the door.

    Raises:
      WalletNotFound: it is not a live wallet of the caller's.
    """
    if found is None:
        found = at_the_door([wallet_id])
    wallet = found.get(wallet_id)
    if wallet is None or wallet.user_id != user.id:
        raise WalletNotFound(f"No wallet {wallet_id}.")
    return wallet


def is_wallet_id(value: object) -> TypeGuard[int]:
    """Whether a parsed JSON value is a positive integer id (not a string, float or boolean)."""
    return not isinstance(value, bool) and isinstance(value, int) and 0 < value < 2**63


def wallet_id_of(value: object, field: str) -> int:
    """A positive JSON integer id (not a string, float or boolean)."""
    if not is_wallet_id(value):
        raise ValidationError(f"{field}: must be a positive integer id",
                              errors=[{"field": field, "message": "must be a positive integer id"}])
    return value


@dataclass(frozen=True)
class NewHold:
    """The hold a hold request places, recorded `pending` with it."""

    to_user_id: int | None
    expires_in_s: int


@dataclass(frozen=True)
class Draft:
    """A request that passed the door, before it is recorded; `hold` when it places one."""

    type: str
    currency: str
    amount: int
    fee: int
    wallet_id: int
    details: Details
    to_wallet_id: int | None = None
    hold_id: int | None = None
    refund_of: int | None = None
    capture_final: bool = False
    hold: NewHold | None = None


def _statements(user: User, draft: Draft, *, key: str, fingerprint: str, now: datetime,
                trace_id: str | None) -> list[Statement]:
    metadata = json.dumps(draft.details.metadata) if draft.details.metadata else None
    insert = requests.insert(
        user.id, type=draft.type, currency=draft.currency, amount=draft.amount, fee=draft.fee,
        wallet_id=draft.wallet_id, to_wallet_id=draft.to_wallet_id,
        hold_id=holds.NEW_HOLD_ID if draft.hold is not None else draft.hold_id,
        refund_of=draft.refund_of, capture_final=draft.capture_final,
        description=draft.details.description, metadata=metadata, trace_id=trace_id, now=now)
    reserve = Statement(*idempotency.reserve_for_request(user.id, key, fingerprint))
    if draft.hold is None:
        return [insert, reserve]
    return [*holds.insert_pending(
        user_id=user.id, wallet_id=draft.wallet_id, to_wallet_id=draft.to_wallet_id,
        to_user_id=draft.hold.to_user_id, currency=draft.currency, amount=draft.amount,
        expires_at=now + timedelta(seconds=draft.hold.expires_in_s),
        description=draft.details.description, metadata=metadata, now=now),
        insert, reserve, holds.attach_request()]


def _record(user: User, draft: Draft, *, key: str,
            fingerprint: str) -> tuple[TransactionRequest, bool]:
    """Insert the pending request (and its hold), or find the one a concurrent call with
    this key made."""
    now, trace_id = utcnow(), logs.context().get("request_id")
    try:
        # The request, its hold if it places one, and its key's reservation, committed
        # together in one round trip: durable before the 202.
        rows = run(*_statements(user, draft, key=key, fingerprint=fingerprint, now=now,
                                trace_id=trace_id),
                   then=f"SELECT LAST_INSERT_ID(), {holds.NEW_HOLD_ID}" if draft.hold else
                   "SELECT LAST_INSERT_ID()")
    except peewee.IntegrityError:
        earlier = _earlier(user, key, fingerprint)
        if earlier is None:
            raise
        return earlier, True
    request = TransactionRequest(
        id=rows[0][0], user=user, type=draft.type, status=PENDING, currency=draft.currency,
        amount=draft.amount, fee=draft.fee, wallet=draft.wallet_id,
        to_wallet=draft.to_wallet_id,
        hold_id=rows[0][1] if draft.hold is not None else draft.hold_id,
        refund_of=draft.refund_of, refunded=0, capture_final=draft.capture_final,
        description=draft.details.description, metadata=draft.details.metadata or None,
        trace_id=trace_id, sweeps=0, created_at=now)
    send(request)
    return request, False


def accept_draft(user: User, *, key: str, fingerprint: str,
                 door: Callable[[], Draft]) -> tuple[TransactionRequest, bool]:
    """Replay an earlier call with this key, or pass the door checks and record a new request.

    Redis only spares the database work: a key it has seen with this body is looked up
    as a replay; one it has not seen goes straight to the door. The unique key in the
    database decides in every case.

    Parameters:
      fingerprint: what the call asked (see idempotency.fingerprint).
      door: the checks; returns the request to record, or raises why not.

    Returns:
      The pending request, and whether it replays an earlier call with this key.
    """
    seen = idempotency.claim(user.id, key, fingerprint)
    if seen is not None:
        earlier = _earlier(user, key, fingerprint)
        if earlier is not None:
            return earlier, True
    try:
        draft = door()
    except WalletError:
        # A retry of a request that was accepted replays it even if the door now says no
        # (say the wallet was closed since); only a genuinely new call gets the error.
        earlier = _earlier(user, key, fingerprint)
        if earlier is not None:
            return earlier, True
        idempotency.release(user.id, key)  # a refused call consumes nothing
        raise
    return _record(user, draft, key=key, fingerprint=fingerprint)


def door_ids(*values: object) -> list[int] | None:
    """The wallet ids a money request names, if each is one (see wallet_id_of): what the
    web reads with the caller, in one query, to hand to the door as `found`."""
    ids = [value for value in values if is_wallet_id(value)]
    return ids if len(ids) == len(values) else None


def pair(user: User, *, from_wallet_id: int, to_wallet_id: object,
         from_field: str = "from_wallet_id",
         found: dict[int, DoorWallet] | None = None) -> tuple[DoorWallet, DoorWallet]:
    """The caller's live wallet and any other live wallet of the same currency.

    Parameters:
      found: at_the_door's answer for the two ids, if the caller already has it.

    Raises:
      ValidationError, WalletNotFound, SameWallet, CurrencyMismatch.
    """
    target_id = wallet_id_of(to_wallet_id, "to_wallet_id")
    if found is None:
        found = at_the_door([from_wallet_id, target_id])
    source = own_wallet(found, from_wallet_id, user)
    if from_wallet_id == target_id:
        raise SameWallet("Money cannot move to the wallet it comes from.", errors=[
            {"field": "to_wallet_id", "message": f"must differ from {from_field}"}])
    target = found.get(target_id)
    if target is None:
        raise WalletNotFound(f"No wallet {target_id}.")
    if source.currency != target.currency:
        raise CurrencyMismatch(f"Cannot move {source.currency} into a {target.currency} "
                               "wallet.", errors=[{"field": "to_wallet_id",
                                                   "message": "currency differs"}])
    return source, target


def accept(user: User, *, kind: str, key: str, amount: object, wallet_id: int,
           details: Details = NO_DETAILS,
           found: dict[int, DoorWallet] | None = None) -> tuple[TransactionRequest, bool]:
    """Accept a deposit or withdrawal on the caller's wallet.

    Parameters:
      found: at_the_door's answer for `wallet_id`, if the caller already has it.

    Returns:
      The pending request, and whether it replays an earlier call with this key.

    Raises:
      WalletNotFound, InvalidAmount, IdempotencyKeyReused.
    """
    fingerprint = idempotency.fingerprint(f"POST /v1/wallets/{wallet_id}/{kind}s", {
        "amount": canonical_amount(amount), **details.fingerprinted()})

    def door() -> Draft:
        wallet = own_wallet(found, wallet_id, user)
        minor = parse_amount(amount, wallet.currency)
        return Draft(kind, wallet.currency, minor, fee_for(minor, FEE_BP[kind]()), wallet.id,
                     details)

    return accept_draft(user, key=key, fingerprint=fingerprint, door=door)


def accept_transfer(user: User, *, key: str, from_wallet_id: object, to_wallet_id: object,
                    amount: object, details: Details = NO_DETAILS,
                    found: dict[int, DoorWallet] | None = None,
                    ) -> tuple[TransactionRequest, bool]:
    """Accept a transfer from the caller's wallet to any live wallet of the same currency.

    Parameters:
      found: at_the_door's answer for the two wallet ids, if the caller already has it.

    Raises:
      ValidationError, WalletNotFound, CurrencyMismatch, SameWallet, InvalidAmount,
      IdempotencyKeyReused.
    """
    fingerprint = idempotency.fingerprint("POST /v1/transfers", {
        "from_wallet_id": from_wallet_id, "to_wallet_id": to_wallet_id,
        "amount": canonical_amount(amount), **details.fingerprinted()})

    def door() -> Draft:
        bad = []
        for name, value in (("from_wallet_id", from_wallet_id), ("to_wallet_id", to_wallet_id)):
            try:
                wallet_id_of(value, name)
            except ValidationError as exc:
                bad += exc.errors or []
        if bad:
            raise ValidationError("Wallet ids must be positive integers.", errors=bad)
        assert isinstance(from_wallet_id, int)
        source, target = pair(user, from_wallet_id=from_wallet_id, to_wallet_id=to_wallet_id,
                              found=found)
        minor = parse_amount(amount, source.currency)
        return Draft(TRANSFER, source.currency, minor, fee_for(minor, FEE_BP[TRANSFER]()),
                     source.id, details, to_wallet_id=target.id)

    return accept_draft(user, key=key, fingerprint=fingerprint, door=door)
