"""Redis: a cache and a fast path, never the source of truth.

Every call here is best-effort: when Redis is slow or down the caller gets None (or
nothing happens) and carries on from MariaDB. A lost Redis loses nothing.
"""
import logging

import redis

import settings

log = logging.getLogger(__name__)

client = redis.Redis.from_url(
    settings.REDIS_URL, max_connections=settings.REDIS_POOL_SIZE,
    socket_timeout=settings.REDIS_TIMEOUT_MS / 1000,
    socket_connect_timeout=settings.REDIS_TIMEOUT_MS / 1000, decode_responses=False)

ERRORS = (redis.RedisError, OSError)
# CACHE_TTL_S=0 turns the read caches (wallets, history pages) off; Redis still serves
# login throttling and the idempotency fast path.
ENABLED = settings.CACHE_TTL_S > 0


def get(key: str) -> bytes | None:
    """The cached value, or None when it is absent, caching is off or Redis is unreachable."""
    if not ENABLED:
        return None
    try:
        value = client.get(key)
    except ERRORS as exc:
        log.warning("Redis GET failed, reading from the database instead: %s", exc)
        return None
    return value if isinstance(value, bytes) else None  # (the client never decodes)


def put(key: str, value: bytes | str, *, ttl_s: int = settings.CACHE_TTL_S) -> None:
    """Store a value for `ttl_s` seconds, if caching is on and Redis is there."""
    if not ENABLED:
        return
    try:
        client.set(key, value, ex=ttl_s)
    except ERRORS as exc:
        log.warning("Redis SET failed; the value stays uncached: %s", exc)


def drop(*keys: str) -> None:
    """Forget cached values, if Redis is there."""
    if not keys:
        return
    try:
        client.delete(*keys)
    except ERRORS as exc:
        log.warning("Redis DEL failed: %s", exc)
