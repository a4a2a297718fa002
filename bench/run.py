"""The benchmark: `make bench` (full) or `python bench/run.py --quick` (the CI smoke test).

Starts from nothing in its own namespace (database, RabbitMQ vhost, Redis db), seeds users
and wallets, measures the direct-SQL ceiling, starts the Procfile's stack (web, N workers,
sweeper) under honcho, drives each transfer and read scenario over HTTP with wrk
(bench/load.py, bench/wrk/*.lua), stops the stack and measures the ceiling again, then
(full runs) restarts it for the growth phases. It audits the ledger after every phase and
prints two markdown tables, the scenarios and the measures (also written to
bench/out/latest.md, or latest-quick.md; each run's logs stay in bench/out/<run>/).

Exits non-zero when an audit finds anything or a phase settled nothing; the targets
themselves are reported, not enforced (a benchmark is a measurement, not a test).
"""
import argparse
import dataclasses
import fcntl
import os
import re
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import settings  # noqa: E402
from bench import (  # noqa: E402
    accept,
    ceiling,
    growth,
    load,
    report,
    scenarios,
    seed,
    statements,
    table,
)
from bench.begin import begin  # noqa: E402
from bench.config import (  # noqa: E402
    FULL,
    FULL_NAMESPACE,
    JWT_SECRET,
    OUT_DIR,
    QUICK,
    QUICK_NAMESPACE,
    SEED_BALANCE_MINOR,
    WORKER_THREADS,
    Namespace,
    parse_namespace,
    stack_env,
)
from bench.phases import (  # noqa: E402
    Bench,
    audit,
    holds_then_captures,
    reads,
    transfers,
    wallet_targets,
    warm_up,
)
from bench.stack import Stack, WebProcess, flush_redis, free_port  # noqa: E402

LOCK_WAIT_S = 1800
# Long enough for the web process to answer what wrk left in flight (a few dozen requests).
IN_FLIGHT_S = 1.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, 1-2 s phases, no growth measures (CI smoke test)")
    parser.add_argument("--accept-only", action="store_true",
                        help="only the accept path: the uniform transfer phase, closed loop "
                             "and paced at half its peak (bench/accept.py)")
    parser.add_argument("--workers", type=int, default=1,
                        help=f"worker processes ({WORKER_THREADS} threads each, as in the "
                             "Procfile); default 1, as `make run` starts")
    parser.add_argument("--connections", type=int, default=32,
                        help="wrk's keep-alive connections in the closed loop; default 32")
    parser.add_argument("--wallets", type=int, default=200,
                        help="the wallets the transfer scenarios and the ceiling move money "
                             "between; default 200")
    parser.add_argument("--ceiling-threads", type=int, default=8,
                        help="threads of the direct-SQL ceiling; default 8")
    parser.add_argument("--history-only", action="store_true",
                        help="only history at scale: a statement of 100,000 entries and the "
                             "balance at a moment on a wallet of 1,000,000 (about 3 minutes)")
    parser.add_argument("--namespace", metavar="DATABASE,VHOST,REDIS_DB",
                        help="where the run keeps its data, instead of the default of a full "
                             "or quick run (the database name must end in _test)")
    return parser.parse_args(argv)


def namespace_of(args: argparse.Namespace) -> Namespace:
    """The run's database, vhost and Redis db: --namespace, else the default for its kind."""
    if not args.namespace:
        return QUICK_NAMESPACE if args.quick else FULL_NAMESPACE
    return parse_namespace(args.namespace)


def hold_lock(name: str):
    """One run per namespace at a time: wait for a concurrent one to finish."""
    os.makedirs(OUT_DIR, exist_ok=True)
    handle = open(os.path.join(OUT_DIR, f".{name}.lock"), "w")
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise SystemExit(f"another benchmark holds the {name} namespace") from None
            time.sleep(1)


