"""One delivery attempt of one job: what the `deliver_webhook` actor does.

The job is claimed first (a guarded update: pending, due, unclaimed or its claim lapsed,
its webhook not deleted), so two workers never send it at once and a crashed worker's
claim simply runs out. The event goes as its JSON body, signed as the Standard Webhooks
specification says (the `standardwebhooks` package signs it; `webhook-id` is the event's
id on every attempt), through a session that refuses addresses the service may not call
and follows no redirect. The attempt is logged in `webhook_deliveries`, and the job moves
on in the same transaction: `succeeded` on a 2xx within WEBHOOK_TIMEOUT_S, else due again
after a backoff (schedule.py), or `failed` when the retries are over.
"""
import threading
import time
from datetime import UTC, datetime, timedelta

import orjson
import requests
import standardwebhooks

import settings
from accounts import events
from models import Event, Webhook, WebhookDelivery, WebhookJob, db, utcnow
from webhooks import schedule, transport

SUCCEEDED, FAILED, CANCELLED = "succeeded", "failed", "cancelled"
# A claim outlives the longest attempt by this much.
CLAIM_MARGIN_S = 30
MAX_ERROR_CHARS = 255
USER_AGENT = "wallet-service-webhooks/1"

CLAIM_SQL = ("UPDATE webhook_jobs j JOIN webhooks w ON w.id = j.webhook_id "
             "SET j.claimed_until = %s WHERE j.id = %s AND j.status = 'pending' "
             "AND j.next_attempt_at <= %s AND (j.claimed_until IS NULL OR j.claimed_until < %s) "
             "AND w.deleted_at IS NULL")
CANCEL_SQL = ("UPDATE webhook_jobs j JOIN webhooks w ON w.id = j.webhook_id "
              "SET j.status = 'cancelled', j.next_attempt_at = NULL, j.updated_at = %s "
              "WHERE j.id = %s AND j.status = 'pending' AND w.deleted_at IS NOT NULL")

_local = threading.local()
_metrics: tuple | None = None


def _session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = transport.session()
    return _local.session


def _observe(outcome: str, seconds: float) -> None:
    """Count the attempt and its latency (the worker's Prometheus exposition serves them).
    Made on first use: in a worker, prometheus_client must be imported after boot."""
    global _metrics
    if _metrics is None:
        import prometheus_client as prom
        _metrics = (prom.Counter("wallet_webhook_deliveries_total",
                                 "Webhook delivery attempts, by outcome.", ["outcome"]),
                    prom.Histogram("wallet_webhook_delivery_duration_seconds",
                                   "Time from sending a webhook to its answer (or failure).",
                                   buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)))
    _metrics[0].labels(outcome=outcome).inc()
    _metrics[1].observe(seconds)


def headers_for(webhook: Webhook, event_id: int, body: bytes, *, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (signed over id.timestamp.body)."""
    signature = standardwebhooks.Webhook(webhook.secret).sign(str(event_id), at, body.decode())
    return {"webhook-id": str(event_id), "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature, "Content-Type": "application/json",
            "User-Agent": USER_AGENT}


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
    """(status, error) of one POST; an error when there was no 2xx."""
    try:
        with _session().post(url, data=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_S,
                             allow_redirects=False, stream=True) as res:
            status = res.status_code
    except (requests.RequestException, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
    return status, None if 200 <= status < 300 else f"HTTP {status}"


def deliver(job_id: int) -> str | None:
    """Make one attempt at job `job_id`, if it is due and nobody else is on it.

    Returns:
      The attempt's status (`succeeded` or `failed`), `cancelled` when the webhook was
      deleted, or None when there was nothing to do.
    """
    now = utcnow()
    claim = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_S + CLAIM_MARGIN_S)
    if db.execute_sql(CLAIM_SQL, (claim, job_id, now, now)).rowcount != 1:
        cancelled = db.execute_sql(CANCEL_SQL, (now, job_id)).rowcount
        return CANCELLED if cancelled else None
    job = WebhookJob.get_by_id(job_id)
    webhook, event = Webhook.get_by_id(job.webhook_id), Event.get_by_id(job.event_id)
    body = orjson.dumps(events.shown(event))
    started = time.monotonic()
    status, error = _post(webhook.url, body, headers_for(webhook, event.id, body,
                                                         at=datetime.now(UTC)))
    took_s = time.monotonic() - started
    attempt, outcome = job.attempts + 1, FAILED if error else SUCCEEDED
    done = utcnow()
    next_at = None if outcome == SUCCEEDED else schedule.next_attempt(
        attempt, now=done, made_at=job.created_at, first_s=settings.WEBHOOK_FIRST_RETRY_S,
        max_s=settings.WEBHOOK_MAX_RETRY_GAP_S, retry_for_s=settings.WEBHOOK_RETRY_FOR_S)
    with db.atomic():
        WebhookDelivery.create(webhook_id=webhook.id, job_id=job.id, event_id=event.id,
                               event_type=event.type, attempt=attempt, status=outcome,
                               response_status=status, error=error,
                               duration_ms=round(took_s * 1000), next_attempt_at=next_at,
                               created_at=done)
        WebhookJob.update(status=outcome if next_at is None else "pending", attempts=attempt,
                          next_attempt_at=next_at, claimed_until=None, sent_at=None,
                          updated_at=done).where((WebhookJob.id == job.id) &
                                                 (WebhookJob.attempts == job.attempts)).execute()
    _observe(outcome, took_s)
    return outcome
