"""Handing recorded requests to their actors (the outbox's send side)."""
import logging

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
        SETTLERS[request.type].send(request.id)
        return True
    except Exception as exc:  # noqa: BLE001 - any broker failure is covered by the sweeper
        log.warning("Could not enqueue request %s (%s); the sweeper will resend it.",
                    request.id, exc)
        return False
