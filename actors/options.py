"""Options every settling actor shares: retry bounds from settings, what never retries."""
import peewee

import settings
from errors import VersionConflict
from payments.queues import GIVE_UP_ACTOR

# Errors that say "try again later": conflicts, deadlocks, lock waits, lost connections.
TRANSIENT = (VersionConflict, peewee.OperationalError, peewee.InterfaceError, ConnectionError)
# Unexpected errors (bugs) get a few tries, not the full budget.
MAX_UNEXPECTED_RETRIES = 3


def retry_when(retries_so_far: int, exception: BaseException) -> bool:
    """Dramatiq's retry predicate: transient errors up to MAX_RETRIES, others a few times."""
    budget = settings.MAX_RETRIES if isinstance(exception, TRANSIENT) else MAX_UNEXPECTED_RETRIES
    return retries_so_far < budget


SETTLE = {
    "retry_when": retry_when,
    "min_backoff": settings.MIN_BACKOFF_MS,
    "max_backoff": settings.MAX_BACKOFF_MS,
    "on_retry_exhausted": GIVE_UP_ACTOR,
    "time_limit": 60_000,
}
