"""Idempotency keys: what makes two calls "the same", and what a reused key means.

A key is reserved in `idempotency_keys`, whose primary key (user, key) is the one unique
index for every endpoint that takes a key: the row is inserted in the same transaction as
the request or wallet it makes, so of two calls racing with one key (to one endpoint or
two) exactly one creates anything. Redis is only a fast path in front of it.
"""
import hashlib
import json

import settings
from errors import IdempotencyKeyReused
from infra import cache
from models import IdempotencyKey, utcnow

# Run right after the INSERT of what the key made: LAST_INSERT_ID() is its id.
RESERVE_FOR_REQUEST_SQL = (
    "INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint, request_id, "
    "created_at) VALUES (%s, %s, %s, LAST_INSERT_ID(), %s)")


def fingerprint(endpoint: str, fields: dict) -> str:
    """A digest of the endpoint and the canonical form of what was asked."""
    canonical = json.dumps([endpoint, fields], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def ensure_same(stored: str, given: str) -> None:
    """Raise IdempotencyKeyReused unless a replay asks exactly what the first call asked."""
    if stored != given:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with another body or endpoint.")


def reserve_for_request(user_id: int, key: str, fingerprint: str) -> tuple[str, tuple]:
    """The INSERT (SQL and parameters) that reserves `key` for the request inserted just
    before it, in its transaction (a duplicate key fails it, and it rolls back)."""
    return RESERVE_FOR_REQUEST_SQL, (user_id, key, fingerprint, utcnow())


def _reserve(user_id: int, key: str, fingerprint: str, **made: int) -> None:
    IdempotencyKey.insert(user=user_id, idempotency_key=key, fingerprint=fingerprint,
                          created_at=utcnow(), **made).execute()


def reserve_for_wallet(user_id: int, key: str, fingerprint: str, wallet_id: int) -> None:
    """Reserve `key` for a new wallet; call it inside the wallet's transaction.

    Raises:
      peewee.IntegrityError: the key is taken (the transaction must roll back).
    """
    _reserve(user_id, key, fingerprint, wallet=wallet_id)


def reserve_for_webhook(user_id: int, key: str, fingerprint: str, webhook_id: int) -> None:
    """Reserve `key` for a new webhook; call it inside the webhook's transaction.

    Raises:
      peewee.IntegrityError: the key is taken (the transaction must roll back).
    """
    _reserve(user_id, key, fingerprint, webhook_id=webhook_id)


def _made(user_id: int, key: str, fingerprint: str, what: str) -> int | None:
    """The id of what (`request_id`, `wallet_id`, `webhook_id`) an earlier call with this
    key made, if any.

    Raises:
      IdempotencyKeyReused: the key was used with another body or endpoint.
    """
    row = IdempotencyKey.get_or_none((IdempotencyKey.user == user_id) &
                                     (IdempotencyKey.idempotency_key == key))
    if row is None:
        return None
    ensure_same(row.fingerprint, fingerprint)
    return getattr(row, what)


def earlier_request(user_id: int, key: str, fingerprint: str) -> int | None:
    """The id of the request an earlier call with this key made, if any (see `_made`)."""
    return _made(user_id, key, fingerprint, "request_id")


def earlier_wallet(user_id: int, key: str, fingerprint: str) -> int | None:
    """The id of the wallet an earlier call with this key created, if any (see `_made`)."""
    return _made(user_id, key, fingerprint, "wallet_id")


def earlier_webhook(user_id: int, key: str, fingerprint: str) -> int | None:
    """The id of the webhook an earlier call with this key created, if any (see `_made`)."""
    return _made(user_id, key, fingerprint, "webhook_id")


def _redis_key(user_id: int, key: str) -> str:
    return f"idem:{user_id}:{key}"


def claim(user_id: int, key: str, fingerprint: str) -> str | None:
    """Remember in Redis that this key is in use, in one round trip (SET NX GET).

    Returns:
      The fingerprint stored by an earlier call with this key, or None when the key is new
      to Redis (or Redis is unreachable): then only the database can tell.
    """
    try:
        old = cache.client.set(_redis_key(user_id, key), fingerprint, nx=True, get=True,
                               ex=settings.IDEMPOTENCY_TTL_S)
    except cache.ERRORS:
        return None
    return old.decode() if isinstance(old, bytes) else None


def release(user_id: int, key: str) -> None:
    """Forget a claim whose call was refused (a refused call consumes its key)."""
    cache.drop(_redis_key(user_id, key))
