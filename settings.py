"""Configuration: the only module that reads the environment (and `.env`).

Every setting is an UPPER_CASE constant with its unit in the name and a comment
saying what it is for. The README's configuration table mirrors this file.
"""
import os
import sys

from dotenv import load_dotenv

# A `.env` beside this file fills in what the real environment leaves unset.
load_dotenv(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".env"), override=False)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"settings: {name} must be an integer, got {raw!r}") from None


def _str(name: str, default: str) -> str:
    return os.environ.get(name) or default


# development | test | production; anything but development demands real secrets.
ENV = _str("WALLET_ENV", "development")
DEVELOPMENT = ENV == "development"

# MariaDB/MySQL holding every durable fact; the database is created if missing.
DATABASE_URL = _str("DATABASE_URL", "mysql://root@127.0.0.1:3306/wallet")
# Connections each process keeps open to the database (web threads + worker threads).
DB_POOL_SIZE = _int("DB_POOL_SIZE", 32)
# Seconds a pooled connection is reused before it is recycled.
DB_POOL_RECYCLE_S = _int("DB_POOL_RECYCLE_S", 300)

# RabbitMQ (amqp://...) carrying the actors' messages; redis://... is also accepted.
BROKER_URL = _str("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
# AMQP heartbeat of this process's broker connections, in seconds (0: none). The Procfile
# sets 0 for web: its publishing connections idle between requests, and a blocking
# connection only answers heartbeats when used, so RabbitMQ would drop them.
AMQP_HEARTBEAT_S = _int("AMQP_HEARTBEAT_S", 30)
# Redis for caches, login throttling and the idempotency fast path (never the truth).
REDIS_URL = _str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Connections each process keeps open to Redis.
REDIS_POOL_SIZE = _int("REDIS_POOL_SIZE", 32)
# Seconds a Redis call may take before the service carries on without Redis.
REDIS_TIMEOUT_MS = _int("REDIS_TIMEOUT_MS", 200)

# HS256 key for access tokens; at least 32 bytes outside development.
JWT_SECRET = os.environ.get("JWT_SECRET", "")
# Seconds an access token stays valid.
TOKEN_TTL_S = _int("TOKEN_TTL_S", 3600)

# Fees in basis points (1/100 of a percent) of the moved amount, per operation.
DEPOSIT_FEE_BP = _int("DEPOSIT_FEE_BP", 50)
WITHDRAWAL_FEE_BP = _int("WITHDRAWAL_FEE_BP", 0)
TRANSFER_FEE_BP = _int("TRANSFER_FEE_BP", 0)
# Largest amount of one operation, in major units of its currency.
MAX_AMOUNT = _int("MAX_AMOUNT", 1_000_000_000)

# Failed logins for one email, or one client address, before 429 for a while.
LOGIN_MAX_FAILURES_PER_EMAIL = _int("LOGIN_MAX_FAILURES_PER_EMAIL", 5)
LOGIN_MAX_FAILURES_PER_IP = _int("LOGIN_MAX_FAILURES_PER_IP", 100)
# Seconds the failures are counted over, and the lock-out lasts.
LOGIN_WINDOW_S = _int("LOGIN_WINDOW_S", 900)

# Largest request body accepted, in bytes.
MAX_BODY_BYTES = _int("MAX_BODY_BYTES", 64 * 1024)
# Seconds an idempotency key is remembered in the Redis fast path (the database keeps it for good).
IDEMPOTENCY_TTL_S = _int("IDEMPOTENCY_TTL_S", 24 * 3600)
# Seconds a cached balance or history page lives in Redis; 0 turns those caches off.
CACHE_TTL_S = _int("CACHE_TTL_S", 300)
# Longest `?wait=` a client may ask of GET /v1/requests/{id}, in seconds.
MAX_WAIT_S = _int("MAX_WAIT_S", 30)

# waitress: worker threads and the most connections it holds open at once.
WEB_THREADS = _int("WEB_THREADS", 16)
WEB_CONNECTION_LIMIT = _int("WEB_CONNECTION_LIMIT", 1000)
# Address the web process listens on.
WEB_HOST = _str("WEB_HOST", "127.0.0.1")
WEB_PORT = _int("PORT", 8080)

# Actor retries on transient failures: how many, and the exponential backoff bounds.
MAX_RETRIES = _int("MAX_RETRIES", 20)
MIN_BACKOFF_MS = _int("MIN_BACKOFF_MS", 10)
MAX_BACKOFF_MS = _int("MAX_BACKOFF_MS", 5_000)
# Version conflicts on one attempt before it takes the wallet rows with SELECT ... FOR UPDATE.
OPTIMISTIC_TRIES = _int("OPTIMISTIC_TRIES", 2)
# Seconds a request may stay pending before the sweeper sends it again.
SWEEP_AFTER_S = _int("SWEEP_AFTER_S", 5)
# While its queue has a backlog, a pending request is re-sent only once this old (seconds).
SWEEP_BACKLOG_GRACE_S = _int("SWEEP_BACKLOG_GRACE_S", 120)
# Seconds between two sweeps.
SWEEP_EVERY_S = _int("SWEEP_EVERY_S", 2)

# Seconds /metrics serves its business gauges from cache, so a scrape storm cannot hammer
# MariaDB or RabbitMQ (0 reads them on every scrape).
METRICS_CACHE_TTL_S = _int("METRICS_CACHE_TTL_S", 5)

# Log level of web and worker processes.
LOG_LEVEL = _str("LOG_LEVEL", "INFO")

# Bearer token of the operations page at /ops (also what its login form asks for); at least
# 12 characters; unset outside development, the page admits no one.
OPS_TOKEN = os.environ.get("OPS_TOKEN", "")
# Seconds an ops login (its signed session cookie) stays valid.
OPS_SESSION_TTL_S = _int("OPS_SESSION_TTL_S", 8 * 3600)
# RabbitMQ's management HTTP API, with credentials, for the ops page's queue counts.
RABBITMQ_MANAGEMENT_URL = _str("RABBITMQ_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")

MIN_SECRET_BYTES = 32
_DEV_SECRET = "development-only-secret-never-use-in-production!!"
MIN_OPS_TOKEN_CHARS = 12
_DEV_OPS_TOKEN = "development-only-ops-token"


def _check_secret() -> str:
    """Refuse to run outside development without a real JWT secret."""
    if len(JWT_SECRET.encode()) >= MIN_SECRET_BYTES:
        return JWT_SECRET
    if not DEVELOPMENT:
        raise SystemExit(
            f"settings: JWT_SECRET must be set to at least {MIN_SECRET_BYTES} bytes when "
            f"WALLET_ENV={ENV} (it is {'missing' if not JWT_SECRET else 'too short'}); "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    print("WARNING: WALLET_ENV=development and no JWT_SECRET of 32+ bytes: using a public "
          "development key, so tokens are forgeable. Never run like this in production.",
          file=sys.stderr)
    return _DEV_SECRET


def _check_ops_token() -> str:
    """The ops page's token: a public one in development (with a warning), none elsewhere
    unless OPS_TOKEN is set, and then it must not be trivially short."""
    if OPS_TOKEN and len(OPS_TOKEN) < MIN_OPS_TOKEN_CHARS:
        raise SystemExit(f"settings: OPS_TOKEN must be at least {MIN_OPS_TOKEN_CHARS} characters; "
                         "generate one with: python -c 'import secrets; "
                         "print(secrets.token_urlsafe(32))'")
    if OPS_TOKEN or not DEVELOPMENT:
        return OPS_TOKEN
    print(f"WARNING: WALLET_ENV=development and no OPS_TOKEN: the ops page at /ops takes the "
          f"public token {_DEV_OPS_TOKEN!r}. Never run like this in production.", file=sys.stderr)
    return _DEV_OPS_TOKEN


def _check_fees() -> None:
    for name in ("DEPOSIT_FEE_BP", "WITHDRAWAL_FEE_BP", "TRANSFER_FEE_BP"):
        if not 0 <= globals()[name] <= 10_000:
            raise SystemExit(f"settings: {name} must be between 0 and 10000 basis points")


JWT_KEY = _check_secret()
# The token /ops accepts; empty (nobody gets in) outside development when OPS_TOKEN is unset.
OPS_KEY = _check_ops_token()
_check_fees()
