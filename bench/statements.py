"""History at scale: a statement of 100,000 entries, and the balance at a moment on a wallet
of 1,000,000, each read from one web process (`python api.py`, alone on its port).

- Statement: GET /v1/wallets/{id}/statement over the year that holds the wallet's 100,000
  entries, as CSV and as JSON, each downloaded in full (and its rows counted) STATEMENT_RUNS
  times; the figure is the median time to the last byte and the web process's peak RSS
  while it answered. Linux keeps a process's peak RSS (VmHWM in /proc/<pid>/status); writing
  5 to /proc/<pid>/clear_refs resets it to the current RSS, so the peak read after a
  download is that download's alone.
- Balance at a moment: BALANCE_CALLS sequential GET /v1/wallets/{id}/balance?at= at moments
  spread at random over the year of a wallet with 1,000,000 entries (and before its first,
  and in the future); latency percentiles, each answer checked against the seeded ledger
  (the i-th deposit leaves a balance of i + 1 cents).
"""
import os
import random
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests

from bench import report, seed
from bench.begin import begin
from bench.config import FULL, JWT_SECRET, OUT_DIR, Namespace
from bench.load import token
from bench.phases import audit
from bench.report import Row, ms, pcts
from bench.seed import HistoryWallet
from bench.stack import WebProcess

STATEMENT_RUNS = 3
BALANCE_CALLS = 300
CHUNK_BYTES = 64 * 1024


@dataclass
class StatementRun:
    """One format of the statement: median seconds, size, rows, the web's RSS before and
    its peak while answering (KiB)."""

    format: str
    seconds: float
    bytes: int
    rows: int
    rss_before_kib: int
    peak_rss_kib: int


@dataclass
class AtScale:
    statement_wallet: HistoryWallet
    balance_wallet: HistoryWallet
    statements: list[StatementRun]
    balance_latency_ms: dict[int, float]
    balance_calls: int
    balance_wrong: int


def _memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in KiB."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    return found["VmRSS"], found["VmHWM"]


def _reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


def _download(url: str, headers: dict, pattern: bytes) -> tuple[float, int, int]:
    """Seconds to the last byte, bytes, and how often `pattern` occurs (streamed, not kept:
    the harness's own memory stays out of the figure)."""
    began = time.perf_counter()
    size = found = 0
    carry = b""
    with requests.get(url, headers=headers, stream=True, timeout=600) as res:
        res.raise_for_status()
        for chunk in res.iter_content(CHUNK_BYTES):
            size += len(chunk)
            window = carry + chunk
            found += window.count(pattern) - carry.count(pattern)
            carry = window[-(len(pattern) - 1):] if len(pattern) > 1 else b""
    return time.perf_counter() - began, size, found


