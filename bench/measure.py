"""Turning what happened into figures: percentiles, and the settlement of a phase from the
database's own timestamps (what the log says is bench/logs.py)."""
import time
from dataclasses import dataclass, field
from datetime import datetime

import pymysql

from bench.db import scalar

# How often the backlog is looked at while it drains (its end comes from the timestamps).
POLL_S = 0.2
# No new request for this long: the web process has answered what wrk left in flight.
QUIET_S = 1.0
PERCENTILES = (50, 90, 99)


def percentiles(values: list[float]) -> dict[int, float]:
    """Nearest-rank p50/p90/p99 of `values` (zeros when there are none)."""
    ordered = sorted(values)
    if not ordered:
        return {p: 0.0 for p in PERCENTILES}
    return {p: ordered[min(len(ordered) - 1, max(0, -(-p * len(ordered) // 100) - 1))]
            for p in PERCENTILES}


def last_request_id(conn: pymysql.connections.Connection) -> int:
    return int(scalar(conn, "SELECT COALESCE(MAX(id), 0) FROM transaction_requests"))


def pending_after(conn: pymysql.connections.Connection, after_id: int) -> int:
    """How many requests after `after_id` are still pending."""
    return int(scalar(conn, "SELECT COUNT(*) FROM transaction_requests WHERE id > %s "
                            "AND status = 'pending'", (after_id,)))


def wait_settled(conn: pymysql.connections.Connection, after_id: int, *,
                 timeout_s: float, quiet_s: float = QUIET_S) -> int:
    """Wait until no request after `after_id` is pending and none has arrived for `quiet_s`,
    at most `timeout_s`. (wrk abandons the requests in flight when its time is up, and the
    web process still accepts them: they belong to the phase that sent them, not the next.)

    Returns:
      How many are still pending (0 when everything settled in time).
    """
    now = time.monotonic()
    deadline, newest, quiet_since = now + timeout_s, last_request_id(conn), now
    while True:
        pending, latest = pending_after(conn, after_id), last_request_id(conn)
        now = time.monotonic()
        if latest != newest:
            newest, quiet_since = latest, now
        if (not pending and now - quiet_since >= quiet_s) or now > deadline:
            return pending
        time.sleep(POLL_S)


def drain_s(conn: pymysql.connections.Connection, after_id: int, stopped_at: datetime) -> float:
    """Seconds from `stopped_at` (UTC, naive) to the last completion of a request after
    `after_id`: how long the backlog took to drain once the load stopped (0 when every
    request was complete by then). The workers stamp `completed_at` from the same clock."""
    us = scalar(conn, "SELECT TIMESTAMPDIFF(MICROSECOND, %s, MAX(completed_at)) FROM "
                      "transaction_requests WHERE id > %s", (stopped_at, after_id))
    return max(0.0, (us or 0) / 1e6)


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
