"""What the stack's log says about one phase: version conflicts, Dramatiq's retries, the
sweeper's re-sends, database errors, and the sizes of the settlement batches.

The stack logs through honcho, one line per record: `HH:MM:SS worker.1 | {json}`; the
counters match the messages today's code logs (payments/settle.py, payments/sweep.py,
Dramatiq's own), so a change of wording there must be followed here.
"""
import json
import re
import statistics
from dataclasses import dataclass, field

RESENT = re.compile(r"Re-sent (\d+) pending requests")
# A batched settlement logs one JSON line per batch with a `batch_size` field
# ("Settled a batch of N requests ...").
BATCH_FIELD = '"batch_size"'


@dataclass
class LogCounts:
    """What the stack's log says about one phase."""

    conflicts: int = 0          # settle.py: a version-checked UPDATE lost a race
    retries: int = 0            # Dramatiq: a message was scheduled again
    exhausted: int = 0          # Dramatiq: a message ran out of retries
    failed_attempts: int = 0    # Dramatiq: an attempt raised (each retry has one)
    resent: int = 0             # sweeper: pending requests sent again
    deadlocks: int = 0          # MariaDB chose a settlement or an accept as deadlock victim
    lock_timeouts: int = 0      # MariaDB: lock wait timeout exceeded
    unavailable: int = 0        # web: a database error answered 503 service_unavailable
    batch_sizes: list[int] = field(default_factory=list)  # one per settled batch
    errors: list[str] = field(default_factory=list)  # any other ERROR line or traceback

    def batches(self) -> str:
        """The batch sizes seen, in words: count, mean, p50, max."""
        sizes = sorted(self.batch_sizes)
        if not sizes:
            return "no batches (one request per transaction)"
        return (f"{len(sizes):,} batches of mean {statistics.fmean(sizes):.1f}, "
                f"p50 {sizes[(len(sizes) - 1) // 2]}, max {sizes[-1]}")


def _batch_size(line: str) -> int | None:
    """The `batch_size` of a JSON log line, if it has one."""
    try:
        record = json.loads(line.split("| ", 1)[-1])
    except ValueError:
        return None
    size = record.get("batch_size") if isinstance(record, dict) else None
    return int(size) if isinstance(size, int | float) and not isinstance(size, bool) else None


def count_log(text: str) -> LogCounts:
    """Count the events of interest in a slice of the stack's log."""
    counts = LogCounts()
    for line in text.splitlines():
        if "Version conflict settling request" in line:
            counts.conflicts += 1
        elif "Retrying message" in line:
            counts.retries += 1
        elif "Retries exceeded for message" in line:
            counts.exhausted += 1
        elif "Failed to process message" in line:
            counts.failed_attempts += 1
        elif "peewee.OperationalError: (1213," in line:
            counts.deadlocks += 1
        elif "peewee.OperationalError: (1205," in line:
            counts.lock_timeouts += 1
        elif "Database unavailable for request" in line:
            counts.unavailable += 1
        elif (match := RESENT.search(line)) is not None:
            counts.resent += int(match.group(1))
        elif BATCH_FIELD in line and (size := _batch_size(line)) is not None:
            counts.batch_sizes.append(size)
        elif '"level":"ERROR"' in line or "[ERROR]" in line or '"traceback"' in line:
            counts.errors.append(line[:400])
    return counts
