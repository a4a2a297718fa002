"""Turning what happened into figures: percentiles, settlement from the database's own
timestamps, and conflicts and retries from the stack's log."""
import re
import time
from dataclasses import dataclass, field

import pymysql

from bench.db import scalar

POLL_S = 0.5
PERCENTILES = (50, 95, 99)


def percentiles(values: list[float]) -> dict[int, float]:
    """Nearest-rank p50/p95/p99 of `values` (zeros when there are none)."""
    ordered = sorted(values)
    if not ordered:
        return {p: 0.0 for p in PERCENTILES}
    return {p: ordered[min(len(ordered) - 1, max(0, -(-p * len(ordered) // 100) - 1))]
            for p in PERCENTILES}


def last_request_id(conn: pymysql.connections.Connection) -> int:
    return int(scalar(conn, "SELECT COALESCE(MAX(id), 0) FROM transaction_requests"))


def wait_settled(conn: pymysql.connections.Connection, after_id: int, *,
                 timeout_s: float) -> int:
    """Wait until no request after `after_id` is pending, at most `timeout_s`.

    Returns:
      How many are still pending (0 when everything settled in time).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        pending = int(scalar(conn, "SELECT COUNT(*) FROM transaction_requests WHERE id > %s "
                                   "AND status = 'pending'", (after_id,)))
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(POLL_S)


@dataclass
class SettleStats:
    """Requests after one id up to another: outcomes, rate and accept-to-settled latency."""

    succeeded: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    span_s: float = 0.0
    latency_ms: dict[int, float] = field(default_factory=dict)

    @property
    def rate_per_s(self) -> float:
        return self.succeeded / self.span_s if self.span_s else 0.0

    @property
    def exhausted(self) -> int:
        return self.failed.get("retries_exhausted", 0)


def settle_stats(conn: pymysql.connections.Connection, after_id: int,
                 upto_id: int) -> SettleStats:
    """Settlement of requests after_id < id <= upto_id, from created_at and completed_at.

    The rate is the number succeeded over the time from the first request's acceptance to
    the last one's settlement.
    """
    stats = SettleStats()
    where = "id > %s AND id <= %s"
    with conn.cursor() as cur:
        cur.execute(f"SELECT status, COALESCE(failure_code, ''), COUNT(*) FROM "
                    f"transaction_requests WHERE {where} GROUP BY 1, 2", (after_id, upto_id))
        for status, code, count in cur.fetchall():
            if status == "succeeded":
                stats.succeeded += count
            elif status == "pending":
                stats.pending += count
            else:
                stats.failed[code] = stats.failed.get(code, 0) + count
        cur.execute(f"SELECT TIMESTAMPDIFF(MICROSECOND, MIN(created_at), MAX(completed_at)) "
                    f"FROM transaction_requests WHERE {where} AND status = 'succeeded'",
                    (after_id, upto_id))
        span_us = cur.fetchone()[0]
        stats.span_s = (span_us or 0) / 1e6
        cur.execute(f"SELECT TIMESTAMPDIFF(MICROSECOND, created_at, completed_at) FROM "
                    f"transaction_requests WHERE {where} AND status = 'succeeded'",
                    (after_id, upto_id))
        stats.latency_ms = percentiles([row[0] / 1000 for row in cur.fetchall()])
    return stats


@dataclass
class LogCounts:
    """What the stack's log says about one phase."""

    conflicts: int = 0          # settle.py: a version-checked UPDATE lost a race
    retries: int = 0            # Dramatiq: a message was scheduled again
    exhausted: int = 0          # Dramatiq: a message ran out of retries
    failed_attempts: int = 0    # Dramatiq: an attempt raised (each retry has one)
    resent: int = 0             # sweeper: pending requests sent again
    deadlocks: int = 0          # MariaDB chose a settlement or an accept as deadlock victim
    lock_timeouts: int = 0      # MariaDB: lock wait timeout exceeded
    unavailable: int = 0        # web: a database error answered 503 service_unavailable
    errors: list[str] = field(default_factory=list)  # any other ERROR line or traceback


RESENT = re.compile(r"Re-sent (\d+) pending requests")


def count_log(text: str) -> LogCounts:
    """Count the events of interest in a slice of the stack's log."""
    counts = LogCounts()
    for line in text.splitlines():
        if "Version conflict settling request" in line:
            counts.conflicts += 1
        elif "Retrying message" in line:
            counts.retries += 1
        elif "Retries exceeded for message" in line:
            counts.exhausted += 1
        elif "Failed to process message" in line:
            counts.failed_attempts += 1
        elif "peewee.OperationalError: (1213," in line:
            counts.deadlocks += 1
        elif "peewee.OperationalError: (1205," in line:
            counts.lock_timeouts += 1
        elif "Database unavailable for request" in line:
            counts.unavailable += 1
        elif (match := RESENT.search(line)) is not None:
            counts.resent += int(match.group(1))
        elif '"level":"ERROR"' in line or "[ERROR]" in line or '"traceback"' in line:
            counts.errors.append(line[:400])
    return counts


def latest_deadlock(conn: pymysql.connections.Connection, database: str) -> str | None:
    """InnoDB's report of the latest deadlock, if it happened in `database`."""
    with conn.cursor() as cur:
        cur.execute("SHOW ENGINE INNODB STATUS")
        status = cur.fetchone()[2]
    start = status.find("LATEST DETECTED DEADLOCK")
    if start < 0:
        return None
    section = status[start:status.find("\nTRANSACTIONS\n", start)]
    return section if f"`{database}`." in section else None
