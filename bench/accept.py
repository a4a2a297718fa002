"""The accept path's cost of publisher confirms: `python bench/run.py --accept-only`.

Seeds as a full run does and starts the stack (its workers settle everything), then one
more web process per way of sending (VARIANTS): publisher confirms off
(`BROKER_CONFIRM_DELIVERY=false`) and on (the default). On a machine shared with other work
a run's figures drift by a third from one minute to the next, so the variants are not
measured one after the other: POST /v1/transfers is driven at each in turn,
ROUNDS times, in short slices (closed loop, then paced at PACED_PER_S) after an unmeasured
warm-up slice each, each round starting with another variant (a drift in the machine's
load then falls on each in turn), and each variant's figures add up its slices. CPU is
each web process's own, per accepted request. Then the backlog is settled (DRAIN_S at
most) and audited. The table goes to bench/out/<run>/accept.md and
bench/out/latest-accept.md.
"""
import os
import secrets
import statistics

from bench import cpu, seed
from bench.config import OUT_DIR
from bench.load import Load
from bench.measure import last_request_id, wait_settled
from bench.phases import Bench, _transfer_data, audit, drive, warm_up
from bench.stack import Stack, WebProcess, free_port

VARIANTS = {"confirms off": {"BROKER_CONFIRM_DELIVERY": "false"},
            "confirms on (default)": {"BROKER_CONFIRM_DELIVERY": "true"}}
ROUNDS = 4
SLICE_S = 6
PACED_PER_S = 100
# The backlog the slices leave is settled for this long at most before the audit (a pending
# request is no finding): the figures are the accept path's, not the settling's.
DRAIN_S = 30


def _cpu(web: WebProcess) -> float:
    assert web.proc is not None
    return cpu.seconds({"web": [web.proc.pid]}, {})["web"]


def _row(name: str, closed: list[Load], paced: list[Load], cpu_ms: float) -> list[str]:
    def median(loads: list[Load], p: int) -> str:
        return f"{statistics.median(load.latency_ms[p] for load in loads):.1f}"

    rate = sum(load.requests for load in closed) / sum(load.elapsed_s for load in closed)
    errors = sum(load.server_errors + load.transport_errors for load in closed + paced)
    return [name, f"{rate:.0f}", f"{median(closed, 50)} / {median(closed, 99)}",
            f"{median(paced, 50)} / {median(paced, 99)}", f"{cpu_ms:.2f}", str(errors)]


def run(*, conn, env: dict, sizes, connections: int, run_dir: str, run_id: str,
        database: str, workers: int, external_id: int) -> tuple[str, bool]:
    """Seed, start the stack and the three web processes, drive them in turn, settle, audit.

    Returns:
      The markdown table, and whether every audit was clean.
    """
    pop = seed.population(conn, sizes.wallets, external_id=external_id)
    movers = pop.subset(sizes.transfer_wallets)
    audits: list = []
    stack = Stack(run_dir, env, workers=workers)
    webs = {name: WebProcess(run_dir, stack_env_for(env, extra), name=f"web-{i}")
            for i, (name, extra) in enumerate(VARIANTS.items())}
    closed: dict[str, list[Load]] = {name: [] for name in VARIANTS}
    paced: dict[str, list[Load]] = {name: [] for name in VARIANTS}
    used = dict.fromkeys(VARIANTS, 0.0)
    try:
        stack.start()
        for web in webs.values():
            web.start()
        bench = Bench(conn, stack, env, sizes, connections, run_dir, database,
                      f"bench-{run_id}-{secrets.token_hex(4)}", audits=audits)
        warm_up(bench, movers)
        for name, web in webs.items():  # each web process's pools and caches, unmeasured
            drive(bench, f"{name}, warm-up", "transfer",
                  _transfer_data(bench, f"{name} warm-up", movers, "uniform"), expect=202,
                  duration_s=SLICE_S, base_url=web.base_url)
        first = last_request_id(conn)
        for round_ in range(ROUNDS):
            order = list(webs.items())
            for name, web in order[round_ % len(order):] + order[:round_ % len(order)]:
                data = _transfer_data(bench, f"{name} {round_}", movers, "uniform")
                before = _cpu(web)
                closed[name].append(drive(bench, f"{name}, closed loop, round {round_}",
                                          "transfer", data, expect=202, duration_s=SLICE_S,
                                          base_url=web.base_url))
                paced[name].append(drive(bench, f"{name}, paced, round {round_}", "transfer",
                                         data, expect=202, duration_s=SLICE_S,
                                         base_url=web.base_url, rate_per_s=PACED_PER_S))
                used[name] += _cpu(web) - before
        wait_settled(conn, first, timeout_s=DRAIN_S)
    finally:
        for web in webs.values():
            web.stop()
        stack.stop()
    audit(env, "the run (final)", audits)
    header = ["web process", "accepted/s, closed loop", "p50 / p99 ms, closed loop",
              f"p50 / p99 ms, paced at {PACED_PER_S}/s", "web CPU ms per accepted request",
              "errors"]
    lines = [f"{ROUNDS} rounds of {SLICE_S} s slices per variant, interleaved; latencies are "
             "the median of the rounds' percentiles", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in VARIANTS:
        accepted = sum(load.count("202") for load in closed[name] + paced[name])
        lines.append("| " + " | ".join(_row(name, closed[name], paced[name],
                                              used[name] * 1000 / max(1, accepted))) + " |")
    text = "\n".join(lines) + "\n"
    for path in (os.path.join(run_dir, "accept.md"), os.path.join(OUT_DIR, "latest-accept.md")):
        with open(path, "w") as f:
            f.write(text)
    return text, all(a.clean for a in audits)


def stack_env_for(env: dict, extra: dict) -> dict:
    """The stack's environment for one more web process on a port of its own."""
    return {**env, "PORT": str(free_port()), "AMQP_HEARTBEAT_S": "0", **extra}