def settings_line(args: argparse.Namespace, sizes, namespace) -> str:
    return (f"web 1 (waitress, WEB_THREADS {settings.WEB_THREADS}), worker {args.workers} × "
            f"{WORKER_THREADS} threads (Procfile: --processes 1 --threads {WORKER_THREADS}), "
            f"sweeper 1, under honcho; load: wrk ({load.WRK_THREADS} threads, "
            f"{args.connections} keep-alive connections, closed loop unless paced with its "
            f"delay() hook); transfer phases {sizes.phase_s:g} s each between the first "
            f"{sizes.transfer_wallets:,} wallets (then wait for settlement, at most "
            f"{sizes.drain_timeout_s:g} s); read phases {sizes.read_s:g} s after "
            f"{sizes.warmup_s:g} s warm-up, over {sizes.read_users:,} users; ceiling "
            f"{args.ceiling_threads} threads × {sizes.ceiling_s:g} s before and after the "
            f"transfer and read phases (the stack stopped), over the same "
            f"{sizes.transfer_wallets:,} wallets; {sizes.wallets:,} wallets "
            f"seeded with {SEED_BALANCE_MINOR // 100:,}.00 USD each; transfers of 0.01-0.09 USD "
            f"with a fresh Idempotency-Key each; other settings at their defaults; database "
            f"`{namespace.database}`, vhost `{namespace.vhost}`, Redis db {namespace.redis_db}"
            + (" (--quick)" if args.quick else ""))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.history_only:
        namespace = namespace_of(args)
        lock = hold_lock(namespace.database)  # noqa: F841 - held until the process exits
        return statements.run_alone(namespace)
    load.require_wrk()
    sizes, namespace = (QUICK if args.quick else FULL), namespace_of(args)
    sizes = dataclasses.replace(sizes, transfer_wallets=min(args.wallets, sizes.wallets))
    began = time.monotonic()
    lock = hold_lock(namespace.database)  # noqa: F841 - held until the process exits
    run = begin(namespace, suffix="-quick" if args.quick else "")
    run_id, run_dir, env, conn = run.run_id, run.run_dir, run.env, run.conn
    machine, external_id = run.machine, run.external_id
    if args.accept_only:
        text, ok = accept.run(conn=conn, env=env, sizes=sizes, connections=args.connections,
                              run_dir=run_dir, run_id=run_id, database=namespace.database,
                              workers=args.workers, external_id=external_id)
        print(f"\n{machine}\n\n{text}", flush=True)
        return 0 if ok else 1
    pop = seed.population(conn, sizes.wallets, external_id=external_id)
    movers = pop.subset(sizes.transfer_wallets)
    print(f"  seeded {sizes.wallets:,} users and wallets", flush=True)
    audits: list = []
    audit(env, "seeding", audits)
    before = measure_ceiling(args, namespace, movers, sizes, env, audits, "before")

    stack = Stack(run_dir, env, workers=args.workers)
    nocache = WebProcess(run_dir, stack_env(namespace, port=free_port(), CACHE_TTL_S="0"),
                         name="web-cache-off")
    notes: list[str] = []
    try:
        stack.start()
        bench = Bench(conn, stack, env, sizes, args.connections, run_dir, namespace.database,
                      f"bench-{run_id}-{secrets.token_hex(4)}", audits=audits)
        warm_up(bench, movers)
        uniform = transfers(bench, "uniform", movers)
        half = transfers(bench, "uniform at half the peak accept rate", movers,
                         rate_per_s=max(1.0, uniform.accept.rate_per_s / 2))
        hot = transfers(bench, "hot", movers, pattern="hot")
        single = transfers(bench, "single", movers, pattern="single")
        two_phase = holds_then_captures(bench, movers)
        loads = read_phases(bench, pop.subset(sizes.read_users), stack.base_url, "on")
        # wrk abandons the requests in flight when its time is up, and the web process still
        # answers them (and caches what they read): let it finish before the flush.
        time.sleep(IN_FLIGHT_S)
        flush_redis(namespace)
        nocache.start()
        loads.update(read_phases(bench, pop.subset(sizes.read_users), nocache.base_url, "off"))
        notes.append(_cache_off_note(namespace, nocache))
        # The ceiling inserts pending requests that a running sweeper would re-send.
        stack.stop()
        after = measure_ceiling(args, namespace, movers, sizes, env, audits, "after")
        results = table.Results((before, after), uniform, half, hot, single, loads, audits,
                                bench.loads, sizes, two_phase=two_phase)
        if sizes.growth:
            stack.start()
            small, large, _ = growth.settle_rate(bench, pop, external_id=external_id)
            results.settle_growth = (small, large)
            results.history_growth = growth.history(bench, base_url=nocache.base_url,
                                                    external_id=external_id)
            results.at_scale = statements.measure(
                conn, nocache.base_url, nocache.proc.pid, JWT_SECRET, external_id=external_id,
                statement_entries=sizes.statement_entries,
                balance_entries=sizes.large_history,
                balance_wallet=results.history_growth.large)
        notes += _log_notes(bench)
    finally:
        nocache.stop()
        stack.stop()
    audit(env, "the run (final)", audits)

    took = time.monotonic() - began
    notes.append(f"Run took {took:.0f} s; logs, wrk's data files and results, and this report "
                 f"in `bench/out/{run_id}/`.")
    text = report.render(title=f"Wallet service benchmark ({run_id})", machine_line=machine,
                         settings_line=settings_line(args, sizes, namespace),
                         tables=[scenarios.table(results, connections=args.connections),
                                 report.measures(table.rows(results))], notes=notes)
    for path in (os.path.join(run_dir, "report.md"),
                 os.path.join(OUT_DIR, "latest-quick.md" if args.quick else "latest.md")):
        with open(path, "w") as f:
            f.write(text)
    print("\n" + text, flush=True)
    phases = (uniform, half, hot, single, *two_phase) + (results.settle_growth or ())
    if not all(a.clean for a in audits):
        print("bench: FAILED: the audit found problems", file=sys.stderr)
        return 1
    if any(p.settle.succeeded == 0 for p in phases):
        print("bench: FAILED: a phase settled nothing", file=sys.stderr)
        return 1
    return 0


