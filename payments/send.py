"""Handing recorded requests to their actors (the outbox's send side)."""
import logging

import dramatiq

from infra import broker, logs
from models import TransactionRequest
from payments.queues import SETTLERS

log = logging.getLogger(__name__)


def send(request: TransactionRequest) -> bool:
    """Enqueue a request's id for its actor, after its row is committed.

    Returns:
      False when the broker could not take it; the request stays pending and the
      sweeper sends it again, so the caller's 202 still holds.
    """
    queue, actor = SETTLERS[request.type]
    try:
        current = broker.current()
        if queue not in current.get_declared_queues():
            current.declare_queue(queue)
        # The HTTP request id travels with the message, so worker log lines carry it.
        current.enqueue(dramatiq.Message(
            queue_name=queue, actor_name=actor, args=(request.id,), kwargs={},
            options={"trace_id": logs.context().get("request_id")}))
        return True
    except Exception as exc:  # noqa: BLE001 - any broker failure is covered by the sweeper
        log.warning("Could not enqueue request %s (%s); the sweeper will resend it.",
                    request.id, exc)
        return False
