"""What the ops page and /metrics show of the webhooks, and re-sending a failed job.

Deliveries pending, the endpoints whose deliveries are failing (retries pending, or given
up on), and the oldest event not yet delivered (or not yet dispatched) to every webhook
that wants it: the age an operator alerts on.
"""
from dataclasses import dataclass
from datetime import datetime

from models import db, utcnow

SHOWN = 20
PENDING_SQL = "SELECT COUNT(*) FROM webhook_jobs WHERE status = 'pending'"
# The oldest event still owed to somebody: with a pending job, or not dispatched yet.
OLDEST_SQL = ("SELECT (SELECT MIN(e.created_at) FROM webhook_jobs j JOIN events e "
              "ON e.id = j.event_id WHERE j.status = 'pending'), "
              "(SELECT created_at FROM events WHERE dispatched = 0 ORDER BY id LIMIT 1)")
FAILING_SQL = ("SELECT w.id, w.user_id, w.url, SUM(j.status = 'pending'), "
               "SUM(j.status = 'failed'), MAX(j.updated_at) FROM webhook_jobs j "
               "JOIN webhooks w ON w.id = j.webhook_id "
               "WHERE (j.status = 'pending' AND j.attempts > 0) OR (j.status = 'failed' "
               "AND j.updated_at > %s - INTERVAL 3 DAY) GROUP BY w.id, w.user_id, w.url "
               "ORDER BY MAX(j.updated_at) DESC LIMIT %s")
FAILED_SQL = ("SELECT j.id, j.webhook_id, j.event_id, e.type, j.attempts, j.updated_at "
              "FROM webhook_jobs j JOIN events e ON e.id = j.event_id "
              "WHERE j.status = 'failed' ORDER BY j.updated_at DESC LIMIT %s")
RESEND_SQL = ("UPDATE webhook_jobs j JOIN webhooks w ON w.id = j.webhook_id "
              "SET j.status = 'pending', j.next_attempt_at = %s, j.claimed_until = NULL, "
              "j.sent_at = NULL, j.created_at = %s, j.updated_at = %s "
              "WHERE j.id = %s AND j.status = 'failed' AND w.deleted_at IS NULL")


@dataclass(frozen=True)
class FailingEndpoint:
    webhook_id: int
    user_id: int
    url: str
    retrying: int    # jobs pending after failed attempts
    given_up: int    # jobs failed for good in the last three days
    last_at: datetime


@dataclass(frozen=True)
class FailedJob:
    id: int
    webhook_id: int
    event_id: int
    event_type: str
    attempts: int
    failed_at: datetime


@dataclass(frozen=True)
class Health:
    pending: int
    oldest_undelivered_at: datetime | None
    failing: list[FailingEndpoint]
    failed: list[FailedJob]

    def oldest_undelivered_age_s(self, now: datetime) -> float:
        if self.oldest_undelivered_at is None:
            return 0.0
        return max((now - self.oldest_undelivered_at).total_seconds(), 0.0)


def health(*, shown: int = SHOWN) -> Health:
    """The webhooks' health now (a handful of indexed queries)."""
    owed = [at for at in db.execute_sql(OLDEST_SQL).fetchone() if at is not None]
    return Health(
        db.execute_sql(PENDING_SQL).fetchone()[0], min(owed) if owed else None,
        [FailingEndpoint(hook, user, url, int(retrying), int(given_up), last)
         for hook, user, url, retrying, given_up, last
         in db.execute_sql(FAILING_SQL, (utcnow(), shown))],
        [FailedJob(*row) for row in db.execute_sql(FAILED_SQL, (shown,))])


def resend(job_id: int) -> bool:
    """Make a failed job due again now, with three more days of retries (its webhook must
    still exist).

    Returns:
      Whether it was failed and is pending again.
    """
    now = utcnow()
    return db.execute_sql(RESEND_SQL, (now, now, now, job_id)).rowcount == 1