def measure_ceiling(args: argparse.Namespace, namespace: Namespace, movers, sizes, env: dict,
                    audits: list, when: str) -> ceiling.CeilingResult:
    """The direct-SQL ceiling over the scenarios' wallets, then the audit."""
    began = time.monotonic()
    result = ceiling.run(namespace, movers, threads=args.ceiling_threads,
                         duration_s=sizes.ceiling_s)
    print(f"  ceiling {when}: {result.rate_per_s:.0f} tx/s (took "
          f"{time.monotonic() - began:.0f} s)", flush=True)
    audit(env, f"the ceiling ({when})", audits)
    return result


def read_phases(bench: Bench, readers, base_url: str, cache: str) -> dict:
    """GET wallet (closed loop, then paced at half that rate) and GET transactions."""
    wallets = wallet_targets(readers)
    peak = reads(bench, f"GET wallet, cache {cache}", wallets, base_url=base_url)
    half = reads(bench, f"GET wallet at half its peak, cache {cache}", wallets,
                 base_url=base_url, rate_per_s=max(1.0, peak.rate_per_s / 2))
    history = reads(bench, f"GET transactions, cache {cache}",
                    wallet_targets(readers, history=True), base_url=base_url)
    return {f"wallet {cache}": peak, f"wallet half {cache}": half, f"history {cache}": history}


def _cache_off_note(namespace, nocache: WebProcess) -> str:
    import redis

    keys = redis.Redis.from_url(namespace.redis_url).dbsize()
    failures = nocache.output().count("Redis SET failed")
    how = ("stores were still attempted and failed: the off switch is not working"
           if failures else "CACHE_TTL_S=0 turns the read caches off; nothing was stored")
    return (f"Cache off = a second web process with CACHE_TTL_S=0, Redis flushed before: "
            f"{keys} Redis keys afterwards, {failures} 'Redis SET failed' warnings in its log "
            f"({how}).")


def _log_notes(bench: Bench) -> list[str]:
    """ERROR lines of the stack's log during the transfer phases, grouped by kind."""
    notes = []
    for name, counts in bench.log_counts:
        kinds: dict[str, int] = {}
        for line in counts.errors:
            kind = re.sub(r"\d+", "#", line.split("| ", 1)[-1])
            kind = re.sub(r'"(ts|request_id)": "[^"]*", ', "", kind)[:220]
            kinds[kind] = kinds.get(kind, 0) + 1
        for kind, n in sorted(kinds.items(), key=lambda item: -item[1]):
            notes.append(f"{name}: {n} ERROR line(s) like `{kind}`")
        if counts.exhausted or counts.unavailable or counts.lock_timeouts:
            notes.append(f"{name}: {counts.exhausted} messages out of retries, "
                         f"{counts.unavailable} answers 503 on a database error, "
                         f"{counts.lock_timeouts} lock wait timeouts")
    for name, seen in bench.loads:
        if seen.samples:
            notes.append(f"{name}: unexpected answers, e.g. `{seen.samples[0][:300]}`")
    return notes


if __name__ == "__main__":
    sys.exit(main())
