"""Accepting money requests at the door, and reading them back.

A request is validated, recorded durably as `pending` and only then handed to the
queue; if the queue is down the sweeper hands it over later (the outbox pattern).
"""
import logging
import re
import time
from dataclasses import dataclass

import peewee

import dispatch
import idempotency
import logs
import polls
import settings
import sqlbatch
import wake
import wallet_cache
from errors import (CurrencyMismatch, RequestNotFound, SameWallet, ValidationError, WalletError,
                    WalletNotFound)
from models import TransactionRequest, User, db, utcnow
from money import canonical_amount, fee_for, parse_amount
from sqlbatch import Statement
from web import metrics
from web.http import require_id

log = logging.getLogger(__name__)

FEE_BP = {"deposit": lambda: settings.DEPOSIT_FEE_BP,
          "withdrawal": lambda: settings.WITHDRAWAL_FEE_BP,
          "transfer": lambda: settings.TRANSFER_FEE_BP}
STATUSES = ("pending", "succeeded", "failed")


def _from_db(user: User, key: str, fingerprint: str) -> TransactionRequest | None:
    """The truth: the request an earlier call with this key made, if any."""
    return idempotency.earlier_request(user.id, key, fingerprint)


# The door's one query: the live user wallets named. Raw SQL: this runs on every money
# request, and building it through peewee cost more CPU than the query itself.
DOOR_SQL = ("SELECT id, user_id, currency FROM wallets WHERE id IN (%s, %s) "
            "AND deleted_at IS NULL AND user_id IS NOT NULL")
INSERT_SQL = (
    "INSERT INTO transaction_requests (user_id, type, status, currency, amount, fee, "
    "wallet_id, to_wallet_id, trace_id, sweeps, created_at) "
    "VALUES (%s, %s, 'pending', %s, %s, %s, %s, %s, %s, 0, %s)")


@dataclass(frozen=True)
class DoorWallet:
    id: int
    user_id: int
    currency: str


def _door(ids: list[int]) -> dict[int, DoorWallet]:
    """The live user wallets among `ids` (system accounts are never a party)."""
    rows = db.execute_sql(DOOR_SQL, (ids[0], ids[-1])).fetchall()
    return {row[0]: DoorWallet(*row) for row in rows}


def _own_wallet(found: dict[int, DoorWallet], wallet_id: int, user: User) -> DoorWallet:
    wallet = found.get(wallet_id)
    if wallet is None or wallet.user_id != user.id:
        raise WalletNotFound(f"No wallet {wallet_id}.")
    return wallet


def _record(user: User, *, key: str, fingerprint: str, **fields) -> tuple[TransactionRequest, bool]:
    """Insert the pending request, or find the one a concurrent call with this key made."""
    request = TransactionRequest(user=user, status="pending", created_at=utcnow(), sweeps=0,
                                 trace_id=logs.CONTEXT.get().get("request_id"), **fields)
    try:
        # The request and its key's reservation, committed together in one round trip:
        # durable before the 202.
        rows = sqlbatch.run(
            Statement(INSERT_SQL, (user.id, request.type, request.currency, request.amount,
                                   request.fee, request.wallet_id, request.to_wallet_id,
                                   request.trace_id, request.created_at)),
            idempotency.reserve_for_request(user.id, key, fingerprint),
            then="SELECT LAST_INSERT_ID()")
        request.id = rows[0][0]
    except peewee.IntegrityError:
        earlier = _from_db(user, key, fingerprint)
        if earlier is None:
            raise
        return earlier, True
    metrics.accepted(request.type)
    dispatch.send(request)
    return request, False


def _accept(user: User, *, key: str, fingerprint: str, door) -> tuple[TransactionRequest, bool]:
    """Replay an earlier call with this key, or pass the door checks and record a new request.

    Redis only spares the database work: a key it has seen with this body is looked up
    as a replay; one it has not seen goes straight to the door. The unique key in the
    database decides in every case.
    """
    seen = idempotency.claim(user.id, key, fingerprint)
    if seen is not None:
        earlier = _from_db(user, key, fingerprint)
        if earlier is not None:
            return earlier, True
    try:
        fields = door()
    except WalletError:
        # A retry of a request that was accepted replays it even if the door now says no
        # (say the wallet was closed since); only a genuinely new call gets the error.
        earlier = _from_db(user, key, fingerprint)
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
        wallet = _own_wallet(_door([wallet_id]), wallet_id, user)
        minor = parse_amount(amount, wallet.currency)
        return {"type": kind, "wallet": wallet.id, "currency": wallet.currency, "amount": minor,
                "fee": fee_for(minor, FEE_BP[kind]())}

    return _accept(user, key=key, fingerprint=fingerprint, door=door)


