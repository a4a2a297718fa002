"""The withdrawals queue: settles withdrawal requests."""
import dramatiq

import settle
from actors.options import SETTLE


@dramatiq.actor(queue_name="withdrawals", **SETTLE)
def settle_withdrawal(request_id: int) -> None:
    """Carry out withdrawal request `request_id`; safe to run twice."""
    settle.settle(request_id)
