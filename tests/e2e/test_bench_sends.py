"""The answer-sending script (`bench/sends.py`) runs end to end: two real waitress servers,
one with the web process's channel and one with waitress's own, each driven by wrk, and a
table with a row per server whose figures can only come from answers served.

Never a timing: the figures belong to `make bench-sends`.
"""
import re
import subprocess
import sys

from tests.helpers import ROOT


def test_the_sends_script_drives_both_servers_in_turn_and_reports_each():
    # When it runs two one-second rounds
    done = subprocess.run([sys.executable, "bench/sends.py", "--rounds", "2", "--seconds", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    # Then it exits 0, having driven each server in each round, the other first in the second
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    order = re.findall(r"^  (\w+), round (\d)", done.stdout, flags=re.MULTILINE)
    assert order == [("one", "0"), ("two", "0"), ("two", "1"), ("one", "1")], done.stdout
    # And the table has one row per server, each with answers served and CPU spent on them
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    assert [row.split("|")[1].strip() for row in rows] == [
        "one send (web.server.Channel)", "two sends (waitress's channel)"], rows
    for row in rows:
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        rate, cpu_us = float(cells[1].replace(",", "")), float(cells[2])
        assert rate > 0 and cpu_us > 0, row
        assert len(cells[3].split(", ")) == 2, row
