"""Handing recorded requests to their actors (the outbox's send side)."""
import logging

import logs
from actors import SETTLERS
from models import TransactionRequest

log = logging.getLogger(__name__)


def send(request: TransactionRequest) -> bool:
    """Enqueue a request's id for its actor, after its row is committed.

    Returns:
      False when the broker could not take it; the request stays pending and the
      sweeper sends it again, so the caller's 202 still holds.
    """
    try:
        # The HTTP request id travels with the message, so worker log lines carry it.
        trace_id = logs.CONTEXT.get().get("request_id")
        SETTLERS[request.type].send_with_options(args=(request.id,), trace_id=trace_id)
        return True
    except Exception as exc:  # noqa: BLE001 - any broker failure is covered by the sweeper
        log.warning("Could not enqueue request %s (%s); the sweeper will resend it.",
                    request.id, exc)
        return False
