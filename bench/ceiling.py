"""The ceiling: the SQL of one transfer settlement, issued straight through pymysql.

Sends exactly what `payments.settle.settle_once` sends for a transfer with no fee, built by
the same functions (payments/settle.py and requests.py, ledger/posting.py, locking/): the
request joined with its two wallets (no locks), then one compound statement holding the
version-checked UPDATE with CASE, the entries (one multi-row INSERT), the conditional
status change and the notifications (one multi-row INSERT), committed in the block.
Several threads, each on its own connection, settle pre-inserted pending transfer requests
between random pairs of seeded wallets for a fixed time. The writes are real balanced
entries, so the audit stays clean; requests left unsettled when time runs out are deleted.
"""
import queue
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pymysql

from bench.config import CURRENCY, MAX_TRANSFER_CENTS, Namespace
from bench.db import connect, scalar
from bench.seed import Population
from ledger import posting
from locking import WalletState, batch
from payments import outcomes, requests, settle

# The transfers have no fee, so no entry ever names a system account.
NO_SYSTEM_ACCOUNTS = {CURRENCY: posting.SystemAccounts(external=0, fees=0)}

# Pending requests inserted per ceiling second and thread; more than any machine here settles.
REQUESTS_PER_THREAD_S = 600
INSERT_BATCH_ROWS = 5_000


@dataclass
class CeilingResult:
    transactions: int
    elapsed_s: float
    conflicts: int
    threads: int

    @property
    def rate_per_s(self) -> float:
        return self.transactions / self.elapsed_s if self.elapsed_s else 0.0


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def insert_pending(conn: pymysql.connections.Connection, pop: Population, count: int) -> list:
    """Insert `count` pending transfers between random distinct wallets of `pop`.

    Returns:
      Their request ids.
    """
    first = int(scalar(conn, "SELECT COALESCE(MAX(id), 0) + 1 FROM transaction_requests"))
    now = _now()
    rows = []
    for n in range(count):
        sender = random.randrange(pop.count)
        recipient = (sender + random.randrange(1, pop.count)) % pop.count
        rows.append((first + n, pop.user_base + sender, "transfer", "pending", CURRENCY,
                     random.randint(1, MAX_TRANSFER_CENTS), 0, pop.wallet_base + sender,
                     pop.wallet_base + recipient, now))
    with conn.cursor() as cur:
        for start in range(0, count, INSERT_BATCH_ROWS):
            # Placeholders only: pymysql folds executemany into one multi-row INSERT just when
            # the VALUES tuple holds nothing else (otherwise one autocommitted INSERT a row).
            cur.executemany(
                "INSERT INTO transaction_requests (id, user_id, type, status, currency, amount, "
                "fee, wallet_id, to_wallet_id, created_at) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows[start:start + INSERT_BATCH_ROWS])
    return [row[0] for row in rows]


def settle_one(conn: pymysql.connections.Connection, request_id: int, *,
               user_of: dict) -> bool:
    """Settle one pending transfer the way settle.py does, in one transaction.

    Returns:
      False on a version conflict (nothing written; the caller tries again).
    """
    now = _now()
    with conn.cursor() as cur:
        cur.execute(requests.READ_FOR_SETTLEMENT_SQL.format(ids="%s"), (request_id,))
        read = requests.settlement_read(cur.fetchall())
        states = {row[0]: WalletState(*row) for row in read.wallets}
        world = posting.World(settle.accounts_of(states), NO_SYSTEM_ACCOUNTS)
        result = posting.post([settle.order_of(read.facts[0])], world)
        [outcome] = result.outcomes
        if not outcome.succeeded:
            raise RuntimeError(f"ceiling: request {request_id} failed: {outcome.failure}")
        facts = {read.facts[0].id: read.facts[0]}
        statements = outcomes.writes(result, world, states, facts=facts, hold_rows={}, now=now)
        sql, params = batch.compound(tuple(statements), own_transaction=True)
        try:
            cur.execute(sql, params)
        except pymysql.err.OperationalError as exc:
            if exc.args[0] == batch.USER_SIGNAL:
                return False  # a version conflict: the block rolled itself back
            raise
    return True


def run(namespace: Namespace, pop: Population, *, threads: int, duration_s: float) -> CeilingResult:
    """Settle transfers directly through SQL from `threads` threads for `duration_s` seconds."""
    setup = connect(namespace)
    ids = insert_pending(setup, pop, int(REQUESTS_PER_THREAD_S * threads * duration_s))
    work: queue.SimpleQueue = queue.SimpleQueue()
    for rid in ids:
        work.put(rid)
    user_of = _UserOf(pop)
    done, conflicts = [0] * threads, [0] * threads
    start = threading.Barrier(threads + 1)

    def worker(n: int) -> None:
        conn = connect(namespace)  # reads in autocommit, writes in BEGIN ... COMMIT, as settle
        start.wait()
        deadline = time.monotonic() + duration_s
        try:
            while time.monotonic() < deadline:
                try:
                    rid = work.get_nowait()
                except queue.Empty:
                    return
                while not settle_one(conn, rid, user_of=user_of):
                    conflicts[n] += 1
                done[n] += 1
        finally:
            conn.close()

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in pool:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in pool:
        thread.join()
    elapsed = time.monotonic() - began
    with setup.cursor() as cur:  # what was not settled never happened
        cur.execute("DELETE FROM transaction_requests WHERE id BETWEEN %s AND %s "
                    "AND status = 'pending'", (ids[0], ids[-1]))
    setup.close()
    return CeilingResult(sum(done), elapsed, sum(conflicts), threads)


class _UserOf(dict):
    """Owner of a population wallet, by arithmetic (user_base + i owns wallet_base + i)."""

    def __init__(self, pop: Population) -> None:
        super().__init__()
        self.pop = pop

    def __missing__(self, wallet_id: int) -> int:
        return self.pop.user_base + (wallet_id - self.pop.wallet_base)
