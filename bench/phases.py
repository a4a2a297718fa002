"""The measured phases: a transfer scenario (accept, then settle), a read scenario, the audit.

Every phase runs against the live stack; a transfer phase waits until its requests are
no longer pending, then reads its settlement figures from the database and its conflicts
and retries from the stack's log, and runs the ledger audit.
"""
import os
import subprocess
import time
from dataclasses import dataclass, field

import pymysql

from bench import load
from bench.config import JWT_SECRET, PYTHON, ROOT, Sizes
from bench.logs import LogCounts, count_log
from bench.measure import (
    SettleStats,
    last_request_id,
    latest_deadlock,
    percentiles,
    settle_stats,
    wait_settled,
)
from bench.seed import Population
from bench.stack import Stack


@dataclass
class Audit:
    """One run of `manage.py audit`."""

    after: str
    clean: bool
    output: str
    took_s: float


@dataclass
class Load:
    """What the load generator saw: request rate, latencies, answers."""

    rate_per_s: float
    latency_ms: dict[int, float]
    status: dict[str, int]
    samples: list[str]

    def count(self, *codes: str) -> int:
        return sum(n for code, n in self.status.items() if code in codes)

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.status.items() if code.startswith("5"))


@dataclass
class TransferPhase:
    name: str
    accept: Load
    settle: SettleStats
    log: LogCounts
    audit: Audit
    offered_per_s: float = 0.0
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per accepted / settled request


@dataclass
class Bench:
    """Everything the phases share: where the stack is, how big and long phases are."""

    conn: pymysql.connections.Connection
    stack: Stack
    env: dict
    sizes: Sizes
    clients: int
    run_dir: str
    database: str
    audits: list[Audit] = field(default_factory=list)
    loads: list[tuple[str, Load]] = field(default_factory=list)
    log_counts: list[tuple[str, LogCounts]] = field(default_factory=list)


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


def drive(bench: Bench, name: str, spec: dict, *, base_url: str | None = None) -> Load:
    """Run the load generator with `spec` (plus the common keys) and summarise it."""
    full = {"base_url": base_url or bench.stack.base_url, "secret": JWT_SECRET,
            "clients": bench.clients, "warmup_s": 0, "seed": len(bench.loads), **spec}
    raw = load.drive(full, python=PYTHON)
    result = Load(len(raw["latencies_ms"]) / raw["elapsed_s"], percentiles(raw["latencies_ms"]),
                  raw["status"], raw["samples"])
    bench.loads.append((name, result))
    print(f"  {name}: {result.rate_per_s:.0f} req/s, p99 {result.latency_ms[99]:.1f} ms, "
          f"status {result.status}", flush=True)
    return result


def warm_up(bench: Bench, pop: Population) -> None:
    """A short unmeasured burst of transfers, so that opening pools and broker channels is
    not charged to the first phase (its requests are settled and audited like the rest)."""
    first = last_request_id(bench.conn)
    drive(bench, "warm-up", {"kind": "transfer", "duration_s": bench.sizes.warmup_s,
                             "population": pop.as_spec(), "pattern": "uniform"})
    wait_settled(bench.conn, first, timeout_s=bench.sizes.drain_timeout_s)


def transfers(bench: Bench, name: str, pop: Population, *, pattern: str = "uniform",
              rate_per_s: float = 0.0) -> TransferPhase:
    """POST /v1/transfers for one phase, then wait for settlement and measure it."""
    mark, first = bench.stack.mark(), last_request_id(bench.conn)
    cpu_before = bench.stack.cpu_seconds()
    accept = drive(bench, f"{name} accept", {
        "kind": "transfer", "duration_s": bench.sizes.phase_s, "rate_per_s": rate_per_s,
        "population": pop.as_spec(), "pattern": pattern,
        "hot_wallets": bench.sizes.hot_wallets, "hot_share": bench.sizes.hot_share})
    last = last_request_id(bench.conn)
    left = wait_settled(bench.conn, first, timeout_s=bench.sizes.drain_timeout_s)
    stats = settle_stats(bench.conn, first, last)
    cpu_after = bench.stack.cpu_seconds()
    used = {kind: cpu_after[kind] - cpu_before.get(kind, 0) for kind in cpu_after}
    cpu_ms = {"web": used.get("web", 0) * 1000 / max(1, last - first),
              "worker": used.get("worker", 0) * 1000 / max(1, stats.succeeded)}
    time.sleep(0.5)  # let the last log lines of the phase reach the log
    counts = count_log(bench.stack.since(mark))
    bench.log_counts.append((name, counts))
    deadlock = latest_deadlock(bench.conn, bench.database)
    if counts.deadlocks and deadlock:
        with open(os.path.join(bench.run_dir, "deadlocks.txt"), "a") as f:
            f.write(f"==== after phase {name}\n{deadlock}\n")
    print(f"  {name} settle: {stats.succeeded} succeeded at {stats.rate_per_s:.0f}/s, "
          f"failed {stats.failed}, pending {left}, conflicts {counts.conflicts}, "
          f"retries {counts.retries}, deadlocks {counts.deadlocks}", flush=True)
    return TransferPhase(name, accept, stats, counts, audit(bench.env, name, bench.audits),
                         rate_per_s, cpu_ms)


def reads(bench: Bench, name: str, pop: Population, *, kind: str, base_url: str,
          history: dict | None = None, clients: int | None = None,
          rate_per_s: float = 0.0) -> Load:
    """GET a wallet (kind=wallet) or its first transactions page (kind=history), closed loop
    or paced at `rate_per_s`."""
    spec = {"kind": kind, "duration_s": bench.sizes.read_s, "warmup_s": bench.sizes.warmup_s,
            "population": pop.as_spec(), "history": history, "rate_per_s": rate_per_s}
    if clients:
        spec["clients"] = clients
    return drive(bench, name, spec, base_url=base_url)
