"""Handing recorded requests to their actors (the outbox's send side), and asking for an
expiry round."""
import logging

import dramatiq

from infra import broker, logs
from models import TransactionRequest
from payments.queues import EXPIRE_ACTOR, MAINTENANCE, SETTLERS

log = logging.getLogger(__name__)


def _enqueue(queue: str, actor: str, args: tuple) -> None:
    current = broker.current()
    if queue not in current.get_declared_queues():
        current.declare_queue(queue)
    # The HTTP request id travels with the message, so worker log lines carry it.
    current.enqueue(dramatiq.Message(
        queue_name=queue, actor_name=actor, args=args, kwargs={},
        options={"trace_id": logs.context().get("request_id")}))


def send(request: TransactionRequest) -> bool:
    """Enqueue a request's id for its actor, after its row is committed.

    Returns:
      False when the broker could not take it; the request stays pending and the
      sweeper sends it again, so the caller's 202 still holds.
    """
    queue, actor = SETTLERS[request.type]
    try:
        _enqueue(queue, actor, (request.id,))
        return True
    except Exception as exc:  # noqa: BLE001 - any broker failure is covered by the sweeper
        log.warning("Could not enqueue request %s (%s); the sweeper will resend it.",
                    request.id, exc)
        return False


def send_expiry() -> bool:
    """Ask a worker for a round of hold expiry (see payments/expiry.py).

    Returns:
      False when the broker could not take it (the next round is asked for anyway).
    """
    try:
        _enqueue(MAINTENANCE, EXPIRE_ACTOR, ())
        return True
    except Exception as exc:  # noqa: BLE001 - the sweeper asks again on its next round
        log.warning("Could not ask for a hold expiry round (%s).", exc)
        return False
