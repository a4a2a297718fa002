"""Idempotency keys: what makes two calls "the same", and what a reused key means.

The database's unique (user, key) indexes are the truth; Redis is only a fast path.
Keys are scoped per user across every endpoint that takes one.
"""
import hashlib
import json

from errors import IdempotencyKeyReused
from models import TransactionRequest, WalletRequest


def fingerprint(endpoint: str, fields: dict) -> str:
    """A digest of the endpoint and the canonical form of what was asked."""
    canonical = json.dumps([endpoint, fields], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def ensure_same(stored: str, given: str) -> None:
    """Raise IdempotencyKeyReused unless a replay asks exactly what the first call asked."""
    if stored != given:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with another body or endpoint.")


def ensure_unused_for_wallets(user_id: int, key: str) -> None:
    """A money request may not reuse a key that created a wallet."""
    if WalletRequest.select().where((WalletRequest.user == user_id) &
                                    (WalletRequest.idempotency_key == key)).exists():
        ensure_same("wallet", "request")


def ensure_unused_for_requests(user_id: int, key: str) -> None:
    """A wallet creation may not reuse a key that made a money request."""
    if TransactionRequest.select().where((TransactionRequest.user == user_id) &
                                         (TransactionRequest.idempotency_key == key)).exists():
        ensure_same("request", "wallet")
