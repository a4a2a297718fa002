"""Seeding straight into the database, fast and audit-clean.

Every seeded wallet is funded by a succeeded `deposit` request (fee 0, its own
idempotency key) with two balanced entries: the wallet's (+amount, balance_after) and the
`external:USD` system account's (-amount). Rows are written server-side with
`INSERT ... SELECT` over MariaDB's SEQUENCE engine (`seq_1_to_N`), in chunks, so a million
rows never cross the wire one by one. Users, wallets and requests get consecutive explicit
ids, so a population is three numbers: user i owns wallet `wallet_base + i`.
"""
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pymysql
from argon2 import PasswordHasher

from bench.config import CURRENCY, SEED_BALANCE_MINOR
from bench.db import scalar

# Rows per INSERT ... SELECT statement (each its own autocommitted transaction).
CHUNK_ROWS = 50_000
PASSWORD = "bench password 0123"
FINGERPRINT = "0" * 64
SYSTEM_KEYS = (f"external:{CURRENCY}", f"fees:{CURRENCY}")
# History wallets' entries are spread over a year before the seeding.
YEAR_S = 365 * 24 * 3600


@dataclass(frozen=True)
class Population:
    """`count` users, user `user_base + i` owning wallet `wallet_base + i`."""

    user_base: int
    wallet_base: int
    count: int

    def subset(self, count: int) -> "Population":
        """The first `count` users and wallets."""
        return replace(self, count=min(count, self.count))

    def as_spec(self) -> dict:
        return {"user_base": self.user_base, "wallet_base": self.wallet_base,
                "count": self.count}


