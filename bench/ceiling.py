"""The ceiling: the SQL of one transfer settlement, issued straight through pymysql.

Mirrors what `settle.settle_once` sends for a transfer with no fee (see settle.py,
locking/wallets.py, ledger.py, sqlbatch.py): the request joined with its two wallets (no
locks); BEGIN; one multi-statement round trip holding the version-checked UPDATE with
CASE, the entries (one multi-row INSERT), the conditional status change and the
notifications (one multi-row INSERT); COMMIT. Several threads, each on its own
connection, settle pre-inserted pending transfer requests between random pairs of seeded
wallets for a fixed time. The writes are real balanced entries, so the audit stays clean;
requests left unsettled when time runs out are deleted.
"""
import queue
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import pymysql

import settle
from bench.config import CURRENCY, MAX_TRANSFER_CENTS, Namespace
from bench.db import connect, scalar
from bench.seed import FINGERPRINT, Population

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
    return datetime.now(timezone.utc).replace(tzinfo=None)


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
        rows.append((first + n, pop.user_base + sender, random.randint(1, MAX_TRANSFER_CENTS),
                     pop.wallet_base + sender, pop.wallet_base + recipient,
                     f"bench-ceiling-{first + n}", now))
    with conn.cursor() as cur:
        for start in range(0, count, INSERT_BATCH_ROWS):
            cur.executemany(
                "INSERT INTO transaction_requests (id, user_id, type, status, currency, amount, "
                "fee, wallet_id, to_wallet_id, idempotency_key, fingerprint, created_at) VALUES "
                f"(%s, %s, 'transfer', 'pending', '{CURRENCY}', %s, 0, %s, %s, %s, "
                f"'{FINGERPRINT}', %s)", rows[start:start + INSERT_BATCH_ROWS])
    return [row[0] for row in rows]


def settle_one(conn: pymysql.connections.Connection, request_id: int, *,
               user_of: dict) -> bool:
    """Settle one pending transfer the way settle.py does, in one transaction.

    Returns:
      False on a version conflict (nothing written; the caller tries again).
    """
    now = _now()
    with conn.cursor() as cur:
        cur.execute(settle.READ_REQUEST, (request_id,))
        rows = cur.fetchall()
        amount, fee, source, target = rows[0][5], rows[0][6], rows[0][7], rows[0][8]
        states = {row[9]: row[9:] for row in rows}
        if states[source][3] < amount:
            raise RuntimeError(f"ceiling: wallet {source} ran out of money")
        ids = sorted((source, target))
        delta = {source: -amount, target: amount - fee}
        after = {wid: states[wid][3] + delta[wid] for wid in ids}
        moved = f"{amount // 100}.{amount % 100:02d} {CURRENCY}"  # fee 0: all of it arrives
        conn.begin()
        cur.execute(
            "UPDATE wallets SET balance = balance + CASE id WHEN %s THEN %s WHEN %s THEN %s END, "
            "version = version + 1, updated_at = %s WHERE (id = %s AND version = %s) OR "
            "(id = %s AND version = %s);\n"
            "INSERT INTO transactions (request_id, wallet_id, type, amount, fee, balance_after, "
            "counterparty_wallet_id, created_at) VALUES (%s, %s, 'transfer_out', %s, %s, %s, %s, "
            "%s), (%s, %s, 'transfer_in', %s, 0, %s, %s, %s);\n"
            "UPDATE transaction_requests SET status = 'succeeded', failure_code = NULL, "
            "failure_detail = NULL, completed_at = %s WHERE id = %s AND status = 'pending';\n"
            "INSERT INTO notifications (user_id, type, title, body, request_id, is_read, "
            "dedupe_key, created_at) VALUES (%s, 'transfer_succeeded', %s, %s, %s, 0, %s, %s), "
            "(%s, 'transfer_received', %s, %s, %s, 0, %s, %s)",
            (ids[0], delta[ids[0]], ids[1], delta[ids[1]], now,
             ids[0], states[ids[0]][4], ids[1], states[ids[1]][4],
             request_id, source, -amount, fee, after[source], target, now,
             request_id, target, amount - fee, after[target], source, now,
             now, request_id,
             user_of[source], f"Transfer of {moved} succeeded", f"Transfer of {moved} succeeded.",
             request_id, f"request:{request_id}:sender", now,
             user_of[target], f"You received {moved}", f"Transfer from wallet {source} to "
             f"wallet {target}.", request_id, f"request:{request_id}:recipient", now))
        counts = [cur.rowcount]
        while cur.nextset():
            counts.append(cur.rowcount)
        if counts[0] != 2 or counts[2] != 1:
            conn.rollback()
            return False
    conn.commit()
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
