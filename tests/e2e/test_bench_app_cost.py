"""The accept path's in-process cost script (`bench/app_cost.py`) runs end to end: its child
processes accept real transfers through the app (real MariaDB, Redis and RabbitMQ) and the
table has a row per checkout with figures that can only come from work done.

Never a timing: the figures belong to `make bench-app`.
"""
import re
import subprocess
import sys

from tests.helpers import ROOT, scratch_name, scratch_redis_url

TRANSFERS = 20


def test_the_app_cost_script_accepts_transfers_in_turn_in_two_checkouts_and_reports_each():
    # When it runs two rounds against a second checkout (this one again), in its own namespace
    namespace = ",".join([scratch_name("bench_app"), scratch_name("bench_app"),
                          scratch_redis_url().rsplit("/", 1)[1]])
    done = subprocess.run([sys.executable, "bench/app_cost.py", "--rounds", "2",
                           "--transfers", str(TRANSFERS), "--against", ROOT,
                           "--namespace", namespace],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    # Then it exits 0, having run each checkout in each round
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert len(re.findall(r"round [01]: \{", done.stdout)) == 4, done.stdout
    # And the table has one row per checkout: 2 runs each, CPU and wall time spent, and the
    # context switches of waiting on its round trips
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    assert [row.split("|")[1].strip() for row in rows] == ["this checkout", ROOT], rows
    for row in rows:
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert cells[1] == "2"
        cpu, wall, switches = float(cells[2].split()[0]), float(cells[3]), float(cells[4])
        assert 0 < cpu and cpu <= wall * 2 and switches >= 1, row