@dataclass(frozen=True)
class HistoryWallet:
    """A wallet with `entries` deposits made one every `step_us` microseconds up to
    `last_at`; `middle_entry_id` is its entry halfway back."""

    user_id: int
    wallet_id: int
    entries: int
    middle_entry_id: int
    last_at: datetime
    step_us: int

    @property
    def first_at(self) -> datetime:
        return self.last_at - timedelta(microseconds=self.step_us * (self.entries - 1))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _next_id(conn: pymysql.connections.Connection, table: str) -> int:
    return int(scalar(conn, f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"))


def _chunks(first: int, count: int):
    """(low, high) bounds, inclusive, covering first .. first + count - 1."""
    for low in range(first, first + count, CHUNK_ROWS):
        yield low, min(low + CHUNK_ROWS, first + count) - 1


def system_wallets(conn: pymysql.connections.Connection) -> dict[str, int]:
    """Create (if missing) the per-currency system accounts; their ids by system_key."""
    now = _now()
    with conn.cursor() as cur:
        cur.executemany("INSERT IGNORE INTO wallets (user_id, currency, system_key, created_at, "
                        "updated_at) VALUES (NULL, %s, %s, %s, %s)",
                        [(CURRENCY, key, now, now) for key in SYSTEM_KEYS])
        cur.execute("SELECT system_key, id FROM wallets WHERE system_key IS NOT NULL")
        return dict(cur.fetchall())


def _deposits(cur, *, request_base: int, user_sql: str, wallet_sql: str, low: int, high: int,
              amount_sql: str, balance_sql: str, key_prefix: str, external_id: int,
              now: datetime, at_sql: str = "%s") -> None:
    """Succeeded deposits for sequence numbers low..high, with their balanced entries.

    The `*_sql` arguments are SQL expressions of `i` (the 0-based sequence number), built
    by this module from integers only; `at_sql` (when each request and its entries were
    made) has one `%s`, which is `now`.
    """
    rows = f"(SELECT CAST(seq AS SIGNED) AS i FROM seq_{low}_to_{high}) AS s"
    cur.execute(
        "INSERT INTO transaction_requests (id, user_id, type, status, currency, amount, fee, "
        "wallet_id, created_at, completed_at) "
        f"SELECT %s + i, {user_sql}, 'deposit', 'succeeded', %s, {amount_sql}, 0, {wallet_sql}, "
        f"{at_sql}, {at_sql} FROM {rows}", (request_base, CURRENCY, now, now))
    cur.execute(
        "INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint, request_id, "
        f"created_at) SELECT {user_sql}, CONCAT(%s, i), %s, %s + i, %s FROM {rows}",
        (key_prefix, FINGERPRINT, request_base, now))
    cur.execute(
        "INSERT INTO transactions (request_id, wallet_id, type, amount, fee, balance_after, "
        f"counterparty_wallet_id, created_at) SELECT %s + i, {wallet_sql}, 'deposit', "
        f"{amount_sql}, 0, {balance_sql}, NULL, {at_sql} FROM {rows}", (request_base, now))
    cur.execute(
        "INSERT INTO transactions (request_id, wallet_id, type, amount, fee, balance_after, "
        f"counterparty_wallet_id, created_at) SELECT %s + i, %s, 'deposit', -({amount_sql}), 0, "
        f"NULL, {wallet_sql}, {at_sql} FROM {rows}", (request_base, external_id, now))


def population(conn: pymysql.connections.Connection, count: int, *, external_id: int,
               after: Population | None = None) -> Population:
    """Seed `count` users, each with one funded USD wallet.

    Parameters:
      after: an existing population to extend; the new rows must follow it directly.

    Returns:
      The population seeded (or `after` grown by `count`).

    Raises:
      RuntimeError: when extending and other users or wallets were created since `after`.
    """
    user_base, wallet_base = _next_id(conn, "users"), _next_id(conn, "wallets")
    request_base = _next_id(conn, "transaction_requests")
    if after is not None and (user_base, wallet_base) != (after.user_base + after.count,
                                                          after.wallet_base + after.count):
        raise RuntimeError("cannot extend the population: other users or wallets came between")
    password_hash = PasswordHasher().hash(PASSWORD)
    now = _now()
    with conn.cursor() as cur:
        for low, high in _chunks(0, count):
            rows = f"(SELECT CAST(seq AS SIGNED) AS i FROM seq_{low}_to_{high}) AS s"
            cur.execute(
                "INSERT INTO users (id, email, username, password_hash, created_at, updated_at) "
                "SELECT %s + i, CONCAT('bench', %s + i, '@example.com'), "
                f"CONCAT('bench_', %s + i), %s, %s, %s FROM {rows}",
                (user_base, user_base, user_base, password_hash, now, now))
            cur.execute(
                "INSERT INTO wallets (id, user_id, currency, balance, version, created_at, "
                f"updated_at) SELECT %s + i, %s + i, %s, %s, 1, %s, %s FROM {rows}",
                (wallet_base, user_base, CURRENCY, SEED_BALANCE_MINOR, now, now))
            _deposits(cur, request_base=request_base, user_sql=f"{int(user_base)} + i",
                      wallet_sql=f"{int(wallet_base)} + i", low=low, high=high,
                      amount_sql=str(SEED_BALANCE_MINOR), balance_sql=str(SEED_BALANCE_MINOR),
                      key_prefix="bench-seed-", external_id=external_id, now=now)
    if after is not None:
        return replace(after, count=after.count + count)
    return Population(user_base, wallet_base, count)


def history_wallet(conn: pymysql.connections.Connection, entries: int, *,
                   external_id: int, span_s: int = YEAR_S) -> HistoryWallet:
    """A new user whose wallet has `entries` deposits of 0.01 (balance = entries cents),
    spread evenly over the `span_s` seconds before now, the last one now."""
    now = _now()
    step_us = span_s * 1_000_000 // max(entries, 1)
    at_sql = f"%s - INTERVAL ({int(entries) - 1} - i) * {int(step_us)} MICROSECOND"
    user_id, wallet_id = _next_id(conn, "users"), _next_id(conn, "wallets")
    request_base = _next_id(conn, "transaction_requests")
    with conn.cursor() as cur:
        cur.execute("INSERT INTO users (id, email, username, password_hash, created_at, "
                    "updated_at) VALUES (%s, %s, %s, %s, %s, %s)",
                    (user_id, f"history{user_id}@example.com", f"history_{user_id}",
                     PasswordHasher().hash(PASSWORD), now, now))
        cur.execute("INSERT INTO wallets (id, user_id, currency, balance, version, created_at, "
                    "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (wallet_id, user_id, CURRENCY, entries, entries,
                     now - timedelta(seconds=span_s + 1), now))
        for low, high in _chunks(0, entries):
            # The i-th deposit leaves a balance of i + 1 cents.
            _deposits(cur, request_base=request_base, user_sql=str(int(user_id)),
                      wallet_sql=str(int(wallet_id)), low=low, high=high, amount_sql="1",
                      balance_sql="i + 1", key_prefix="bench-history-", external_id=external_id,
                      now=now, at_sql=at_sql)
        cur.execute("SELECT id FROM transactions WHERE wallet_id = %s ORDER BY id DESC "
                    "LIMIT 1 OFFSET %s", (wallet_id, entries // 2))
        middle = cur.fetchone()[0]
    return HistoryWallet(user_id, wallet_id, entries, middle, now, step_us)
