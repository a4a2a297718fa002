"""The measured phases: a transfer scenario (accept, then settle), a read scenario, the audit.

Every phase runs wrk (bench/load.py) against the live stack. A transfer phase then counts
the backlog the moment wrk stops, waits until its requests are no longer pending, reads its
settlement figures from the database, its conflicts, retries and batch sizes from the
stack's log and its CPU per transfer from /proc, and runs the ledger audit.
"""
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pymysql

from bench import load
from bench.config import JWT_SECRET, PYTHON, ROOT, Sizes
from bench.load import Load
from bench.logs import LogCounts, count_log
from bench.measure import (
    SettleStats,
    drain_s,
    last_request_id,
    latest_deadlock,
    pending_after,
    settle_stats,
    wait_settled,
)
from bench.seed import Population
from bench.stack import Stack

# Where a transfer's CPU goes, in the order the report lists it.
CPU_ORDER = ("web", "worker", "sweeper", "honcho", "MariaDB", "RabbitMQ", "Redis", "wrk")


@dataclass
class Audit:
    """One run of `manage.py audit`."""

    after: str
    clean: bool
    output: str
    took_s: float


@dataclass
class TransferPhase:
    name: str
    accept: Load
    settle: SettleStats
    log: LogCounts
    audit: Audit
    backlog: int                # requests still pending the moment wrk stopped
    drain_s: float | None       # from then until none was (None: not within the timeout)
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per accepted request, by process


