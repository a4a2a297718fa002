"""The load generator: wrk, driven by the Lua scripts in bench/wrk/.

wrk is C and event-driven: it costs a small fraction of the CPU the service spends on the
same requests, where a Python client cost about as much as the service and hid what the
service could do on two cores. Its own CPU time is measured (`Load.cpu_s`) and reported.

A phase writes a data file (wallet ids and their owners' tokens, or paths and tokens),
runs `wrk -s bench/wrk/<script>.lua` for a fixed time, and reads back the JSON that the
script's done() hook writes: request count, duration, latency percentiles and the count
of each status. Tokens are signed here with the run's secret (HS256; sub, iat, exp, gen=0),
as the service signs them, so no login is on the measured path.

Closed loop (no delay): each connection sends its next request as soon as it has the
answer, which gives the peak. Paced: wrk's delay() hook holds each request until its slot
on a per-thread schedule (bench/wrk/common.lua), so the connections offer `rate` requests
a second as long as one is free for each slot. Latencies are wrk's: from the moment a
request is written to its answer (a request that waited for a free connection is not
charged that wait, so compare the achieved rate with the offered one).
"""
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field

import jwt

from bench.config import ROOT
from bench.seed import Population

LUA_DIR = os.path.join(ROOT, "bench", "wrk")
# wrk's threads: one per core of this machine is plenty (each drives thousands of
# requests a second, far beyond what the service answers).
WRK_THREADS = 2
# A request not answered in this long counts as a wrk timeout error.
TIMEOUT_S = 30
TOKEN_TTL_S = 3600
INSTALL_HINT = "install it with `apt-get install -y wrk` (`make bench` does)"


@dataclass
class Load:
    """What wrk saw in one run: request rate, latencies, answers, its own CPU."""

    rate_per_s: float
    latency_ms: dict[int, float]            # 50, 90, 99 -> ms
    status: dict[str, int]                  # "202" -> count, plus socket errors by kind
    samples: list[str] = field(default_factory=list)
    requests: int = 0
    elapsed_s: float = 0.0
    cpu_s: float = 0.0                      # wrk's own user + system CPU seconds
    offered_per_s: float = 0.0              # the paced rate asked for (0: closed loop)

    def count(self, *codes: str) -> int:
        return sum(n for code, n in self.status.items() if code in codes)

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.status.items() if code.startswith("5"))

    @property
    def transport_errors(self) -> int:
        """Connections refused or reset, reads and writes that failed, timeouts."""
        return sum(n for code, n in self.status.items() if not code.isdigit())


def require_wrk() -> str:
    """The path of wrk; exits with how to install it when it is missing."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(f"bench: wrk is missing: {INSTALL_HINT}")
    return path


def token(secret: str, user_id: int) -> str:
    """An access token of `user_id`, as the service would sign it (generation 0: seeded
    users never logged out)."""
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "iat": now, "exp": now + TOKEN_TTL_S, "gen": 0},
                      secret, algorithm="HS256")


def write_transfers(path: str, pop: Population, *, secret: str, pattern: str,
                    hot_wallets: int = 0, hot_share: float = 0.0) -> None:
    """The data file of bench/wrk/transfer.lua: the pattern, then every wallet of `pop`
    with its owner's token (for `single`, only the first wallet ever sends)."""
    with open(path, "w") as f:
        f.write(f"{pattern} {hot_wallets} {hot_share}\n")
        for i in range(pop.count):
            sender = pattern != "single" or i == 0
            f.write(f"{pop.wallet_base + i} "
                    f"{token(secret, pop.user_base + i) if sender else '-'}\n")


def write_gets(path: str, targets: list[tuple[str, int]], *, secret: str) -> None:
    """The data file of bench/wrk/get.lua: each (path, user id) with that user's token."""
    with open(path, "w") as f:
        f.writelines(f"{target} {token(secret, user_id)}\n" for target, user_id in targets)


def run(script: str, data_path: str, *, base_url: str, connections: int, duration_s: float,
        out_prefix: str, expect: int, rate_per_s: float = 0.0, key_prefix: str = "-",
        seed: int = 0) -> Load:
    """Run wrk with bench/wrk/`script`.lua over `data_path` and summarise what it saw.

    Parameters:
      out_prefix: where wrk's result (`.json`) and console output (`.txt`) are kept.
      expect: the status every answer should have (others are sampled).
      rate_per_s: pace the connections to offer this many requests a second (0: closed loop).
      key_prefix: the Idempotency-Key prefix, unique to the run and phase.

    Raises:
      RuntimeError: when wrk fails or writes no result.
    """
    threads = max(1, min(WRK_THREADS, connections))
    env = dict(os.environ, BENCH_WRK_DATA=data_path, BENCH_WRK_OUT=out_prefix + ".json",
               BENCH_WRK_EXPECT=str(expect), BENCH_WRK_KEYS=key_prefix, BENCH_WRK_SEED=str(seed))
    if rate_per_s:
        env["BENCH_WRK_INTERVAL_MS"] = f"{threads * 1000 / rate_per_s:.3f}"
    argv = [require_wrk(), "-t", str(threads), "-c", str(connections),
            "-d", f"{max(1, round(duration_s))}s", "--timeout", f"{TIMEOUT_S}s",
            "-s", os.path.join(LUA_DIR, f"{script}.lua"), base_url]
    with open(out_prefix + ".txt", "w") as console:
        proc = subprocess.Popen(argv, env=env, stdout=console, stderr=subprocess.STDOUT)
        _, wait_status, usage = os.wait4(proc.pid, 0)  # wait4: exit status and wrk's CPU time
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
    if proc.returncode or not os.path.exists(out_prefix + ".json"):
        with open(out_prefix + ".txt") as f:
            raise RuntimeError(f"wrk failed ({proc.returncode}): {f.read()[-2000:]}")
    with open(out_prefix + ".json", errors="replace") as f:
        raw = json.load(f)
    status = dict(raw["status"])
    status.update({kind: n for kind, n in raw["errors"].items() if n})
    elapsed = raw["duration_s"] or duration_s
    return Load(raw["requests"] / elapsed,
                {int(p): raw["latency_ms"][p] for p in ("50", "90", "99")}, status,
                raw["samples"], raw["requests"], elapsed, usage.ru_utime + usage.ru_stime,
                rate_per_s)
