"""Housekeeping actors: closing requests whose retries ran out, expiring holds."""
import logging

import dramatiq

from payments import expiry, settle
from payments.queues import EXPIRE_ACTOR, GIVE_UP_ACTOR, MAINTENANCE

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name=MAINTENANCE, actor_name=GIVE_UP_ACTOR, max_retries=10)
def fail_exhausted_request(message: dict, retry_info: dict) -> None:
    """Mark the request of a dead-lettered settle message `failed` / `retries_exhausted`.

    Parameters:
      message: the dead message, as Dramatiq's Retries middleware hands it over.
      retry_info: how many retries were made.
    """
    request_id = message["args"][0]
    if settle.give_up(request_id, detail=f"Gave up after {retry_info.get('retries')} retries."):
        log.warning("Request %s failed: retries exhausted.", request_id)


@dramatiq.actor(queue_name=MAINTENANCE, actor_name=EXPIRE_ACTOR, max_retries=3,
                time_limit=10 * 60 * 1000)
def expire_holds() -> None:
    """Expire the active holds whose time is up (a round of them); safe to run twice and
    from several workers at once. The sweeper sends it every HOLD_EXPIRY_SWEEP_S / 3."""
    expiry.expire_due()
