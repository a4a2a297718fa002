"""The sweeper: re-sends requests left pending, so no accepted request is ever stuck.

Run as a Procfile process (`python -m payments.sweep`). A request is re-sent once it has
been pending SWEEP_AFTER_S seconds, then again with doubling gaps (at most 5 minutes).
While its actor's queue holds messages waiting for a worker, the request is most likely
among them: it is re-sent only once it is SWEEP_BACKLOG_GRACE_S old, so a deep but healthy
queue is not flooded with duplicates. Duplicates are harmless anyway: settling is
idempotent.

It also dispatches new events to the webhooks that want them and hands due deliveries to
their actor (webhooks/dispatch.py), and keeps the hold expiry's schedule: every
HOLD_EXPIRY_SWEEP_S / 3 it asks a worker for an expiry round, so a hold whose time is up
is expired within HOLD_EXPIRY_SWEEP_S (several sweepers ask several times: a round is safe
to run twice).
"""
import logging
import time

import settings
from infra import broker, logs
from models import db
from payments import requests
from payments.queues import SETTLERS
from payments.send import send, send_expiry
from webhooks import dispatch

log = logging.getLogger("sweeper")
BATCH = 500


def backlogged_types() -> set[str]:
    """The request types whose queue holds messages waiting for a worker now (empty when
    that cannot be told: then sweep as usual)."""
    busy = broker.backlogged(queue for queue, _ in SETTLERS.values())
    return {kind for kind, (queue, _) in SETTLERS.items() if queue in busy}


def sweep_once() -> int:
    """Re-send every stale pending request once (see the module's docstring).

    Returns:
      How many were handed to the broker.
    """
    sent = 0
    busy = backlogged_types()
    patient_before = requests.older_than(settings.SWEEP_BACKLOG_GRACE_S)
    for request in requests.stale(after_s=settings.SWEEP_AFTER_S, limit=BATCH):
        if request.type in busy and request.created_at > patient_before:
            continue
        if not send(request):
            break  # the broker is down: try again on the next sweep
        requests.mark_swept(request.id)
        sent += 1
    if sent:
        log.info("Re-sent %s pending requests.", sent)
    return sent


def main() -> None:
    logs.configure("sweeper")
    broker.install()
    log.info("Sweeping pending requests every %ss.", settings.SWEEP_EVERY_S)
    expiry_every_s, expiry_asked = settings.HOLD_EXPIRY_SWEEP_S / 3, float("-inf")
    while True:
        if time.monotonic() - expiry_asked >= expiry_every_s and send_expiry():
            expiry_asked = time.monotonic()
        try:
            sweep_once()
            dispatch.sweep_once()
        except Exception:  # noqa: BLE001 - the database may be down; keep sweeping
            log.exception("Sweep failed; retrying.")
        finally:
            if not db.is_closed():
                db.close()
        time.sleep(settings.SWEEP_EVERY_S)


if __name__ == "__main__":
    main()
