"""Which actor settles which request type, on which queue.

The names live here, below the actors, so that sending a request (payments/send.py) needs
no actor object: actors/ declares its actors under these names, and the ops page and the
sweeper ask the broker about these queues.
"""
from models import TransactionRequest
from webhooks.dispatch import QUEUE as WEBHOOKS

# Request type -> (queue, actor name).
SETTLERS: dict[str, tuple[str, str]] = {
    "deposit": ("deposits", "settle_deposit"),
    "withdrawal": ("withdrawals", "settle_withdrawal"),
    "transfer": ("transfers", "settle_transfer"),
    "hold": ("holds", "settle_hold"),
    "capture": ("holds", "settle_capture"),
    "void": ("holds", "settle_void"),
    "refund": ("refunds", "settle_refund"),
}
# Where dead-lettered settle messages are turned into `retries_exhausted` outcomes.
MAINTENANCE = "maintenance"
GIVE_UP_ACTOR = "fail_exhausted_request"
# The round that expires holds whose time is up (sent by the sweeper on its schedule).
EXPIRE_ACTOR = "expire_holds"
# Every actor queue, sorted (what the ops page and /metrics report on).
QUEUES: tuple[str, ...] = tuple(sorted({q for q, _ in SETTLERS.values()} | {MAINTENANCE,
                                                                            WEBHOOKS}))
# The queues a settling worker takes (the Procfile's `worker`; webhooks have their own).
SETTLING_QUEUES: tuple[str, ...] = tuple(q for q in QUEUES if q != WEBHOOKS)


def queue_of(request: TransactionRequest) -> str:
    return SETTLERS[request.type][0]