@dataclass
class Bench:
    """Everything the phases share: where the stack is, how big and long phases are."""

    conn: pymysql.connections.Connection
    stack: Stack
    env: dict
    sizes: Sizes
    connections: int
    run_dir: str
    database: str
    key_prefix: str             # Idempotency-Keys of this run start with it
    audits: list[Audit] = field(default_factory=list)
    loads: list[tuple[str, Load]] = field(default_factory=list)
    log_counts: list[tuple[str, LogCounts]] = field(default_factory=list)

    def files(self, name: str) -> str:
        """The path prefix of a wrk run's data file, result and console output."""
        os.makedirs(os.path.join(self.run_dir, "wrk"), exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        return os.path.join(self.run_dir, "wrk", f"{len(self.loads):02d}-{slug}")


def audit(bench_env: dict, after: str, audits: list[Audit]) -> Audit:
    """Run the ledger audit over the whole run database; record and return its verdict."""
    began = time.monotonic()
    done = subprocess.run([PYTHON, "manage.py", "audit"], cwd=ROOT, env=bench_env,
                          capture_output=True, text=True, timeout=900)
    result = Audit(after, done.returncode == 0, (done.stdout + done.stderr)[-3000:],
                   time.monotonic() - began)
    audits.append(result)
    print(f"  audit after {after}: {'clean' if result.clean else 'FINDINGS'} "
          f"({result.took_s:.1f}s)", flush=True)
    return result


def drive(bench: Bench, name: str, script: str, data_path: str, *, expect: int,
          duration_s: float, base_url: str | None = None, connections: int | None = None,
          rate_per_s: float = 0.0) -> Load:
    """One wrk run of bench/wrk/`script`.lua over `data_path`; recorded under `name`."""
    prefix = bench.files(name)
    result = load.run(script, data_path, base_url=base_url or bench.stack.base_url,
                      connections=connections or bench.connections, duration_s=duration_s,
                      out_prefix=prefix, expect=expect, rate_per_s=rate_per_s,
                      key_prefix=f"{bench.key_prefix}-{len(bench.loads)}", seed=len(bench.loads))
    bench.loads.append((name, result))
    print(f"  {name}: {result.rate_per_s:.0f} req/s, p50/p99 {result.latency_ms[50]:.1f}/"
          f"{result.latency_ms[99]:.1f} ms, status {result.status}", flush=True)
    return result


def _transfer_data(bench: Bench, name: str, pop: Population, pattern: str) -> str:
    path = bench.files(name) + ".data"
    load.write_transfers(path, pop, secret=JWT_SECRET, pattern=pattern,
                         hot_wallets=bench.sizes.hot_wallets, hot_share=bench.sizes.hot_share)
    return path


def warm_up(bench: Bench, pop: Population) -> None:
    """A short unmeasured burst of transfers, so that opening pools and broker channels is
    not charged to the first phase (its requests are settled and audited like the rest)."""
    first = last_request_id(bench.conn)
    drive(bench, "warm-up", "transfer", _transfer_data(bench, "warm-up", pop, "uniform"),
          expect=202, duration_s=bench.sizes.warmup_s)
    wait_settled(bench.conn, first, timeout_s=bench.sizes.drain_timeout_s)


def transfers(bench: Bench, name: str, pop: Population, *, pattern: str = "uniform",
              rate_per_s: float = 0.0) -> TransferPhase:
    """POST /v1/transfers for one phase, then wait for settlement and measure it."""
    return money_phase(bench, name, "transfer", _transfer_data(bench, name, pop, pattern),
                       rate_per_s=rate_per_s)


def holds_then_captures(bench: Bench, pop: Population) -> tuple[TransferPhase, TransferPhase]:
    """Two-phase money: holds of 1.00 between uniform pairs for one phase, then captures of
    0.01 from those holds by their recipients for another, each measured as a transfer
    phase is (a capture settles like a transfer, plus its hold's guarded update)."""
    first = last_request_id(bench.conn)
    holds = money_phase(bench, "holds", "hold",
                        _transfer_data(bench, "holds", pop, "uniform"))
    data = bench.files("captures") + ".data"
    with bench.conn.cursor() as cur:
        cur.execute("SELECT id, to_user_id FROM holds WHERE status = 'active' "
                    "AND request_id > %s", (first,))
        rows = cur.fetchall()
    with open(data, "w") as f:
        f.writelines(f"{hold_id} {load.token(JWT_SECRET, user_id)}\n"
                     for hold_id, user_id in rows)
    return holds, money_phase(bench, "captures", "capture", data)


def money_phase(bench: Bench, name: str, script: str, data: str, *,
                rate_per_s: float = 0.0) -> TransferPhase:
    """POST money requests with bench/wrk/`script`.lua for one phase, then wait for
    settlement and measure it."""
    mark, first = bench.stack.mark(), last_request_id(bench.conn)
    cpu_before = bench.stack.cpu_seconds()
    accept = drive(bench, f"{name} accept", script, data, expect=202,
                   duration_s=bench.sizes.phase_s, rate_per_s=rate_per_s)
    stopped_at = datetime.now(UTC).replace(tzinfo=None)
    backlog = pending_after(bench.conn, first)
    left = wait_settled(bench.conn, first, timeout_s=bench.sizes.drain_timeout_s)
    drained = None if left else drain_s(bench.conn, first, stopped_at)
    cpu_after = bench.stack.cpu_seconds()
    last = last_request_id(bench.conn)  # after the drain: requests answered as wrk stopped
    stats = settle_stats(bench.conn, first, last)
    used = {kind: cpu_after[kind] - cpu_before.get(kind, 0) for kind in cpu_after}
    used["wrk"] = accept.cpu_s
    cpu_ms = {kind: used.get(kind, 0.0) * 1000 / max(1, last - first) for kind in CPU_ORDER}
    time.sleep(0.5)  # let the last log lines of the phase reach the log
    counts = count_log(bench.stack.since(mark))
    bench.log_counts.append((name, counts))
    deadlock = latest_deadlock(bench.conn, bench.database)
    if counts.deadlocks and deadlock:
        with open(os.path.join(bench.run_dir, "deadlocks.txt"), "a") as f:
            f.write(f"==== after phase {name}\n{deadlock}\n")
    print(f"  {name} settle: {stats.succeeded} succeeded at {stats.rate_per_s:.0f}/s, "
          f"failed {stats.failed}, backlog at stop {backlog}, drained in "
          f"{'-' if drained is None else f'{drained:.1f}s'}, pending {left}, conflicts "
          f"{counts.conflicts}, retries {counts.retries}, {counts.batches()}", flush=True)
    return TransferPhase(name, accept, stats, counts, audit(bench.env, name, bench.audits),
                         backlog, drained, cpu_ms)


def wallet_targets(pop: Population, *, history: bool = False) -> list[tuple[str, int]]:
    """GET /v1/wallets/{id} (or its first transactions page) of every wallet of `pop`,
    each with its owner."""
    tail = "/transactions" if history else ""
    return [(f"/v1/wallets/{pop.wallet_base + i}{tail}", pop.user_base + i)
            for i in range(pop.count)]


def reads(bench: Bench, name: str, targets: list[tuple[str, int]], *, base_url: str,
          connections: int | None = None, rate_per_s: float = 0.0) -> Load:
    """GET the `targets` (path, owner) at random, closed loop or paced at `rate_per_s`,
    after an unmeasured warm-up of the same load."""
    data = bench.files(name) + ".data"
    load.write_gets(data, targets, secret=JWT_SECRET)
    for label, duration_s in ((f"{name} (warm-up)", bench.sizes.warmup_s),
                              (name, bench.sizes.read_s)):
        measured = drive(bench, label, "get", data, expect=200, duration_s=duration_s,
                         base_url=base_url, connections=connections, rate_per_s=rate_per_s)
    return measured
