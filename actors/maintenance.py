"""Housekeeping actors: closing requests whose retries ran out."""
import logging

import dramatiq

from payments import settle
from payments.queues import GIVE_UP_ACTOR, MAINTENANCE

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
