"""The transfers queue: settles transfer requests."""
import dramatiq

import settle
from actors.options import SETTLE


@dramatiq.actor(queue_name="transfers", **SETTLE)
def settle_transfer(request_id: int) -> None:
    """Carry out transfer request `request_id`; safe to run twice."""
    settle.settle(request_id)
