"""Configuration: the only module that reads the environment (and `.env`).

Every setting is an UPPER_CASE constant with its unit in the name and a comment
saying what it is for. The README's configuration table mirrors this file.

Secrets fail closed: no key that appears in the repository ever signs a token or opens
/ops. `make run` and `make test` generate random per-checkout secrets into the
git-ignored `.env` (`python manage.py secrets`); an explicitly configured one wins.
"""
import base64
import hashlib
import ipaddress
import os
import re
from urllib.parse import urlsplit

from dotenv import load_dotenv

# `.env` beside this file (per checkout, git-ignored, written by `manage.py secrets`) fills in
# what the real environment leaves unset.
DOTENV_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".env")
load_dotenv(DOTENV_PATH, override=False)


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


def _bool(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in ("1", "true", "yes", "0", "false", "no"):
        raise SystemExit(f"settings: {name} must be true or false, got {raw!r}")
    return raw in ("1", "true", "yes")


# development | test | production; anything but development demands real secrets.
ENV = _str("WALLET_ENV", "development")
DEVELOPMENT = ENV == "development"

# MariaDB/MySQL holding every durable fact; the database is created if missing.
DATABASE_URL = _str("DATABASE_URL", "mysql://root@127.0.0.1:3306/wallet")
# Connections each process keeps open to the database at most: one for every web thread
# (WEB_THREADS, checked below) and for every worker thread that queries (settling actors
# hand their requests to one batcher thread), with room for background threads.
DB_POOL_SIZE = _int("DB_POOL_SIZE", 48)
# Seconds a pooled connection is reused before it is recycled.
DB_POOL_RECYCLE_S = _int("DB_POOL_RECYCLE_S", 300)
# TLS to the database: `off`, `required` (encrypted, the certificate unchecked) or `verify`
# (encrypted, the certificate checked against DATABASE_TLS_CA and the host's name). Empty:
# off for a loopback host, where TLS protects nothing, required for any other (never
# pymysql's own "preferred", which falls back to plaintext without a word).
DATABASE_TLS = _str("DATABASE_TLS", "")
# The CA certificate file `verify` checks the database's certificate against.
DATABASE_TLS_CA = _str("DATABASE_TLS_CA", "")
# Session variables set on every database connection as it opens, `name=value` comma
# separated: `wsrep_sync_wait=1` where reads may reach another Galera node than writes.
DB_SESSION_VARIABLES = _str("DB_SESSION_VARIABLES", "")

# RabbitMQ (amqp://...) carrying the actors' messages; redis://... is also accepted. The
# nodes of a RabbitMQ cluster are `;`-separated URLs, tried in turn.
BROKER_URL = _str("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
# Declare the actor queues (and their .DQ and .XQ) as RabbitMQ quorum queues, replicated over
# a cluster's nodes; false declares classic queues. RabbitMQ refuses to redeclare a queue as
# the other type: switch on a new vhost, or drain and delete the queues first (README).
BROKER_QUORUM_QUEUES = _bool("BROKER_QUORUM_QUEUES", True)
# Where a new quorum queue's leader goes: balanced (spread over the nodes) or client-local.
BROKER_QUEUE_LEADER_LOCATOR = _str("BROKER_QUEUE_LEADER_LOCATOR", "balanced")
# Wait for RabbitMQ's publisher confirm on every message sent (web, workers, sweeper, ops):
# a send that returns has been taken by the queue; one that raises is covered by the sweeper.
BROKER_CONFIRM_DELIVERY = _bool("BROKER_CONFIRM_DELIVERY", True)
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
# Redis Sentinel: the sentinels' `host:port` (comma separated) and the name of the master
# they watch; when set, the master is asked of them (REDIS_URL then gives only the
# database number and the password).
REDIS_SENTINELS = _str("REDIS_SENTINELS", "")
REDIS_MASTER_NAME = _str("REDIS_MASTER_NAME", "mymaster")

# HS256 key for access tokens, at least 32 bytes, in every environment (`make run` and
# `make test` generate one into `.env`).
JWT_SECRET = os.environ.get("JWT_SECRET", "")
# Seconds an access token stays valid.
TOKEN_TTL_S = _int("TOKEN_TTL_S", 3600)
# The argon2id cost of new password hashes: `rfc9106-low-memory` (argon2-cffi's default:
# 3 passes over 64 MiB, 4 lanes; about 150 ms of CPU a hash), or `cheapest` (argon2-cffi's
# profile for tests: 1 pass over 8 KiB), which only WALLET_ENV=test accepts, so that the
# suite's thousands of sign-ups and logins cost milliseconds. A stored hash carries its
# own cost: verifying never depends on this.
PASSWORD_HASH_PROFILE = _str("PASSWORD_HASH_PROFILE", "rfc9106-low-memory")

# Fees in basis points (1/100 of a percent) of the moved amount, per operation.
DEPOSIT_FEE_BP = _int("DEPOSIT_FEE_BP", 50)
WITHDRAWAL_FEE_BP = _int("WITHDRAWAL_FEE_BP", 0)
TRANSFER_FEE_BP = _int("TRANSFER_FEE_BP", 0)
# Largest amount of one operation, in major units of its currency.
MAX_AMOUNT = _int("MAX_AMOUNT", 1_000_000_000)

# Login failures allowed within LOGIN_WINDOW_S before even the right password gets 429:
# for one email from one client address, from one address, and for one email from anywhere.
LOGIN_MAX_FAILURES_PER_EMAIL_IP = _int("LOGIN_MAX_FAILURES_PER_EMAIL_IP", 5)
LOGIN_MAX_FAILURES_PER_IP = _int("LOGIN_MAX_FAILURES_PER_IP", 100)
LOGIN_MAX_FAILURES_PER_EMAIL = _int("LOGIN_MAX_FAILURES_PER_EMAIL", 1000)
# Seconds the failures are counted over, and the lock-out lasts.
LOGIN_WINDOW_S = _int("LOGIN_WINDOW_S", 900)
# Sign-ups one client address may attempt within SIGNUP_WINDOW_S.
SIGNUP_MAX_PER_IP = _int("SIGNUP_MAX_PER_IP", 20)
SIGNUP_WINDOW_S = _int("SIGNUP_WINDOW_S", 3600)
# Failed ops logins (form or bearer) one client address may make within LOGIN_WINDOW_S.
OPS_LOGIN_MAX_FAILURES_PER_IP = _int("OPS_LOGIN_MAX_FAILURES_PER_IP", 10)
# Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed (comma
# separated; empty: the peer address is the client address).
TRUSTED_PROXIES = _str("TRUSTED_PROXIES", "")

# Largest request body accepted, in bytes.
MAX_BODY_BYTES = _int("MAX_BODY_BYTES", 64 * 1024)
# Seconds an idempotency key is remembered in the Redis fast path (the database keeps it for good).
IDEMPOTENCY_TTL_S = _int("IDEMPOTENCY_TTL_S", 24 * 3600)
# Seconds a cached balance or history page lives in Redis; 0 turns those caches off.
CACHE_TTL_S = _int("CACHE_TTL_S", 300)
# Longest `?wait=` a client may ask of GET /v1/requests/{id}, in seconds.
MAX_WAIT_S = _int("MAX_WAIT_S", 30)
# `?wait=` polls held at once by one web process, and by one user in it; a poll beyond
# either answers at once with the request as it stands, so other callers find a thread.
MAX_WAITING_POLLS = _int("MAX_WAITING_POLLS", 6)
MAX_WAITING_POLLS_PER_USER = _int("MAX_WAITING_POLLS_PER_USER", 2)
# Seconds between two database reads of a waited-on request: while the wake-up channel
# (Redis pub/sub) listens, only as a safety net; while it does not, as the fallback.
WAIT_RECHECK_S = _int("WAIT_RECHECK_S", 5)
WAIT_FALLBACK_POLL_MS = _int("WAIT_FALLBACK_POLL_MS", 250)

# waitress: worker threads and the most connections it holds open at once. 32 rather than
# 16: on two cores shared with the workers, the web's threads are its share of the CPU, and
# with 32 the service settled a fifth more transfers a second (README, Performance).
WEB_THREADS = _int("WEB_THREADS", 32)
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
# Requests a worker process settles in one transaction at most, and how long the first of
# a batch waits for others to join it (a batch being written gathers the next meanwhile).
SETTLE_BATCH_MAX_REQUESTS = _int("SETTLE_BATCH_MAX_REQUESTS", 64)
SETTLE_BATCH_WAIT_MS = _int("SETTLE_BATCH_WAIT_MS", 2)
# Seconds a request may stay pending before the sweeper sends it again.
SWEEP_AFTER_S = _int("SWEEP_AFTER_S", 5)
# While its queue has a backlog, a pending request is re-sent only once this old (seconds).
SWEEP_BACKLOG_GRACE_S = _int("SWEEP_BACKLOG_GRACE_S", 120)
# Seconds between two sweeps.
SWEEP_EVERY_S = _int("SWEEP_EVERY_S", 2)
# Holds: how long one reserves money unless its request says (`expires_in_s`, within the
# bounds below), and the longest an active hold outlives its time before the service
# expires it (the sweeper asks for an expiry round three times as often).
HOLD_DEFAULT_EXPIRY_S = _int("HOLD_DEFAULT_EXPIRY_S", 7 * 24 * 3600)
HOLD_MIN_EXPIRY_S = 60
HOLD_MAX_EXPIRY_S = 30 * 24 * 3600
HOLD_EXPIRY_SWEEP_S = _int("HOLD_EXPIRY_SWEEP_S", 30)

# Webhooks: how long a receiver has to answer 2xx, the first retry's delay (each later one
# doubles, up to WEBHOOK_MAX_RETRY_GAP_S, with +-20 % jitter), how long retries go on, how
# many endpoints a user may register, and whether private addresses may be called (only
# for an internal deployment; development and test may always).
WEBHOOK_TIMEOUT_S = _int("WEBHOOK_TIMEOUT_S", 5)
WEBHOOK_FIRST_RETRY_S = _int("WEBHOOK_FIRST_RETRY_S", 5)
WEBHOOK_MAX_RETRY_GAP_S = _int("WEBHOOK_MAX_RETRY_GAP_S", 3600)
WEBHOOK_RETRY_FOR_S = _int("WEBHOOK_RETRY_FOR_S", 3 * 24 * 3600)
MAX_WEBHOOKS_PER_USER = _int("MAX_WEBHOOKS_PER_USER", 10)
WEBHOOK_ALLOW_PRIVATE = _str("WEBHOOK_ALLOW_PRIVATE", "false").lower() in ("1", "true", "yes")
# A due delivery whose message was handed to the broker this long ago and has not been
# tried is handed over again by the sweeper.
WEBHOOK_RESEND_AFTER_S = _int("WEBHOOK_RESEND_AFTER_S", 60)

# Seconds /metrics serves its business gauges from cache, so a scrape storm cannot hammer
# MariaDB or RabbitMQ (0 reads them on every scrape).
METRICS_CACHE_TTL_S = _int("METRICS_CACHE_TTL_S", 5)

# Log level of web and worker processes.
LOG_LEVEL = _str("LOG_LEVEL", "INFO")

# Bearer token of the operations page at /ops (also what its login form asks for); at least
# 12 characters; unset, the page admits no one (`make run` generates one into `.env`).
OPS_TOKEN = os.environ.get("OPS_TOKEN", "")
# Seconds an ops login (its signed session cookie) stays valid.
OPS_SESSION_TTL_S = _int("OPS_SESSION_TTL_S", 8 * 3600)
# RabbitMQ's management HTTP API, with credentials, for the ops page's queue counts; the
# nodes of a cluster `;`-separated, asked in turn until one answers.
RABBITMQ_MANAGEMENT_URL = _str("RABBITMQ_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")
# Keys that seal the webhooks' signing secrets in the database, comma separated, each a
# Fernet key (URL-safe base64 of 32 random bytes): the first seals, every one opens. To
# rotate, put a new key first, run `python manage.py reseal`, then drop the old one.
# Required, like JWT_SECRET (`manage.py secrets` generates one into `.env`).
WEBHOOK_SECRET_KEYS = os.environ.get("WEBHOOK_SECRET_KEYS", "")

MIN_SECRET_BYTES = 32
MIN_OPS_TOKEN_CHARS = 12
# SHA-256 digests of secrets that once stood in this repository (the old development key
# and ops token, the old test and bench secrets): refused wherever they are configured.
PUBLISHED_SECRET_DIGESTS = frozenset({
    "0befafaab2038a4fbf25d25f4972424945209c9f78a724fcb4bab08ef725206c",
    "9b1dc229877c862d782bbbced87b1ffeca4cb2d0719a020239202539aaeb7576",
    "ca30b91f47f0e8aaf99c1846605986042b3d64a076985e780e54b6506dcc47ff",
    "f76377731404f399e8768eba44c29b90e7e2dd43faffd7cfb916d64e185997be",
    "2a800215cf9052a919b503559d68cb13a05b96521566f873f48df50111c2f05c",
})


def _published(secret: str) -> bool:
    return hashlib.sha256(secret.encode()).hexdigest() in PUBLISHED_SECRET_DIGESTS


HOW_TO_GENERATE = ("run `make run` or `make test` (they write random per-checkout secrets "
                   "into .env), or `python manage.py secrets`")


def _check_secret() -> str:
    """The JWT key: configured, long enough and never one that appeared in the repository."""
    if _published(JWT_SECRET):
        raise SystemExit("settings: JWT_SECRET is a secret published in this repository; "
                         f"{HOW_TO_GENERATE}.")
    if len(JWT_SECRET.encode()) >= MIN_SECRET_BYTES:
        return JWT_SECRET
    raise SystemExit(
        f"settings: JWT_SECRET must be set to at least {MIN_SECRET_BYTES} bytes "
        f"(WALLET_ENV={ENV}; it is {'missing' if not JWT_SECRET else 'too short'}); "
        f"{HOW_TO_GENERATE}.")


def _check_ops_token() -> str:
    """The ops page's token: none (the page admits no one) unless OPS_TOKEN is set, and then
    it must not be trivially short or published."""
    if OPS_TOKEN and (len(OPS_TOKEN) < MIN_OPS_TOKEN_CHARS or _published(OPS_TOKEN)):
        raise SystemExit(f"settings: OPS_TOKEN must be at least {MIN_OPS_TOKEN_CHARS} characters "
                         f"and never one published in this repository; {HOW_TO_GENERATE}.")
    return OPS_TOKEN


def _check_sealing_keys() -> tuple[str, ...]:
    """The webhook secrets' sealing keys: at least one, each 32 bytes of URL-safe base64,
    none published in the repository."""
    keys = tuple(k.strip() for k in WEBHOOK_SECRET_KEYS.split(",") if k.strip())
    if not keys:
        raise SystemExit("settings: WEBHOOK_SECRET_KEYS must be set (it seals the webhooks' "
                         f"signing secrets in the database); {HOW_TO_GENERATE}.")
    for key in keys:
        try:
            size = len(base64.urlsafe_b64decode(key.encode()))
        except ValueError:
            size = 0
        if size != 32 or _published(key):
            raise SystemExit("settings: each of WEBHOOK_SECRET_KEYS must be URL-safe base64 of "
                             "32 random bytes, never one published in this repository; "
                             f"{HOW_TO_GENERATE}.")
    return keys


def _check_fees() -> None:
    for name in ("DEPOSIT_FEE_BP", "WITHDRAWAL_FEE_BP", "TRANSFER_FEE_BP"):
        if not 0 <= globals()[name] <= 10_000:
            raise SystemExit(f"settings: {name} must be between 0 and 10000 basis points")


def _check_waits() -> None:
    # Long polls hold a waitress thread each: leave at least a quarter of them free.
    if not 0 <= MAX_WAITING_POLLS <= WEB_THREADS * 3 // 4:
        raise SystemExit(f"settings: MAX_WAITING_POLLS must be 0 to {WEB_THREADS * 3 // 4} "
                         f"(three quarters of WEB_THREADS={WEB_THREADS})")


def _check_pool() -> None:
    # A web thread beyond the pool would wait for a connection under load, then fail.
    if DB_POOL_SIZE < WEB_THREADS:
        raise SystemExit(f"settings: DB_POOL_SIZE={DB_POOL_SIZE} must be at least "
                         f"WEB_THREADS={WEB_THREADS} (a connection for every web thread)")


def _check_password_hash_profile() -> None:
    # A cheap hash is a stolen database's passwords cracked: never outside the tests.
    allowed = ("rfc9106-low-memory", "cheapest") if ENV == "test" else ("rfc9106-low-memory",)
    if PASSWORD_HASH_PROFILE not in allowed:
        raise SystemExit(f"settings: PASSWORD_HASH_PROFILE must be {' or '.join(allowed)} "
                         f"with WALLET_ENV={ENV}, got {PASSWORD_HASH_PROFILE!r}")


def _check_leader_locator() -> None:
    if BROKER_QUEUE_LEADER_LOCATOR not in ("balanced", "client-local"):
        raise SystemExit("settings: BROKER_QUEUE_LEADER_LOCATOR must be balanced or "
                         f"client-local, got {BROKER_QUEUE_LEADER_LOCATOR!r}")


def _sentinels() -> tuple[tuple[str, int], ...]:
    nodes = []
    for part in (p.strip() for p in REDIS_SENTINELS.split(",")):
        if not part:
            continue
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            raise SystemExit(f"settings: REDIS_SENTINELS must be host:port pairs, got {part!r}")
        nodes.append((host.strip("[]"), int(port)))
    return tuple(nodes)


def _session_variables() -> dict[str, str]:
    variables = {}
    for part in (p.strip() for p in DB_SESSION_VARIABLES.split(",")):
        if not part:
            continue
        name, _, value = part.partition("=")
        if not re.fullmatch(r"[a-z_]+", name.strip()) or not re.fullmatch(
                r"[A-Za-z0-9_.-]+", value.strip()):
            raise SystemExit("settings: DB_SESSION_VARIABLES must be name=value pairs of "
                             f"letters, digits and _.-, got {part!r}")
        variables[name.strip()] = value.strip()
    return variables


def database_tls(host: str, *, configured: str | None = None) -> str:
    """How to reach a database at `host`: DATABASE_TLS (or `configured`), or off on a
    loopback address and required elsewhere."""
    mode = DATABASE_TLS if configured is None else configured
    if not mode:
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        mode = "off" if loopback else "required"
    if mode not in ("off", "required", "verify"):
        raise SystemExit(f"settings: DATABASE_TLS must be off, required or verify, got {mode!r}")
    if mode == "verify" and not DATABASE_TLS_CA:
        raise SystemExit("settings: DATABASE_TLS=verify needs DATABASE_TLS_CA, the CA "
                         "certificate file to check the database's certificate against")
    return mode


def _trusted_proxies() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False)
                     for part in TRUSTED_PROXIES.split(",") if part.strip())
    except ValueError as exc:
        raise SystemExit(f"settings: TRUSTED_PROXIES: {exc}") from None


JWT_KEY = _check_secret()
# The token /ops accepts; empty (nobody gets in) when OPS_TOKEN is unset.
OPS_KEY = _check_ops_token()
# WEBHOOK_SECRET_KEYS, parsed: the first seals, every one opens.
WEBHOOK_SEALING_KEYS = _check_sealing_keys()
# REDIS_SENTINELS and DB_SESSION_VARIABLES, parsed.
REDIS_SENTINEL_NODES = _sentinels()
DB_SESSION = _session_variables()
# TRUSTED_PROXIES, parsed.
TRUSTED_PROXY_NETWORKS = _trusted_proxies()
database_tls(urlsplit(DATABASE_URL).hostname or "127.0.0.1")  # a bad value stops us here
_check_fees()
_check_waits()
_check_pool()
_check_leader_locator()
_check_password_hash_profile()