def _latency(values: list[float]) -> dict[int, float]:
    """Nearest-rank p50/p95/p99 and the maximum (100)."""
    ordered = sorted(values)
    return {p: ordered[min(len(ordered) - 1, max(0, -(-p * len(ordered) // 100) - 1))]
            for p in (50, 95, 99, 100)}


def statement(base_url: str, pid: int, wallet: HistoryWallet, secret: str) -> list[StatementRun]:
    """The year's statement of `wallet`, as CSV then JSON, STATEMENT_RUNS times each."""
    start = wallet.first_at - timedelta(seconds=1)
    url = (f"{base_url}/v1/wallets/{wallet.wallet_id}/statement?from={_iso(start)}"
           f"&to={_iso(start + timedelta(days=366))}")
    auth = {"Authorization": f"Bearer {token(secret, wallet.user_id)}"}
    out = []
    for kind in ("csv", "json"):
        times, peaks = [], []
        size = rows = 0
        before = _memory_kib(pid)[0]
        for _ in range(STATEMENT_RUNS):
            _reset_peak(pid)
            seconds, size, found = _download(f"{url}&format={kind}", auth,
                                             b"\n" if kind == "csv" else b'"request_id":')
            peaks.append(_memory_kib(pid)[1])
            times.append(seconds)
            rows = found - 1 if kind == "csv" else found
        if rows != wallet.entries:
            raise RuntimeError(f"the {kind} statement had {rows} entries, not {wallet.entries}")
        out.append(StatementRun(kind, statistics.median(times), size, rows, before, max(peaks)))
    return out


def balance_at(base_url: str, wallet: HistoryWallet, secret: str,
               calls: int = BALANCE_CALLS) -> tuple[dict[int, float], int]:
    """Latency percentiles (ms) of `calls` balance-at reads, and how many answers were wrong."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token(secret, wallet.user_id)}"
    rng = random.Random(14)
    latencies, wrong = [], 0
    for n in range(calls):
        index = -1 if n == 0 else wallet.entries + 5 if n == 1 else rng.randrange(wallet.entries)
        moment = wallet.first_at + timedelta(microseconds=wallet.step_us * index)
        expected = min(max(index + 1, 0), wallet.entries)
        began = time.perf_counter()
        res = session.get(f"{base_url}/v1/wallets/{wallet.wallet_id}/balance",
                          params={"at": _iso(moment)}, timeout=60)
        latencies.append((time.perf_counter() - began) * 1000)
        if res.status_code != 200 or res.json()["balance"] != f"{expected // 100}." \
                                                             f"{expected % 100:02d}":
            wrong += 1
    return _latency(latencies), wrong


def rows(result: AtScale | None, *, skipped: str) -> list[Row]:
    """The report's rows for history at scale."""
    if result is None:
        return [Row("7. history: statement of 100,000 entries; balance at a moment, "
                    "1,000,000 entries", skipped)]
    out = []
    for run in result.statements:
        out.append(Row(
            f"7. history: statement of {result.statement_wallet.entries:,} entries, "
            f"{run.format.upper()} (one year)",
            f"{run.seconds:.2f} s to the last byte (median of {STATEMENT_RUNS}), "
            f"{run.bytes / 2**20:.1f} MiB; web RSS {run.rss_before_kib / 1024:.0f} MiB before, "
            f"peak {run.peak_rss_kib / 1024:.0f} MiB while answering "
            f"(+{(run.peak_rss_kib - run.rss_before_kib) / 1024:.1f} MiB)"))
    lat = result.balance_latency_ms
    out.append(Row(
        f"7. history: balance at a moment, wallet of {result.balance_wallet.entries:,} entries",
        f"{pcts(lat, points=(50, 95, 99))}, max {ms(lat[100])} ms over {result.balance_calls} "
        f"sequential calls; wrong answers {result.balance_wrong}",
        "wrong answers 0", result.balance_wrong == 0))
    return out


def measure(conn, web_url: str, web_pid: int, secret: str, *, external_id: int,
            statement_entries: int, balance_entries: int,
            balance_wallet: HistoryWallet | None = None) -> AtScale:
    """Seed the wallets (a statement wallet, and a balance wallet unless one is given), then
    measure both against the web process at `web_url` (pid `web_pid`)."""
    made = []
    for entries in (statement_entries, None if balance_wallet else balance_entries):
        if entries is None:
            made.append(balance_wallet)
            continue
        began = time.monotonic()
        made.append(seed.history_wallet(conn, entries, external_id=external_id))
        print(f"  seeded a wallet with {entries:,} entries over a year in "
              f"{time.monotonic() - began:.0f}s", flush=True)
    statement_wallet, balance = made
    assert statement_wallet is not None and balance is not None
    runs = statement(web_url, web_pid, statement_wallet, secret)
    for run in runs:
        print(f"  statement {run.format}: {run.seconds:.2f} s, peak RSS "
              f"{run.peak_rss_kib / 1024:.0f} MiB", flush=True)
    latency, wrong = balance_at(web_url, balance, secret)
    print(f"  balance at: p50 {latency[50]:.1f} ms, p99 {latency[99]:.1f} ms, wrong {wrong}",
          flush=True)
    return AtScale(statement_wallet, balance, runs, latency, BALANCE_CALLS, wrong)


def run_alone(namespace: Namespace) -> int:
    """`bench/run.py --history-only` (`make bench-history`): seed the two history wallets
    in a fresh `namespace`, start one web process, measure, audit, report.

    Returns:
      The exit status: 0 unless the audit found anything or an answer was wrong.
    """
    run = begin(namespace, suffix="-history")
    run_id, run_dir, env, conn = run.run_id, run.run_dir, run.env, run.conn
    machine, external_id = run.machine, run.external_id
    audits: list = []
    web = WebProcess(run_dir, env, name="web")
    try:
        web.start()
        assert web.proc is not None
        result = measure(conn, web.base_url, web.proc.pid, JWT_SECRET, external_id=external_id,
                         statement_entries=FULL.statement_entries,
                         balance_entries=FULL.large_history)
    finally:
        web.stop()
    audit(env, "seeding and reading the history wallets", audits)
    table = rows(result, skipped="")
    table.append(Row("audit", "clean" if audits[0].clean else "**findings**", "clean",
                     audits[0].clean))
    text = report.render(title=f"Wallet service benchmark, history at scale ({run_id})",
                         machine_line=machine, settings_line=(
                             "one web process (`python api.py`, default settings) and nothing "
                             f"else of the stack; database `{namespace.database}`; how each "
                             "figure is measured: bench/statements.py"),
                         tables=[report.measures(table)], notes=[])
    for path in (os.path.join(run_dir, "report.md"), os.path.join(OUT_DIR, "latest-history.md")):
        with open(path, "w") as f:
            f.write(text)
    print("\n" + text, flush=True)
    return 0 if audits[0].clean and result.balance_wrong == 0 else 1