def accept_transfer(user: User, *, key: str, doc: dict) -> tuple[TransactionRequest, bool]:
    """Accept a transfer from the caller's wallet to any live wallet of the same currency.

    Raises:
      ValidationError, WalletNotFound, CurrencyMismatch, SameWallet, InvalidAmount,
      IdempotencyKeyReused.
    """
    fingerprint = idempotency.fingerprint("POST /v1/transfers", {
        "from_wallet_id": doc.get("from_wallet_id"), "to_wallet_id": doc.get("to_wallet_id"),
        "amount": canonical_amount(doc.get("amount"))})

    def door() -> dict:
        bad = []
        for name in ("from_wallet_id", "to_wallet_id"):
            try:
                require_id(doc, name)
            except ValidationError as exc:
                bad += exc.errors
        if bad:
            raise ValidationError("Wallet ids must be positive integers.", errors=bad)
        found = _door([doc["from_wallet_id"], doc["to_wallet_id"]])
        source = _own_wallet(found, doc["from_wallet_id"], user)
        if doc["from_wallet_id"] == doc["to_wallet_id"]:
            raise SameWallet("A transfer needs two different wallets.", errors=[
                {"field": "to_wallet_id", "message": "must differ from from_wallet_id"}])
        target = found.get(doc["to_wallet_id"])
        if target is None:
            raise WalletNotFound(f"No wallet {doc['to_wallet_id']}.")
        if source.currency != target.currency:
            raise CurrencyMismatch(f"Cannot move {source.currency} into a {target.currency} "
                                   "wallet.", errors=[{"field": "to_wallet_id",
                                                       "message": "currency differs"}])
        minor = parse_amount(doc.get("amount"), source.currency)
        return {"type": "transfer", "wallet": source.id, "to_wallet": target.id,
                "currency": source.currency, "amount": minor,
                "fee": fee_for(minor, FEE_BP["transfer"]())}

    return _accept(user, key=key, fingerprint=fingerprint, door=door)


def wait_seconds(raw: str | None) -> float:
    """The `?wait=` of a request read: 0 to MAX_WAIT_S seconds."""
    if raw is None:
        return 0
    if not re.fullmatch(r"[0-9]{1,2}", raw, re.ASCII) or int(raw) > settings.MAX_WAIT_S:
        raise ValidationError(f"wait must be 0 to {settings.MAX_WAIT_S} seconds", errors=[
            {"field": "wait", "message": f"must be an integer from 0 to {settings.MAX_WAIT_S}"}])
    return int(raw)


def _read(user: User, request_id: int) -> TransactionRequest:
    # A fresh query each time: peewee caches results on a query object.
    request = TransactionRequest.get_or_none((TransactionRequest.id == request_id) &
                                             (TransactionRequest.user == user))
    if request is None:
        raise RequestNotFound(f"No request {request_id}.")
    return request


def _wait(user: User, request_id: int, deadline: float) -> TransactionRequest:
    """Read the request until it leaves `pending` or the deadline passes, sleeping until
    its settlement is announced (see wake.py) or the next recheck is due."""
    event = wake.LISTENER.watch(request_id)  # before the read: no announcement slips by
    try:
        while True:
            request = _read(user, request_id)
            left_s = deadline - time.monotonic()
            if request.status != "pending" or left_s <= 0:
                return request
            event.wait(min(left_s, wake.LISTENER.recheck_s()))
            event.clear()
    finally:
        wake.LISTENER.unwatch(request_id, event)


def get_request(user: User, request_id: int, *,
                wait_s: float = 0) -> tuple[TransactionRequest, bool]:
    """The caller's request, waiting up to `wait_s` for it to leave `pending` if a place to
    wait is free (see polls.py); otherwise as it stands.

    Returns:
      The request, and whether a wait was asked for but no place to wait was free.

    Raises:
      RequestNotFound: also for someone else's request.
    """
    request = _read(user, request_id)
    turned_away = False
    if request.status == "pending" and wait_s > 0:
        with polls.SLOTS.take(user.id) as granted:
            if granted:
                request = _wait(user, request_id, time.monotonic() + wait_s)
            turned_away = not granted
    if request.status != "pending":
        # Before anyone is told it settled, make sure no older balance can be served.
        wallet_cache.refresh([request.wallet_id] + ([request.to_wallet_id]
                                                    if request.to_wallet_id else []))
    return request, turned_away


def requests_of(user: User, status: str | None) -> peewee.ModelSelect:
    """The caller's requests, optionally of one status."""
    query = TransactionRequest.select().where(TransactionRequest.user == user)
    if status is None:
        return query
    if status not in STATUSES:
        raise ValidationError("status must be pending, succeeded or failed", errors=[
            {"field": "status", "message": "must be pending, succeeded or failed"}])
    return query.where(TransactionRequest.status == status)
