"""The benchmark's smoke test: `bench/run.py --quick` runs end to end against real processes.

Only that it runs, audits clean and reports every measure is asserted; never a timing
(CI machines are shared and slow, and the figures belong to `make bench`).
"""
import shutil
import subprocess
import sys

import pytest

from bench.load import INSTALL_HINT
from tests.helpers import ROOT, scratch_name, scratch_redis_url

# The first cells of the table's rows: one per transfer scenario, then one per measure of
# the benchmark issue.
EXPECTED_ROWS = [
    "uniform, closed loop",
    "uniform at half the peak",
    "hot:",
    "single:",
    "1. ceiling: the transfer's SQL straight through pymysql",
    "2. accept: POST /v1/transfers, closed loop (peak)",
    "2. accept at half the peak rate",
    "3. CPU per transfer, uniform",
    "3. CPU per transfer, hot",
    "3. CPU per transfer, single",
    "4. hot:",
    "4. single: every transfer leaves one wallet",
    "4. reads: GET /v1/wallets/{id}, cache on, closed loop (peak)",
    "4. reads: GET /v1/wallets/{id}, cache on, paced at half the peak",
    "4. reads: GET /v1/wallets/{id}, cache off, closed loop (peak)",
    "4. reads: GET /v1/wallets/{id}, cache off, paced at half the peak",
    "4. reads: GET /v1/wallets/{id}/transactions, cache on",
    "4. reads: GET /v1/wallets/{id}/transactions, cache off",
    "5. growth: history page",
    "5. growth: settle rate",
    "6. settle / ceiling (uniform)",
    "6. audit after every phase",
    "HTTP 5xx and transport errors, all phases",
]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_quick_benchmark_runs_audits_clean_and_reports_every_measure():
    # Given the services are up (conftest checks them), and wrk, the load generator
    assert shutil.which("wrk"), f"wrk is missing: {INSTALL_HINT}"
    # When the quick benchmark runs in a namespace of this run's own
    namespace = ",".join([scratch_name("bench_quick"), scratch_name("bench_quick"),
                          scratch_redis_url().rsplit("/", 1)[1]])
    done = subprocess.run([sys.executable, "bench/run.py", "--quick", "--namespace", namespace],
                          cwd=ROOT, capture_output=True, text=True, timeout=580)
    # Then it exits 0 (every audit clean, every phase settled something)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    # And its table has a row for every measure, with the audit row met
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    for measure in EXPECTED_ROWS:
        assert any(row.startswith(f"| {measure}") for row in rows), (measure, rows)
    audit_row = next(row for row in rows if row.startswith("| 6. audit after every phase"))
    assert audit_row.rstrip().endswith("| yes |"), audit_row
