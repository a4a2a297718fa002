"""The issue's measures and targets, as table rows, from a run's results."""
from dataclasses import dataclass

from bench.ceiling import CeilingResult
from bench.config import Sizes
from bench.growth import HistoryGrowth
from bench.phases import Audit, Load, TransferPhase
from bench.report import SKIPPED, Row, pcts

SETTLE_SHARE_OF_CEILING = 0.40
ACCEPT_P99_MS = 20.0
SINGLE_SHARE_OF_UNIFORM = 0.30
HISTORY_GROWTH_MAX = 1.5
SETTLE_GROWTH_MIN = 0.8
CACHED_GET_P99_MS = 5.0


@dataclass
class Results:
    ceiling: CeilingResult
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


def _settle(phase: TransferPhase) -> str:
    s, log = phase.settle, phase.log
    failed = sum(s.failed.values())
    bound = " = the accept rate: workers kept up" if s.rate_per_s >= 0.95 * \
        phase.accept.rate_per_s else ""
    return (f"{s.rate_per_s:.0f} settled/s{bound} ({s.succeeded:,} in {s.span_s:.1f} s); "
            f"CPU per request: web {phase.cpu_ms['web']:.1f} ms, workers "
            f"{phase.cpu_ms['worker']:.1f} ms; accept→settled "
            f"{pcts(s.latency_ms)}; failed {failed}, retries_exhausted {s.exhausted}, "
            f"still pending {s.pending}; version conflicts {log.conflicts}, "
            f"deadlocks {log.deadlocks}, Dramatiq retries {log.retries}, sweeper re-sends "
            f"{log.resent}")


def _answers(load: Load, expected: str) -> str:
    odd = {code: n for code, n in sorted(load.status.items()) if code != expected}
    return f"{load.rate_per_s:.0f} req/s, {pcts(load.latency_ms)}; not {expected}: " + (
        ", ".join(f"{code} ×{n}" for code, n in odd.items()) if odd else "0")


def _accept(load: Load) -> str:
    return _answers(load, "202")


def _read(load: Load) -> str:
    return _answers(load, "200")


def _clean(phase: TransferPhase) -> bool:
    return phase.audit.clean and phase.settle.pending == 0


def rows(r: Results) -> list[Row]:
    """One row per measure of the issue, in its order."""
    ratio = r.uniform.settle.rate_per_s / r.ceiling.rate_per_s if r.ceiling.rate_per_s else 0
    single_share = (r.single.settle.rate_per_s / r.uniform.settle.rate_per_s
                    if r.uniform.settle.rate_per_s else 0)
    out = [
        Row(f"1. ceiling: the transfer's SQL straight through pymysql, {r.ceiling.threads} threads",
            f"{r.ceiling.rate_per_s:.0f} tx/s ({r.ceiling.transactions:,} in "
            f"{r.ceiling.elapsed_s:.1f} s, {r.ceiling.conflicts} version conflicts)"),
        Row("2. accept: POST /v1/transfers, closed loop (peak)", _accept(r.uniform.accept)),
        Row(f"2. accept at half the peak rate ({r.half.offered_per_s:.0f} req/s offered, paced)",
            _accept(r.half.accept), f"p99 ≤ {ACCEPT_P99_MS:.0f} ms",
            r.half.accept.latency_ms[99] <= ACCEPT_P99_MS),
        Row(f"3. settle: uniform, {r.sizes.wallets:,} wallets (the peak accept phase)",
            _settle(r.uniform)),
        Row("3. settle: uniform at half the peak accept rate", _settle(r.half)),
        Row(f"4. hot: {r.sizes.hot_share:.0%} of transfers touch {r.sizes.hot_wallets} wallets",
            _settle(r.hot), "audit clean, 0 retries_exhausted",
            _clean(r.hot) and r.hot.settle.exhausted == 0),
        Row("4. single: every transfer leaves one wallet",
            _settle(r.single) + f"; {single_share:.0%} of uniform",
            f"≥ {SINGLE_SHARE_OF_UNIFORM:.0%} of uniform, 0 retries_exhausted",
            single_share >= SINGLE_SHARE_OF_UNIFORM and r.single.settle.exhausted == 0
            and _clean(r.single)),
        Row("4. reads: GET /v1/wallets/{id}, cache on, closed loop (peak)",
            _read(r.reads["wallet on"]), f"p99 ≤ {CACHED_GET_P99_MS:.0f} ms",
            r.reads["wallet on"].latency_ms[99] <= CACHED_GET_P99_MS),
        Row("4. reads: GET /v1/wallets/{id}, cache on, paced at half the peak",
            _read(r.reads["wallet half on"]), f"p99 ≤ {CACHED_GET_P99_MS:.0f} ms",
            r.reads["wallet half on"].latency_ms[99] <= CACHED_GET_P99_MS),
        Row("4. reads: GET /v1/wallets/{id}, cache off, closed loop (peak)",
            _read(r.reads["wallet off"])),
        Row("4. reads: GET /v1/wallets/{id}, cache off, paced at half the peak",
            _read(r.reads["wallet half off"])),
        Row("4. reads: GET /v1/wallets/{id}/transactions, cache on", _read(r.reads["history on"])),
        Row("4. reads: GET /v1/wallets/{id}/transactions, cache off",
            _read(r.reads["history off"])),
    ]
    out += _growth_rows(r)
    out.append(Row("6. settle / ceiling (uniform)", f"{ratio:.0%}",
                   f"≥ {SETTLE_SHARE_OF_CEILING:.0%}, audit clean",
                   ratio >= SETTLE_SHARE_OF_CEILING and _clean(r.uniform)))
    audits_clean = sum(a.clean for a in r.audits)
    out.append(Row("6. audit after every run", f"clean after {audits_clean} of {len(r.audits)}: "
                   + ", ".join(a.after + ("" if a.clean else " (**findings**)") for a in r.audits),
                   "clean every time", audits_clean == len(r.audits)))
    fives = sum(load.server_errors for _, load in r.loads)
    transport = sum(load.count("transport") for _, load in r.loads)
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
    for label, (small, large) in (("first page", h.first), ("page halfway back", h.middle)):
        times = large.latency_ms[50] / small.latency_ms[50] if small.latency_ms[50] else 0
        out.append(Row(
            f"5. growth: history {label}, {h.small.entries:,} vs {h.large.entries:,} entries "
            "(cache off)",
            f"p50 {small.latency_ms[50]:.1f} vs {large.latency_ms[50]:.1f} ms (×{times:.2f}); "
            f"p99 {small.latency_ms[99]:.1f} vs {large.latency_ms[99]:.1f} ms",
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
