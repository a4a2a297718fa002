"""Peewee models over the MariaDB schema that `migrations/` creates.

The migrations own the DDL (generated "live" columns, CHECK constraints, indexes);
these models mirror it. Amounts are BIGINT minor units; times are UTC DATETIME(6).

Glossary (one name per thing, everywhere but the public API):
  user            someone who signs up and logs in (`users`).
  wallet          a user's account in one currency, holding a balance (`wallets`); one
                  live wallet per user and currency.
  system account  a wallet row without a user, per currency: `external` (money entering
                  or leaving the service) and `fees`; its balance is the sum of its
                  entries, never a column that is updated.
  request         one asked-for money movement (deposit, withdrawal, transfer, hold,
                  capture, void, refund), recorded `pending` at the door and settled once,
                  `succeeded` or `failed` (`transaction_requests`; the API's Request).
  entry           one ledger line of one wallet, written by a succeeded request; a
                  request's entries sum to zero (`transactions`; the API's Transaction).
  hold            money of a wallet reserved by a hold request, not yet moved (`holds`):
                  `pending` from the door, `active` once settled, then `captured`,
                  `voided`, `expired` (by the service) or `failed`.
  held            what a wallet's active holds still reserve (`wallets.held`): state of
                  the wallet, written like its balance; `available` = balance - held.
  capture         a request that moves held money: to the hold's recipient as a transfer,
                  or out of the service as a withdrawal; partial captures add up.
  void            a request that ends an active hold and releases what it still held;
                  `expire` is the same done by the service once the hold's time is up.
  refund          a request by the recipient of a transfer or capture that gives (part
                  of) what it received back to the sender; `refunded` on the original
                  counts how much, never past what was received.
  idempotency key what a client sends to make a call safe to repeat; reserved once per
                  user, whatever it made (`idempotency_keys`).
  notification    what a user is told about its wallets and requests.
  event           one change as one user sees it (`wallet.created`, `request.succeeded`,
                  `hold.captured`...), written in the change's own transaction with the
                  resource as it stood after it (`events`): the outbox of webhooks and the
                  `GET /v1/events` feed.
  webhook         an endpoint (URL) a user registered to be sent its events, signed with
                  the webhook's secret (`webhooks`), which the database holds sealed.
  job             one event to deliver to one webhook, until a 2xx or three days of
                  retries (`webhook_jobs`); each try is a delivery (`webhook_deliveries`).
  settle          carry out a pending request: its entries, balances, outcome and
                  notifications, in one transaction.
"""
import functools
import json
import ssl
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from cryptography.fernet import Fernet, MultiFernet
from peewee import (
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    CompositeKey,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from playhouse.pool import PooledMySQLDatabase
from playhouse.shortcuts import ReconnectMixin

import settings


def database_params(url: str) -> tuple[str, dict]:
    """Split a mysql:// URL into the database name and pymysql connect arguments."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb"):
        raise SystemExit(f"settings: DATABASE_URL must start with mysql://, got {parts.scheme}://")
    host = parts.hostname or "127.0.0.1"
    params = {"host": host, "port": parts.port or 3306,
              "user": unquote(parts.username or "root"), "password": unquote(parts.password or ""),
              "charset": "utf8mb4", **_tls_params(settings.database_tls(host))}
    return parts.path.lstrip("/") or "wallet", params


def _tls_params(mode: str) -> dict:
    # Left to itself pymysql "prefers" TLS: it falls back to plaintext silently, and builds
    # a context for every connection, loading the system's CA store each time (56 ms of CPU
    # per connection here, a tail for any thread that opens one).
    if mode == "off":
        return {"ssl_disabled": True}
    return {"ssl": _tls_context(verify=mode == "verify")}


@functools.cache
def _tls_context(*, verify: bool) -> ssl.SSLContext:
    """One context per process: verifying against DATABASE_TLS_CA, or encrypting only."""
    if verify:
        return ssl.create_default_context(cafile=settings.DATABASE_TLS_CA)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo (how DATETIME columns hold it)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Database(ReconnectMixin, PooledMySQLDatabase):
    """Pooled connections that each thread keeps between requests and messages.

    Checking a connection out of peewee's pool pings it, and checking it in rolls it
    back, both under the pool's lock: two round trips per request, serialised across
    threads. So threads keep their connection, and a statement outside a transaction
    that finds it gone (MariaDB restarted, or timed it out) reconnects once and retries.
    """


def session_command(variables: dict[str, str]) -> str:
    """The statement every connection runs as it opens: READ COMMITTED (a plain SELECT sees
    the latest committed row, so a version read just before a version-checked UPDATE is
    rarely stale, and no gap locks block the inserts), then DB_SESSION_VARIABLES (values
    that are not numbers are quoted)."""
    assignments = ["tx_isolation = 'READ-COMMITTED'"] + [
        f"{name} = {value if value.isdigit() else repr(value)}"
        for name, value in variables.items()]
    return "SET SESSION " + ", ".join(assignments)


_name, _params = database_params(settings.DATABASE_URL)
db = Database(
    _name, max_connections=settings.DB_POOL_SIZE, stale_timeout=settings.DB_POOL_RECYCLE_S,
    timeout=10, connect_timeout=5, autoconnect=True,
    init_command=session_command(settings.DB_SESSION), **_params)


class Timestamp(DateTimeField):
    field_type = "DATETIME(6)"


@functools.cache
def _sealer() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.WEBHOOK_SEALING_KEYS])


class SealedField(CharField):
    """Text the database holds sealed (Fernet: AES-CBC and an HMAC, with WEBHOOK_SECRET_KEYS'
    first key) and Python sees plain. A row sealed with no key of ours does not open: it
    raises InvalidToken rather than pass for something else."""

    def db_value(self, value):
        return None if value is None else _sealer().encrypt(value.encode()).decode()

    def python_value(self, value):
        return None if value is None else _sealer().decrypt(value.encode()).decode()


def reseal(sealed: str) -> str:
    """`sealed` sealed again with the first key (see settings.WEBHOOK_SECRET_KEYS)."""
    return _sealer().rotate(sealed.encode()).decode()


class JSONField(TextField):
    """A MariaDB JSON column (LONGTEXT holding valid JSON), as Python values."""

    field_type = "JSON"

    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"),
                                                     ensure_ascii=False)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = db

    @classmethod
    def columns(cls, alias: str) -> str:
        """Every column of the table, in the model's field order, for raw SQL (`from_row`
        reads them back): what a hot path reads with its caller in one query."""
        return ", ".join(f"{alias}.{f.column_name}" for f in cls._meta.sorted_fields)

    @classmethod
    def from_row(cls, row: tuple):
        """The row `columns` selected (and anything after it, ignored), as a model."""
        fields = cls._meta.sorted_fields
        return cls(**{f.name: f.python_value(value)
                      for f, value in zip(fields, row[:len(fields)], strict=True)})


# The statuses of a request.
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
STATUSES = (PENDING, SUCCEEDED, FAILED)


def newest_first(query, id_field, *, index: str | None, limit: int,
                 after: int | None) -> list:
    """A keyset page of `query`, newest first: the rows with ids below `after` (all when
    None), at most `limit` + 1 of them, so the caller can tell whether more follow.

    FORCE INDEX `index`, the (owner, id) index that serves the list: with the whole row
    selected, MariaDB picks a `ref` on the index's first column and walks back from the
    newest row to the cursor (350,000 rows, 0.7 s, half way down a 1,000,000-entry
    wallet) instead of seeking to it. `index` None lets the database choose (filters that
    no one index serves).
    """
    if after is not None:
        query = query.where(id_field < after)
    if index is None:
        return list(query.order_by(id_field.desc()).limit(limit + 1))
    sql, params = query.order_by(id_field.desc()).limit(limit + 1).sql()
    source = f"FROM `{query.model._meta.table_name}` AS `t1`"
    if source not in sql:
        raise AssertionError(f"unexpected query shape: {sql}")
    return list(query.model.raw(sql.replace(source, f"{source} FORCE INDEX (`{index}`)", 1),
                                *params))


class User(BaseModel):
    id = BigAutoField()
    email = CharField(max_length=254)
    username = CharField(max_length=32)
    password_hash = CharField(max_length=255)
    # Copied into each access token; bumped by logout and password changes, which ends
    # every token issued before.
    token_generation = BigIntegerField(default=0)
    created_at = Timestamp(default=utcnow)
    updated_at = Timestamp(default=utcnow)
    deleted_at = Timestamp(null=True)

    class Meta:
        table_name = "users"


class Wallet(BaseModel):
    id = BigAutoField()
    # NULL for the per-currency system accounts (money entering/leaving, fees).
    user = ForeignKeyField(User, null=True, backref="wallets", column_name="user_id")
    user_id: int | None
    currency = CharField(max_length=3)
    balance = BigIntegerField(default=0)
    # What active holds on this wallet still reserve; available = balance - held.
    held = BigIntegerField(default=0)
    version = BigIntegerField(default=0)
    system_key = CharField(max_length=16, null=True)
    created_at = Timestamp(default=utcnow)
    updated_at = Timestamp(default=utcnow)
    deleted_at = Timestamp(null=True)

    class Meta:
        table_name = "wallets"


class TransactionRequest(BaseModel):
    id = BigAutoField()
    user = ForeignKeyField(User, column_name="user_id")
    type = CharField(max_length=16)
    status = CharField(max_length=16, default=PENDING)
    currency = CharField(max_length=3)
    amount = BigIntegerField()
    fee = BigIntegerField(default=0)
    wallet = ForeignKeyField(Wallet, column_name="wallet_id", backref="+")
    to_wallet = ForeignKeyField(Wallet, null=True, column_name="to_wallet_id", backref="+")
    # The ids behind the foreign keys, as peewee exposes them (declared for type checkers).
    user_id: int
    wallet_id: int
    to_wallet_id: int | None
    failure_code = CharField(max_length=32, null=True)
    failure_detail = CharField(max_length=255, null=True)
    trace_id = CharField(max_length=64, null=True)
    # The hold a hold, capture or void acts on; the request a refund gives back.
    hold_id = BigIntegerField(null=True)
    refund_of = BigIntegerField(null=True)
    # A transfer's or capture's total refunded so far (never past amount - fee).
    refunded = BigIntegerField(default=0)
    # A capture that ends its hold whatever remains.
    capture_final = BooleanField(default=False)
    description = CharField(max_length=255, null=True)
    metadata = JSONField(null=True)
    # How often, and when last, the sweeper re-sent this request (the outbox's backoff).
    sweeps = IntegerField(default=0)
    swept_at = Timestamp(null=True)
    created_at = Timestamp(default=utcnow)
    completed_at = Timestamp(null=True)

    class Meta:
        table_name = "transaction_requests"


class Hold(BaseModel):
    """Money of a wallet reserved, not yet moved: its amount stays in the wallet's balance
    and counts in its `held` while the hold is pending or active."""

    id = BigAutoField()
    # The payer: the owner of the held wallet; `to_user_id` owns the recipient, if any.
    user_id = BigIntegerField()
    wallet_id = BigIntegerField()
    to_wallet_id = BigIntegerField(null=True)
    to_user_id = BigIntegerField(null=True)
    currency = CharField(max_length=3)
    amount = BigIntegerField()
    # The total of its succeeded captures; never past amount.
    captured = BigIntegerField(default=0)
    status = CharField(max_length=16, default=PENDING)
    expires_at = Timestamp()
    request_id = BigIntegerField(null=True)
    description = CharField(max_length=255, null=True)
    metadata = JSONField(null=True)
    created_at = Timestamp(default=utcnow)
    updated_at = Timestamp(default=utcnow)

    class Meta:
        table_name = "holds"


class Transaction(BaseModel):
    """One ledger entry of one wallet; the entries of a request sum to zero."""

    id = BigAutoField()
    request = ForeignKeyField(TransactionRequest, column_name="request_id", backref="entries")
    wallet = ForeignKeyField(Wallet, column_name="wallet_id", backref="+")
    request_id: int
    wallet_id: int
    type = CharField(max_length=16)
    amount = BigIntegerField()
    fee = BigIntegerField(default=0)
    # NULL on system accounts, whose balance is the sum of their entries.
    balance_after = BigIntegerField(null=True)
    counterparty_wallet_id = BigIntegerField(null=True)
    created_at = Timestamp(default=utcnow)

    class Meta:
        table_name = "transactions"


class IdempotencyKey(BaseModel):
    """An Idempotency-Key a user sent: what it asked (fingerprint) and what it made, a money
    request or a wallet. The primary key (user, key) is the one place a key is reserved."""

    user = ForeignKeyField(User, column_name="user_id")
    idempotency_key = CharField(max_length=255)
    fingerprint = CharField(max_length=64)
    request = ForeignKeyField(TransactionRequest, null=True, column_name="request_id",
                              backref="+")
    wallet = ForeignKeyField(Wallet, null=True, column_name="wallet_id", backref="+")
    webhook_id = BigIntegerField(null=True)
    created_at = Timestamp(default=utcnow)
    user_id: int
    request_id: int | None
    wallet_id: int | None

    class Meta:
        table_name = "idempotency_keys"
        primary_key = CompositeKey("user", "idempotency_key")


class Notification(BaseModel):
    id = BigAutoField()
    user = ForeignKeyField(User, column_name="user_id")
    type = CharField(max_length=32)
    title = CharField(max_length=200)
    body = CharField(max_length=1000)
    request = ForeignKeyField(TransactionRequest, null=True, column_name="request_id",
                              backref="+")
    is_read = BooleanField(default=False)
    # Makes writing a notification safe to repeat: one per event and recipient.
    dedupe_key = CharField(max_length=64)
    created_at = Timestamp(default=utcnow)

    class Meta:
        table_name = "notifications"


class Event(BaseModel):
    """One change as one user sees it; `data` is the resource after the change."""

    id = BigAutoField()
    user_id = BigIntegerField()
    type = CharField(max_length=32)
    data = JSONField()
    # Whether its webhook jobs were made yet (webhooks/dispatch.py).
    dispatched = BooleanField(default=False)
    created_at = Timestamp(default=utcnow)

    class Meta:
        table_name = "events"


class Webhook(BaseModel):
    id = BigAutoField()
    user_id = BigIntegerField()
    url = CharField(max_length=2048)
    events = JSONField()
    description = CharField(max_length=255, null=True)
    # `whsec_` + base64 of random bytes: shown once, at creation; signs every delivery.
    # Sealed: what leaks from the database (a backup, a replica) cannot sign a webhook.
    secret = SealedField(max_length=255)
    created_at = Timestamp(default=utcnow)
    deleted_at = Timestamp(null=True)

    class Meta:
        table_name = "webhooks"


class WebhookJob(BaseModel):
    """One event to deliver to one webhook: pending, succeeded, failed or cancelled."""

    id = BigAutoField()
    webhook_id = BigIntegerField()
    event_id = BigIntegerField()
    status = CharField(max_length=16, default=PENDING)
    attempts = IntegerField(default=0)
    next_attempt_at = Timestamp(null=True)
    # A worker sending it holds it until then; a crashed one's claim lapses.
    claimed_until = Timestamp(null=True)
    # When its message was last handed to the broker (the sweeper's backoff).
    sent_at = Timestamp(null=True)
    created_at = Timestamp(default=utcnow)
    updated_at = Timestamp(default=utcnow)

    class Meta:
        table_name = "webhook_jobs"


class WebhookDelivery(BaseModel):
    """One attempt to deliver an event to a webhook."""

    id = BigAutoField()
    webhook_id = BigIntegerField()
    job_id = BigIntegerField()
    event_id = BigIntegerField()
    event_type = CharField(max_length=32)
    attempt = IntegerField()
    status = CharField(max_length=16)
    response_status = IntegerField(null=True)
    error = CharField(max_length=255, null=True)
    duration_ms = IntegerField()
    next_attempt_at = Timestamp(null=True)
    created_at = Timestamp(default=utcnow)

    class Meta:
        table_name = "webhook_deliveries"


class LoginLog(BaseModel):
    id = BigAutoField()
    user = ForeignKeyField(User, null=True, column_name="user_id")
    ip_address = CharField(max_length=45)
    user_agent = CharField(max_length=512)
    success = BooleanField()
    # sha256 of the email the attempt named (see throttle.py), so failures can be counted
    # per email from the database when Redis cannot.
    email_digest = CharField(max_length=32, default="")
    created_at = Timestamp(default=utcnow)

    class Meta:
        table_name = "login_logs"


class OpsSession(BaseModel):
    """One login to the ops page; its cookie names the nonce, logging out ends it."""

    nonce = CharField(max_length=32, primary_key=True)
    ip_address = CharField(max_length=45)
    created_at = Timestamp(default=utcnow)
    expires_at = Timestamp()
    ended_at = Timestamp(null=True)

    class Meta:
        table_name = "ops_sessions"


class AuditRun(BaseModel):
    """One run of the ledger audit (see audit.py): how many findings, and its report."""

    id = BigAutoField()
    started_at = Timestamp()
    finished_at = Timestamp()
    findings = IntegerField()
    report = TextField()

    class Meta:
        table_name = "audit_runs"

