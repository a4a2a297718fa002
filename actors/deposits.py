"""The deposits queue: settles deposit requests."""
import dramatiq

import settle
from actors.options import SETTLE


@dramatiq.actor(queue_name="deposits", **SETTLE)
def settle_deposit(request_id: int) -> None:
    """Carry out deposit request `request_id`; safe to run twice."""
    settle.settle(request_id)
