"""The settling actors, one per request type and queue (see payments/queues.py).

Each hands its request to the process's batcher (payments/batches.py), which settles the
requests the worker's threads hold together, and returns once that batch committed.
"""
import dramatiq

from actors.options import SETTLE
from payments.batches import BATCHER
from payments.queues import SETTLERS


@dramatiq.actor(queue_name=SETTLERS["deposit"][0], actor_name=SETTLERS["deposit"][1], **SETTLE)
def settle_deposit(request_id: int) -> None:
    """Carry out deposit request `request_id`; safe to run twice."""
    BATCHER.settle(request_id)


@dramatiq.actor(queue_name=SETTLERS["withdrawal"][0], actor_name=SETTLERS["withdrawal"][1],
                **SETTLE)
def settle_withdrawal(request_id: int) -> None:
    """Carry out withdrawal request `request_id`; safe to run twice."""
    BATCHER.settle(request_id)


@dramatiq.actor(queue_name=SETTLERS["transfer"][0], actor_name=SETTLERS["transfer"][1],
                **SETTLE)
def settle_transfer(request_id: int) -> None:
    """Carry out transfer request `request_id`; safe to run twice."""
    BATCHER.settle(request_id)


@dramatiq.actor(queue_name=SETTLERS["hold"][0], actor_name=SETTLERS["hold"][1], **SETTLE)
def settle_hold(request_id: int) -> None:
    """Carry out hold request `request_id` (activate its hold, or fail it); safe to run twice."""
    BATCHER.settle(request_id)


@dramatiq.actor(queue_name=SETTLERS["capture"][0], actor_name=SETTLERS["capture"][1], **SETTLE)
def settle_capture(request_id: int) -> None:
    """Carry out capture request `request_id`; safe to run twice."""
    BATCHER.settle(request_id)


@dramatiq.actor(queue_name=SETTLERS["void"][0], actor_name=SETTLERS["void"][1], **SETTLE)
def settle_void(request_id: int) -> None:
    """Carry out void request `request_id`; safe to run twice."""
    BATCHER.settle(request_id)


@dramatiq.actor(queue_name=SETTLERS["refund"][0], actor_name=SETTLERS["refund"][1], **SETTLE)
def settle_refund(request_id: int) -> None:
    """Carry out refund request `request_id`; safe to run twice."""
    BATCHER.settle(request_id)
