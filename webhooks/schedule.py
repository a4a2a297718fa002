"""When a failed delivery is tried again: exponential backoff with jitter. Pure.

The first retry comes WEBHOOK_FIRST_RETRY_S after the first attempt, each gap doubles up
to WEBHOOK_MAX_RETRY_GAP_S, and every gap is moved by up to JITTER either way, so that the
retries of many deliveries that failed together (a receiver's outage) do not return in
step. Retries stop once the next one would come more than WEBHOOK_RETRY_FOR_S after the
job was made: that attempt's failure is the last.
"""
import random
from datetime import datetime, timedelta

JITTER = 0.2


def gap_s(attempts: int, *, first_s: float, max_s: float,
          rng: random.Random | None = None) -> float:
    """Seconds until the next try after `attempts` failed ones (attempts >= 1)."""
    base = min(first_s * 2 ** (attempts - 1), max_s)
    return base * (1 + (rng or random).uniform(-JITTER, JITTER))


def next_attempt(attempts: int, *, now: datetime, made_at: datetime, first_s: float,
                 max_s: float, retry_for_s: float,
                 rng: random.Random | None = None) -> datetime | None:
    """When to try again after `attempts` failed tries, or None when they are over."""
    due = now + timedelta(seconds=gap_s(attempts, first_s=first_s, max_s=max_s, rng=rng))
    return due if (due - made_at).total_seconds() <= retry_for_s else None
