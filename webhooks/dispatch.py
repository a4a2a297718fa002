"""From events to deliveries: the sweeper's share of the webhooks (see payments/sweep.py).

`fan_out()` turns events not yet dispatched into one job per webhook that wants them (a
live webhook of the event's user, registered before the event, subscribed to its type),
and marks the events dispatched, in one transaction; the jobs' unique (webhook, event) key
makes it safe to run twice and from several sweepers. `send_due()` hands the actor every
due job whose message is not already on its way (WEBHOOK_RESEND_AFTER_S), so a lost
message, a crashed worker or a retry's time all end up as one more delivery attempt.
Delivery runs on its own queue and its own worker processes: a slow or dead receiver
never holds a settlement.
"""
import logging

import dramatiq

import settings
from infra import broker
from models import db, utcnow

log = logging.getLogger(__name__)

QUEUE = "webhooks"
DELIVER_ACTOR = "deliver_webhook"
FAN_OUT_EVENTS = 1000
SEND_JOBS = 500

UNDISPATCHED_SQL = "SELECT id FROM events WHERE dispatched = 0 ORDER BY id LIMIT %s"
MAKE_JOBS_SQL = (
    "INSERT IGNORE INTO webhook_jobs (webhook_id, event_id, status, attempts, "
    "next_attempt_at, created_at, updated_at) "
    "SELECT w.id, e.id, 'pending', 0, %s, %s, %s FROM events e JOIN webhooks w "
    "ON w.user_id = e.user_id AND w.deleted_at IS NULL AND w.created_at <= e.created_at "
    "AND JSON_CONTAINS(w.events, JSON_QUOTE(e.type)) WHERE e.id IN ({ids})")
MARK_SQL = "UPDATE events SET dispatched = 1 WHERE id IN ({ids})"
DUE_SQL = ("SELECT id FROM webhook_jobs WHERE status = 'pending' AND next_attempt_at <= %s "
           "AND (claimed_until IS NULL OR claimed_until < %s) "
           "AND (sent_at IS NULL OR sent_at < %s - INTERVAL %s SECOND) "
           "ORDER BY next_attempt_at LIMIT %s")
SENT_SQL = "UPDATE webhook_jobs SET sent_at = %s WHERE id IN ({ids})"


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def fan_out(*, limit: int = FAN_OUT_EVENTS) -> int:
    """Make the jobs of up to `limit` undispatched events.

    Returns:
      How many events were dispatched.
    """
    ids = [row[0] for row in db.execute_sql(UNDISPATCHED_SQL, (limit,)).fetchall()]
    if ids:
        now = utcnow()
        with db.atomic():
            db.execute_sql(MAKE_JOBS_SQL.format(ids=_marks(len(ids))), (now, now, now, *ids))
            db.execute_sql(MARK_SQL.format(ids=_marks(len(ids))), tuple(ids))
    return len(ids)


def send(job_id: int) -> None:
    """Hand one job to the delivery actor (raises what the broker raises)."""
    current = broker.current()
    if QUEUE not in current.get_declared_queues():
        current.declare_queue(QUEUE)
    current.enqueue(dramatiq.Message(queue_name=QUEUE, actor_name=DELIVER_ACTOR,
                                     args=(job_id,), kwargs={}, options={}))


def send_due(*, limit: int = SEND_JOBS) -> int:
    """Hand every due job not already on its way to the delivery actor.

    Returns:
      How many were handed over (fewer when the broker stopped taking them).
    """
    now = utcnow()
    due = [row[0] for row in db.execute_sql(DUE_SQL, (
        now, now, now, settings.WEBHOOK_RESEND_AFTER_S, limit)).fetchall()]
    sent = []
    for job_id in due:
        try:
            send(job_id)
        except Exception as exc:  # noqa: BLE001 - the next sweep tries again
            log.warning("Could not enqueue webhook job %s (%s).", job_id, exc)
            break
        sent.append(job_id)
    if sent:
        db.execute_sql(SENT_SQL.format(ids=_marks(len(sent))), (now, *sent))
    return len(sent)


def sweep_once() -> tuple[int, int]:
    """Dispatch what is new and send what is due.

    Returns:
      (events dispatched, jobs handed to the actor).
    """
    dispatched = 0
    while True:
        done = fan_out()
        dispatched += done
        if done < FAN_OUT_EVENTS:
            break
    return dispatched, send_due()
