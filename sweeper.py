"""The sweeper: re-sends requests left pending, so no accepted request is ever stuck.

Run as a Procfile process (`python sweeper.py`). A request is re-sent once it has been
pending SWEEP_AFTER_S seconds, then again with doubling gaps (at most 5 minutes). While
its actor's queue holds messages waiting for a worker, the request is most likely among
them: it is re-sent only once it is SWEEP_BACKLOG_GRACE_S old, so a deep but healthy
queue is not flooded with duplicates. Duplicates are harmless anyway: settling is
idempotent.
"""
import logging
import time
from datetime import timedelta

import pika
from peewee import SQL, NodeList, Value, fn

import dispatch
import logs
import settings
from models import TransactionRequest, db, utcnow

log = logging.getLogger("sweeper")
BATCH = 500
MAX_GAP_S = 300


def stale_requests(*, limit: int = BATCH) -> list[TransactionRequest]:
    """Pending requests whose last send is older than their backoff allows."""
    gap = fn.LEAST(settings.SWEEP_AFTER_S * fn.POW(2, TransactionRequest.sweeps), MAX_GAP_S)
    last = fn.COALESCE(TransactionRequest.swept_at, TransactionRequest.created_at)
    return list(TransactionRequest.select(TransactionRequest.id, TransactionRequest.type,
                                          TransactionRequest.sweeps,
                                          TransactionRequest.created_at)
                .where((TransactionRequest.status == "pending") &
                       # A NodeList, not SQL(..., [gap]): SQL params are values, and
                       # an expression passed as one was rendered after the text.
                       (last < NodeList((Value(utcnow()), SQL("- INTERVAL"), gap,
                                         SQL("SECOND")))))
                .order_by(TransactionRequest.id).limit(limit))


def backlogged_types() -> set[str]:
    """The request types whose RabbitMQ queue holds messages waiting for a worker now
    (empty when that cannot be told, say with another broker: then sweep as usual)."""
    if not settings.BROKER_URL.startswith("amqp"):
        return set()
    busy = set()
    try:
        connection = pika.BlockingConnection(pika.URLParameters(settings.BROKER_URL))
    except pika.exceptions.AMQPError:
        return set()
    try:
        for kind, actor in dispatch.SETTLERS.items():
            channel = connection.channel()  # a missing queue closes the channel, not us
            try:
                if channel.queue_declare(actor.queue_name, passive=True).method.message_count:
                    busy.add(kind)
            except pika.exceptions.ChannelClosedByBroker:
                continue
            channel.close()
    finally:
        connection.close()
    return busy


def sweep_once() -> int:
    """Re-send every stale pending request once (see the module's docstring).

    Returns:
      How many were handed to the broker.
    """
    sent = 0
    busy = backlogged_types()
    patient_before = utcnow() - timedelta(seconds=settings.SWEEP_BACKLOG_GRACE_S)
    for request in stale_requests():
        if request.type in busy and request.created_at > patient_before:
            continue
        if not dispatch.send(request):
            break  # the broker is down: try again on the next sweep
        TransactionRequest.update(sweeps=TransactionRequest.sweeps + 1, swept_at=utcnow()) \
            .where(TransactionRequest.id == request.id).execute()
        sent += 1
    if sent:
        log.info("Re-sent %s pending requests.", sent)
    return sent


def main() -> None:
    logs.configure("sweeper")
    log.info("Sweeping pending requests every %ss.", settings.SWEEP_EVERY_S)
    while True:
        try:
            sweep_once()
        except Exception:  # noqa: BLE001 - the database may be down; keep sweeping
            log.exception("Sweep failed; retrying.")
        finally:
            if not db.is_closed():
                db.close()
        time.sleep(settings.SWEEP_EVERY_S)


if __name__ == "__main__":
    main()
