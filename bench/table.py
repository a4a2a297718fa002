"""The issue's measures and targets, as table rows, from a run's results.

The targets are reported, never enforced: a benchmark is a measurement, not a test.
"""
from dataclasses import dataclass

from bench.ceiling import CeilingResult
from bench.config import Sizes
from bench.growth import HistoryGrowth
from bench.load import Load
from bench.phases import CPU_ORDER, Audit, TransferPhase
from bench.report import SKIPPED, Row, ms, pcts
from bench.statements import AtScale
from bench.statements import rows as at_scale_rows

SETTLE_SHARE_OF_CEILING = 0.50  # uniform settled/s over the same run's SQL ceiling
ACCEPT_P99_MS = 20.0            # accept p99 at half the peak rate
SINGLE_SHARE_OF_UNIFORM = 0.90  # single hot wallet settled/s over uniform's
SINGLE_DRAIN_S = 2.0            # the single wallet's backlog gone this soon after the load
HISTORY_GROWTH_MAX = 1.5
SETTLE_GROWTH_MIN = 0.8
CACHED_GET_P99_MS = 5.0
# The processes that are the service (wrk is the load generator).
SERVICE = tuple(kind for kind in CPU_ORDER if kind != "wrk")


@dataclass
class Results:
    ceilings: tuple[CeilingResult, CeilingResult]  # before and after transfers and reads
    uniform: TransferPhase
    half: TransferPhase
    hot: TransferPhase
    single: TransferPhase
    reads: dict[str, Load]          # "wallet on", "wallet half on", "history on", ...off
    audits: list[Audit]
    loads: list[tuple[str, Load]]
    sizes: Sizes
    settle_growth: tuple[TransferPhase, TransferPhase] | None = None
    history_growth: HistoryGrowth | None = None
    two_phase: tuple[TransferPhase, TransferPhase] | None = None  # holds, then captures
    at_scale: AtScale | None = None  # a statement of 100,000 entries, balance at on 1,000,000

    @property
    def ceiling_per_s(self) -> float:
        """The mean of the two ceilings: what each scenario is compared with."""
        return sum(c.rate_per_s for c in self.ceilings) / len(self.ceilings)

    def share_of_ceiling(self, phase: TransferPhase) -> float:
        return phase.settle.rate_per_s / self.ceiling_per_s if self.ceiling_per_s else 0.0

    def share_of_uniform(self, phase: TransferPhase) -> float:
        uniform = self.uniform.settle.rate_per_s
        return phase.settle.rate_per_s / uniform if uniform else 0.0


def drained(phase: TransferPhase) -> str:
    """The backlog when the load stopped, and how long it took to go."""
    if phase.drain_s is None:
        return f"{phase.backlog:,} at stop, {phase.settle.pending:,} still pending at the timeout"
    return f"{phase.backlog:,} at stop, drained in {phase.drain_s:.1f} s"


def _clean(phase: TransferPhase) -> bool:
    return phase.audit.clean and phase.settle.pending == 0


def _answers(load: Load, expected: str) -> str:
    odd = {code: n for code, n in sorted(load.status.items()) if code != expected}
    return f"{load.rate_per_s:.0f} req/s, {pcts(load.latency_ms)}; not {expected}: " + (
        ", ".join(f"{code} ×{n}" for code, n in odd.items()) if odd else "0")


def _hot_wallet(r: Results, phase: TransferPhase) -> str:
    s = phase.settle
    return (f"{s.rate_per_s:.0f} settled/s, {r.share_of_uniform(phase):.0%} of uniform; "
            f"backlog {drained(phase)}; retries_exhausted {s.exhausted}; audit "
            f"{'clean' if phase.audit.clean else 'FINDINGS'}")


def _cpu(phase: TransferPhase) -> str:
    cpu = phase.cpu_ms
    service = sum(cpu[kind] for kind in SERVICE)
    return (", ".join(f"{kind} {cpu[kind]:.2f}" for kind in CPU_ORDER)
            + f"; the service {service:.2f} ms, with wrk {service + cpu['wrk']:.2f} ms")


