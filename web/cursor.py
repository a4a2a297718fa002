"""Opaque, signed pagination cursors bound to one list of one user.

A cursor is the last id of the page, tagged with an HMAC over the list's scope, so a
forged, truncated or someone else's cursor is refused instead of leaking rows.
"""
import base64
import hashlib
import hmac

import settings
from errors import InvalidCursor

_KEY = hashlib.sha256(b"cursor:" + settings.JWT_KEY.encode()).digest()
MAC_BYTES = 12


def _mac(scope: str, last_id: int) -> bytes:
    return hmac.new(_KEY, f"{scope}|{last_id}".encode(), hashlib.sha256).digest()[:MAC_BYTES]


def encode(scope: str, last_id: int) -> str:
    """A cursor that resumes `scope` after `last_id`."""
    raw = last_id.to_bytes(8, "big") + _mac(scope, last_id)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(scope: str, cursor: str | None) -> int | None:
    """The id a cursor resumes after, or None for the first page.

    Raises:
      InvalidCursor: when the cursor was not issued for this scope by this service.
    """
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError):
        raise InvalidCursor("The cursor is not one this list issued.") from None
    if len(raw) != 8 + MAC_BYTES or len(cursor) > 40:
        raise InvalidCursor("The cursor is not one this list issued.")
    last_id = int.from_bytes(raw[:8], "big")
    if not hmac.compare_digest(raw[8:], _mac(scope, last_id)):
        raise InvalidCursor("The cursor is not one this list issued.")
    return last_id
