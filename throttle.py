"""Login throttling: counters in Redis per email and per client address.

An attempt is counted before the password is checked, so a concurrent burst cannot
slip more tries through than the limit; a success clears the email's counter.
"""
import hashlib
import logging

import cache
import settings
from errors import TooManyAttempts

log = logging.getLogger(__name__)


def _keys(email: str, ip: str) -> tuple[str, str]:
    digest = hashlib.sha256(email.encode()).hexdigest()[:32]  # no raw emails in Redis
    return f"login:email:{digest}", f"login:ip:{ip}"


def count_attempt(email: str, ip: str) -> None:
    """Count one login attempt for `email` and `ip`.

    Raises:
      TooManyAttempts: when either counter is past its limit within LOGIN_WINDOW_S.
    """
    email_key, ip_key = _keys(email, ip)
    try:
        pipe = cache.client.pipeline()
        pipe.incr(email_key).expire(email_key, settings.LOGIN_WINDOW_S, nx=True)
        pipe.incr(ip_key).expire(ip_key, settings.LOGIN_WINDOW_S, nx=True)
        email_count, _, ip_count, _ = pipe.execute()
        if email_count <= settings.LOGIN_MAX_FAILURES_PER_EMAIL and \
                ip_count <= settings.LOGIN_MAX_FAILURES_PER_IP:
            return
        key = email_key if email_count > settings.LOGIN_MAX_FAILURES_PER_EMAIL else ip_key
        ttl_s = cache.client.ttl(key)
    except cache.ERRORS as exc:
        # Without Redis we cannot count; argon2's cost still slows guessing down.
        log.warning("Login throttling is off while Redis is unreachable: %s", exc)
        return
    raise TooManyAttempts(max(int(ttl_s), 1))


def clear(email: str, ip: str) -> None:
    """Forget the email's failures after a successful login, and give the address its try back."""
    email_key, ip_key = _keys(email, ip)
    try:
        cache.client.pipeline().delete(email_key).decr(ip_key).execute()
    except cache.ERRORS as exc:
        log.warning("Could not clear login counters: %s", exc)
