"""Idempotency keys: what makes two calls "the same", and what a reused key means.

The database's unique (user, key) indexes are the truth; Redis is only a fast path.
Keys are scoped per user across every endpoint that takes one.
"""
import hashlib
import json

import cache
import settings
from errors import IdempotencyKeyReused
from models import TransactionRequest


def fingerprint(endpoint: str, fields: dict) -> str:
    """A digest of the endpoint and the canonical form of what was asked."""
    canonical = json.dumps([endpoint, fields], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def ensure_same(stored: str, given: str) -> None:
    """Raise IdempotencyKeyReused unless a replay asks exactly what the first call asked."""
    if stored != given:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with another body or endpoint.")


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
    return None if old is None else old.decode()


def release(user_id: int, key: str) -> None:
    """Forget a claim whose call was refused (a refused call consumes its key)."""
    cache.drop(_redis_key(user_id, key))


def ensure_unused_for_requests(user_id: int, key: str) -> None:
    """A wallet creation may not reuse a key that made a money request."""
    if TransactionRequest.select().where((TransactionRequest.user == user_id) &
                                         (TransactionRequest.idempotency_key == key)).exists():
        ensure_same("request", "wallet")