def rows(r: Results) -> list[Row]:
    """One row per measure of the issue, in its order."""
    before, after = r.ceilings
    ratio = r.share_of_ceiling(r.uniform)
    single = r.single
    out = [
        Row(f"1. ceiling: the transfer's SQL straight through pymysql, {before.threads} threads, "
            f"{r.sizes.transfer_wallets:,} wallets, before and after the load phases",
            f"before {before.rate_per_s:.0f}, after {after.rate_per_s:.0f} tx/s: mean "
            f"{r.ceiling_per_s:.0f} ({before.transactions:,} and {after.transactions:,} in "
            f"{before.elapsed_s:.1f} s; {before.conflicts} and {after.conflicts} version "
            "conflicts)"),
        Row("2. accept: POST /v1/transfers, closed loop (peak)", _answers(r.uniform.accept, "202")),
        Row(f"2. accept at half the peak rate (paced, {r.half.accept.offered_per_s:.0f} req/s "
            "offered)", _answers(r.half.accept, "202"), f"p99 ≤ {ACCEPT_P99_MS:.0f} ms",
            r.half.accept.latency_ms[99] <= ACCEPT_P99_MS),
        Row("3. CPU per transfer, uniform (ms of CPU per accepted request, /proc; MariaDB, "
            "RabbitMQ and Redis are shared with the rest of the machine)", _cpu(r.uniform)),
        Row("3. CPU per transfer, hot (as above)", _cpu(r.hot)),
        Row("3. CPU per transfer, single (as above)", _cpu(r.single)),
        Row(f"4. hot: {r.sizes.hot_share:.0%} of transfers touch {r.sizes.hot_wallets} wallets",
            _hot_wallet(r, r.hot), "audit clean, 0 retries_exhausted",
            _clean(r.hot) and r.hot.settle.exhausted == 0),
        Row("4. single: every transfer leaves one wallet", _hot_wallet(r, single),
            f"≥ {SINGLE_SHARE_OF_UNIFORM:.0%} of uniform, backlog gone ≤ {SINGLE_DRAIN_S:g} s "
            "after the load stops, 0 retries_exhausted, audit clean",
            r.share_of_uniform(single) >= SINGLE_SHARE_OF_UNIFORM and single.drain_s is not None
            and single.drain_s <= SINGLE_DRAIN_S and single.settle.exhausted == 0
            and _clean(single)),
    ]
    for cache in ("on", "off"):
        target = f"p99 ≤ {CACHED_GET_P99_MS:.0f} ms" if cache == "on" else "—"
        for key, how in ((f"wallet {cache}", "closed loop (peak)"),
                         (f"wallet half {cache}", "paced at half the peak")):
            load = r.reads[key]
            out.append(Row(f"4. reads: GET /v1/wallets/{{id}}, cache {cache}, {how}",
                           _answers(load, "200"), target,
                           load.latency_ms[99] <= CACHED_GET_P99_MS if cache == "on" else None))
    for cache in ("on", "off"):
        out.append(Row(f"4. reads: GET /v1/wallets/{{id}}/transactions, cache {cache}",
                       _answers(r.reads[f"history {cache}"], "200")))
    out += _growth_rows(r)
    out += at_scale_rows(r.at_scale, skipped=SKIPPED)
    out.append(Row("6. settle / ceiling (uniform)",
                   f"{r.uniform.settle.rate_per_s:.0f} settled/s ÷ {r.ceiling_per_s:.0f} tx/s = "
                   f"{ratio:.0%}", f"≥ {SETTLE_SHARE_OF_CEILING:.0%}, audit clean",
                   ratio >= SETTLE_SHARE_OF_CEILING and _clean(r.uniform)))
    audits_clean = sum(a.clean for a in r.audits)
    out.append(Row("6. audit after every phase", f"clean after {audits_clean} of {len(r.audits)}: "
                   + ", ".join(a.after + ("" if a.clean else " (**findings**)") for a in r.audits),
                   "clean every time", audits_clean == len(r.audits)))
    fives = sum(load.server_errors for _, load in r.loads)
    transport = sum(load.transport_errors for _, load in r.loads)
    out.append(Row("HTTP 5xx and transport errors, all phases", f"5xx {fives}, transport "
                   f"{transport}", "0", fives == 0 and transport == 0))
    return out


def _growth_rows(r: Results) -> list[Row]:
    if r.history_growth is None or r.settle_growth is None:
        return [Row(f"5. growth: history page, {r.sizes.small_history:,} vs "
                    f"{r.sizes.large_history:,} entries", SKIPPED),
                Row(f"5. growth: settle rate, {r.sizes.small_wallets:,} vs "
                    f"{r.sizes.large_wallets:,} wallets", SKIPPED)]
    h = r.history_growth
    out = []
    for label, (few, many) in (("first page", h.first), ("page halfway back", h.middle)):
        times = many.latency_ms[50] / few.latency_ms[50] if few.latency_ms[50] else 0
        out.append(Row(
            f"5. growth: history {label}, {h.small.entries:,} vs {h.large.entries:,} entries "
            "(cache off)",
            f"p50 {ms(few.latency_ms[50])} vs {ms(many.latency_ms[50])} ms (×{times:.2f}); "
            f"p99 {ms(few.latency_ms[99])} vs {ms(many.latency_ms[99])} ms",
            f"p50 ≤ {HISTORY_GROWTH_MAX}×", times <= HISTORY_GROWTH_MAX))
    small, large = r.settle_growth
    times = large.settle.rate_per_s / small.settle.rate_per_s if small.settle.rate_per_s else 0
    out.append(Row(
        f"5. growth: settle rate, uniform over {r.sizes.small_wallets:,} (of "
        f"{r.sizes.wallets:,}) vs {r.sizes.large_wallets:,} wallets",
        f"{small.settle.rate_per_s:.0f} vs {large.settle.rate_per_s:.0f} settled/s (×{times:.2f})"
        f"; accept {small.accept.rate_per_s:.0f} vs {large.accept.rate_per_s:.0f} req/s",
        f"≥ {SETTLE_GROWTH_MIN}×, audit clean",
        times >= SETTLE_GROWTH_MIN and _clean(small) and _clean(large)))
    return out
