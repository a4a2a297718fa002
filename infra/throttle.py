"""Throttling: attempts counted per key within a window, in Redis, and never failing open.

An attempt is counted before it is judged (a password checked, a token compared), so a
concurrent burst cannot slip more tries through than the limit, and a success gives its
attempt back. While any limit is exceeded, every attempt is refused with TooManyAttempts,
the right password included.

When Redis cannot count (down, slow, or refusing writes because it is full) the caller's
fallback judges instead (login counts its failures in the login log: see users.py), and
this process counts on its own, so throttling degrades to per-process counters; it never
lets an unlimited number of guesses through.
"""
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import settings
from errors import TooManyAttempts
from infra import cache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most `limit` attempts counted under `key` within `window_s` seconds."""

    key: str
    limit: int
    window_s: int


def email_digest(email: str) -> str:
    """How an email is named in counters and the login log: no raw emails in either."""
    return hashlib.sha256(email.lower().encode()).hexdigest()[:32]


def login_limits(digest: str, ip: str) -> list[Limit]:
    """Login failures (and wrong current passwords): per email and address, per address,
    per email from anywhere, so a stranger cannot lock an owner out from the owner's own
    address."""
    window = settings.LOGIN_WINDOW_S
    return [Limit(f"login:pair:{digest}:{ip}", settings.LOGIN_MAX_FAILURES_PER_EMAIL_IP, window),
            Limit(f"login:ip:{ip}", settings.LOGIN_MAX_FAILURES_PER_IP, window),
            Limit(f"login:email:{digest}", settings.LOGIN_MAX_FAILURES_PER_EMAIL, window)]


def signup_limits(ip: str) -> list[Limit]:
    """Sign-ups per client address (each one, good or bad: a 409 tells an email exists)."""
    return [Limit(f"signup:ip:{ip}", settings.SIGNUP_MAX_PER_IP, settings.SIGNUP_WINDOW_S)]


def ops_limits(ip: str) -> list[Limit]:
    """Failed ops logins (form or bearer) per client address."""
    return [Limit(f"ops:ip:{ip}", settings.OPS_LOGIN_MAX_FAILURES_PER_IP, settings.LOGIN_WINDOW_S)]


class LocalCounts:
    """This process's own counters: what counts while Redis cannot."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.counts: dict[str, tuple[int, float]] = {}

    def hit(self, limits: Sequence[Limit]) -> list[tuple[int, float]]:
        """Count one attempt under each limit; returns (count, seconds left) for each."""
        now = self.clock()
        with self.lock:
            if len(self.counts) > 10_000:  # forget expired windows now and then
                self.counts = {k: v for k, v in self.counts.items() if v[1] > now}
            out = []
            for limit in limits:
                count, ends = self.counts.get(limit.key, (0, now + limit.window_s))
                if ends <= now:
                    count, ends = 0, now + limit.window_s
                self.counts[limit.key] = (count + 1, ends)
                out.append((count + 1, ends - now))
            return out

    def give_back(self, limits: Sequence[Limit], *, clear: Sequence[Limit] = ()) -> None:
        with self.lock:
            for limit in limits:
                count, ends = self.counts.get(limit.key, (0, 0.0))
                if count:
                    self.counts[limit.key] = (count - 1, ends)
            for limit in clear:
                self.counts.pop(limit.key, None)


LOCAL = LocalCounts()


def _redis_hit(limits: Sequence[Limit]) -> list[tuple[int, float]]:
    pipe = cache.client.pipeline(transaction=True)
    for limit in limits:
        pipe.incr(limit.key)
        pipe.expire(limit.key, limit.window_s, nx=True)
        pipe.ttl(limit.key)
    values = pipe.execute()
    return [(values[i], values[i + 2]) for i in range(0, len(values), 3)]


def hit(limits: Sequence[Limit], *, fallback: Callable[[], None] | None = None) -> None:
    """Count one attempt against each limit.

    Parameters:
      limits: what the attempt counts against.
      fallback: judges the attempt when Redis cannot count (raising TooManyAttempts).

    Raises:
      TooManyAttempts: while any limit is exceeded, with the seconds until it lifts.
    """
    try:
        counted = _redis_hit(limits)
    except cache.ERRORS as exc:
        log.warning("Redis cannot count attempts (%s); counting in this process.",
                    type(exc).__name__)
        counted = LOCAL.hit(limits)
        if fallback is not None:
            fallback()
    over = [left for limit, (count, left) in zip(limits, counted, strict=True)
            if count > limit.limit]
    if over:
        raise TooManyAttempts(max(1, int(max(over))))


# KEYS: counters to give one attempt back to (never below zero), then ARGV[1] more to delete.
_FORGIVE = cache.client.register_script("""
local give = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if i <= give then
    local v = tonumber(redis.call('GET', key) or '0')
    if v > 0 then redis.call('DECR', key) end
  else
    redis.call('DEL', key)
  end
end
return 1
""")


def forgive(limits: Sequence[Limit], *, clear: Sequence[Limit] = ()) -> None:
    """Give a successful attempt back to `limits`, and forget `clear` altogether."""
    try:
        _FORGIVE(keys=[limit.key for limit in [*limits, *clear]], args=[len(limits)])
    except cache.ERRORS as exc:
        log.warning("Could not give an attempt back in Redis: %s", type(exc).__name__)
        LOCAL.give_back(limits, clear=clear)
