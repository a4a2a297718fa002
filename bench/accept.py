"""The accept path alone: `python bench/run.py --accept-only` (about two minutes).

Seeds as a full run does, starts the stack, warms up, then measures POST /v1/transfers in a
closed loop and paced at half that peak, with the CPU each process spent per accepted
request, and audits. It measures one setting of the accept path against another (say
`BROKER_CONFIRM_DELIVERY=false` against the default, publisher confirms on): run it once
with each, on the same machine, one after the other. Its table goes to
bench/out/<run>/accept.md and bench/out/latest-accept.md.
"""
import os
import secrets

from bench import seed
from bench.config import OUT_DIR
from bench.phases import Bench, TransferPhase, audit, transfers, warm_up
from bench.stack import Stack


def _row(phase: TransferPhase) -> list[str]:
    load = phase.accept
    offered = f"{load.offered_per_s:.0f}" if load.offered_per_s else "closed loop"
    return [phase.name, offered, f"{load.rate_per_s:.0f}",
            " / ".join(f"{load.latency_ms[p]:.1f}" for p in (50, 90, 99)),
            f"{phase.cpu_ms.get('web', 0.0):.2f}", f"{phase.cpu_ms.get('RabbitMQ', 0.0):.2f}",
            f"{load.count('202')}", f"{load.server_errors + load.transport_errors}"]


def table(phases: list[TransferPhase], env: dict) -> str:
    """The accept phases as a markdown table, with the broker settings they ran with."""
    header = ["phase", "offered/s", "accepted/s", "accept p50 / p90 / p99 ms",
              "web CPU ms/transfer", "RabbitMQ CPU ms/transfer", "202s", "errors"]
    lines = [f"BROKER_CONFIRM_DELIVERY={env.get('BROKER_CONFIRM_DELIVERY') or 'true (default)'}"
             f", BROKER_QUORUM_QUEUES={env.get('BROKER_QUORUM_QUEUES') or 'true (default)'}",
             "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_row(phase)) + " |" for phase in phases]
    return "\n".join(lines) + "\n"


def run(*, conn, env: dict, sizes, connections: int, run_dir: str, run_id: str,
        database: str, workers: int, external_id: int) -> tuple[str, bool]:
    """Seed, start the stack, measure the accept phases, stop it, audit.

    Returns:
      The markdown table, and whether every audit was clean and both phases settled.
    """
    pop = seed.population(conn, sizes.wallets, external_id=external_id)
    movers = pop.subset(sizes.transfer_wallets)
    audits: list = []
    stack = Stack(run_dir, env, workers=workers)
    try:
        stack.start()
        bench = Bench(conn, stack, env, sizes, connections, run_dir, database,
                      f"bench-{run_id}-{secrets.token_hex(4)}", audits=audits)
        warm_up(bench, movers)
        peak = transfers(bench, "uniform", movers)
        half = transfers(bench, "uniform at half the peak", movers,
                         rate_per_s=max(1.0, peak.accept.rate_per_s / 2))
    finally:
        stack.stop()
    audit(env, "the run (final)", audits)
    text = table([peak, half], env)
    for path in (os.path.join(run_dir, "accept.md"), os.path.join(OUT_DIR, "latest-accept.md")):
        with open(path, "w") as f:
            f.write(text)
    ok = all(a.clean for a in audits) and all(p.settle.succeeded for p in (peak, half))
    return text, ok
