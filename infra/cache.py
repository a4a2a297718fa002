"""Redis: a cache and a fast path, never the source of truth.

Every call here is best-effort: when Redis is slow or down the caller gets None (or
nothing happens) and carries on from MariaDB. A lost Redis loses nothing.

This is the one place a Redis client is built: from REDIS_URL, or through Redis Sentinel
(REDIS_SENTINELS, REDIS_MASTER_NAME), whose client finds the current master again after
a failover.
"""
import logging
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

import settings

log = logging.getLogger(__name__)

# Attempts after a command's connection fails, at once: one, for a pooled connection that
# Redis closed (a restart). redis-py's default is 10, backing off up to a second: with every
# sentinel unreachable one call took about 4 s, on every request. A timeout is not tried
# again: REDIS_TIMEOUT_MS is all a call may wait.
RECONNECTS = 1


def new_client(*, socket_timeout_s: float = settings.REDIS_TIMEOUT_MS / 1000,
               **options) -> redis.Redis:
    """A Redis client of the configured deployment (a plain server, or the master that
    REDIS_SENTINELS name), its pool of its own.

    Parameters:
      socket_timeout_s: how long one reply may take (the wake-up listener waits longer).
      options: more connection options (`max_connections`, `health_check_interval`).
    """
    timeouts = {"socket_timeout": socket_timeout_s,
                "socket_connect_timeout": settings.REDIS_TIMEOUT_MS / 1000,
                "retry": Retry(NoBackoff(), RECONNECTS,
                               supported_errors=(redis.ConnectionError,))}
    if not settings.REDIS_SENTINEL_NODES:
        return redis.Redis.from_url(settings.REDIS_URL, decode_responses=False,
                                    **timeouts, **options)
    url = urlsplit(settings.REDIS_URL)
    sentinel = Sentinel(list(settings.REDIS_SENTINEL_NODES), sentinel_kwargs=timeouts)
    return sentinel.master_for(
        settings.REDIS_MASTER_NAME, db=int(url.path.lstrip("/") or 0),
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        decode_responses=False, **timeouts, **options)


client = new_client(max_connections=settings.REDIS_POOL_SIZE)

# Whatever a Redis call raises means "no Redis now", never a failed request: redis-py's own
# errors, socket errors, but also what is not a RedisError (the cluster client's
# RedisClusterException for a cross-slot script, a client bug during a failover). Every
# `except ERRORS` wraps only the Redis call itself, so no bug of ours hides behind it.
ERRORS: tuple[type[BaseException], ...] = (Exception,)
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
