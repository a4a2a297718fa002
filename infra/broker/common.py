"""The shapes both brokers answer in, and what requeueing resets on a message."""
import dataclasses
import logging

import dramatiq

from errors import DeadMessageNotFound

log = logging.getLogger("infra.broker")

PEEK_LIMIT = 20  # dead messages shown per queue
# Options a failed delivery added: a requeued message starts again with a full retry budget.
RESET_OPTIONS = {"retries", "traceback", "requeue_timestamp", "eta", "redis_message_id"}


@dataclasses.dataclass(frozen=True)
class QueueCounts:
    """Messages of one actor queue; None where the broker did not say."""

    queue: str
    ready: int | None
    unacked: int | None
    delayed: int | None  # ready + unacknowledged in <q>.DQ
    dead: int | None  # every message in <q>.XQ


@dataclasses.dataclass(frozen=True)
class DeadMessage:
    """A dead-lettered message; `key` names it to requeue() and delete()."""

    queue: str
    key: str
    message_id: str
    actor: str
    args: tuple
    retries: int
    sent_at_ms: int  # when it was first sent


def check_queue(queue: str, queues: tuple[str, ...]) -> None:
    """Raises DeadMessageNotFound for a name that is not one of the actor `queues`."""
    if queue not in queues:
        raise DeadMessageNotFound(f"No actor queue is called {queue[:40]!r}.")


def fresh(message: dramatiq.Message, queue: str) -> dramatiq.Message:
    """The message as first sent: its id and arguments, no retry count or traceback."""
    options = {k: v for k, v in message.options.items() if k not in RESET_OPTIONS}
    return dataclasses.replace(message, queue_name=queue, options=options)


def dead_message(queue: str, key: str, body: bytes) -> DeadMessage | None:
    """A dead message as the page shows it; None (and a log line) for a foreign body."""
    try:
        message = dramatiq.Message.decode(body)
    except dramatiq.errors.DecodeError:
        log.warning("Dead-letter queue of %s holds a message that is not Dramatiq's.", queue)
        return None
    return DeadMessage(queue, key or message.message_id, message.message_id, message.actor_name,
                       message.args, message.options.get("retries", 0),
                       message.message_timestamp)
