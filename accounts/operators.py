"""Server-side sessions of the ops page: a login starts one, logging out ends it.

The session cookie (see web/ops/auth.py) is signed and carries its nonce; a cookie whose
session row has ended or expired opens nothing, so logging out ends a copied cookie too.
"""
from datetime import timedelta

from models import OpsSession, utcnow


def start(nonce: str, *, ip: str, ttl_s: int) -> None:
    """Record a new session `nonce`, live for `ttl_s` seconds."""
    now = utcnow()
    OpsSession.create(nonce=nonce, ip_address=ip, created_at=now,
                      expires_at=now + timedelta(seconds=ttl_s))


def live(nonce: str) -> bool:
    """Whether session `nonce` was started, has not ended and has not expired."""
    return OpsSession.select().where((OpsSession.nonce == nonce) & OpsSession.ended_at.is_null()
                                     & (OpsSession.expires_at > utcnow())).exists()


def end(nonce: str) -> None:
    """End session `nonce` (repeating it is harmless)."""
    OpsSession.update(ended_at=utcnow()).where(
        (OpsSession.nonce == nonce) & OpsSession.ended_at.is_null()).execute()
