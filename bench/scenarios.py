"""The transfer scenarios side by side: one row per phase (uniform, uniform paced at half
its peak, hot, single, and the growth phases), with what issue 12 asks of each: settled/s,
the ratio to the ceiling, accept and accept-to-settled percentiles, the backlog left when
the load stops, the batch sizes seen, conflicts and retries."""
from bench.phases import TransferPhase
from bench.report import Table, ms
from bench.table import Results, drained

HEADER = ["scenario", "accepted/s (wrk)", "settled/s", "÷ ceiling", "accept p50/p99",
          "accept→settled p50/p99", "backlog when the load stops", "batch sizes",
          "version conflicts / Dramatiq retries / sweeper re-sends", "failed / retries_exhausted",
          "audit"]


def _p50_p99(latency_ms: dict[int, float]) -> str:
    return f"{ms(latency_ms[50])} / {ms(latency_ms[99])} ms"


def _row(r: Results, label: str, phase: TransferPhase) -> list[str]:
    s, log = phase.settle, phase.log
    conflicts = f"{log.conflicts:,} / {log.retries:,} / {log.resent:,}"
    if log.deadlocks:
        conflicts += f" (deadlocks {log.deadlocks})"
    return [label, f"{phase.accept.rate_per_s:.0f}",
            f"{s.rate_per_s:.0f} ({s.succeeded:,} in {s.span_s:.1f} s)",
            f"{r.share_of_ceiling(phase):.0%}", _p50_p99(phase.accept.latency_ms),
            _p50_p99(s.latency_ms), drained(phase), log.batches(),
            conflicts, f"{sum(s.failed.values()):,} / {s.exhausted:,}",
            "clean" if phase.audit.clean else "**findings**"]


def table(r: Results, *, connections: int) -> Table:
    """The scenarios table of a run (`connections`: wrk's, in the closed loop)."""
    sizes = r.sizes
    phases = [
        (f"uniform, closed loop ({connections} connections)", r.uniform),
        (f"uniform at half the peak (paced, {r.half.accept.offered_per_s:.0f} req/s offered)",
         r.half),
        (f"hot: {sizes.hot_share:.0%} of transfers touch {sizes.hot_wallets} wallets", r.hot),
        ("single: every transfer leaves one wallet", r.single),
    ]
    if r.two_phase:
        holds, captures = r.two_phase
        phases += [("holds of 1.00 between uniform pairs", holds),
                   ("captures of 0.01 from those holds, by their recipients", captures)]
    if r.settle_growth:
        small, large = r.settle_growth
        phases += [(f"uniform over {sizes.small_wallets:,} wallets (growth)", small),
                   (f"uniform over {sizes.large_wallets:,} wallets (growth)", large)]
    return Table(f"Transfer scenarios (over {sizes.transfer_wallets:,} wallets; ceiling = the "
                 f"mean of the two, {r.ceiling_per_s:.0f} tx/s)", HEADER,
                 [_row(r, label, phase) for label, phase in phases])
