"""Dramatiq's RabbitMQ broker, declaring quorum queues.

Dramatiq 2.2 declares classic queues only. A quorum queue is replicated over the nodes of a
cluster (a majority must hold a message before its publisher confirm), so killing one node
loses nothing that was confirmed. The actor queue, its delay queue `<q>.DQ` and its
dead-letter queue `<q>.XQ` are all declared as quorum queues, with a leader locator so that
their leaders spread over the nodes instead of all landing on the first one a process met.
Dead-lettering is at-least-once: a message leaves `<q>` only once `<q>.XQ` has it (which
RabbitMQ allows only with the `reject-publish` overflow; no length limit is set, so that
never rejects anything).

Quorum queues refuse some classic arguments (`x-max-priority`, which Dramatiq adds for its
`max_priority` option, unused here): they are left out.

With confirms on, messages go through one publishing thread per process that pipelines
them and resolves each on RabbitMQ's (cumulative) confirm (confirms.py), instead of a
round trip per message on each thread's own channel.
"""
from dramatiq import Message
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker
from dramatiq.common import current_millis, dq_name, xq_name
from dramatiq.errors import ConnectionClosed

from infra.broker.confirms import ConfirmingPublisher, Unroutable

# Classic-queue arguments a quorum queue refuses.
CLASSIC_ONLY = ("x-max-priority", "x-queue-mode", "x-queue-master-locator")


def quorum_arguments(leader_locator: str) -> dict[str, str]:
    """What makes a queue a quorum queue, with its leader placed by `leader_locator`."""
    return {"x-queue-type": "quorum", "x-queue-leader-locator": leader_locator}


def queue_arguments(queue: str, *, quorum: bool, leader_locator: str) -> dict:
    """The arguments of `queue` and of its `.DQ` (both dead-letter into `<queue>.XQ`).

    Parameters:
      queue: the actor queue's name.
      quorum: declare it as a quorum queue (else classic, as Dramatiq does).
      leader_locator: `balanced` or `client-local` (quorum only).
    """
    arguments = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": xq_name(queue)}
    if quorum:
        arguments |= quorum_arguments(leader_locator) | {
            "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    return arguments


def dead_letter_arguments(*, quorum: bool, leader_locator: str) -> dict:
    """The arguments of a `<queue>.XQ`: Dramatiq's fixed message TTL (a week by default)."""
    arguments: dict = {"x-message-ttl": DEAD_MESSAGE_TTL}
    if quorum:
        arguments |= quorum_arguments(leader_locator)
    return arguments


# Sends of one message: a connection lost midway is tried again on the next node.
SEND_ATTEMPTS = 3


class QuorumRabbitmqBroker(RabbitmqBroker):
    """A RabbitmqBroker whose queues are quorum queues (or classic ones, as configured),
    and whose confirmed sends are pipelined through one publishing thread."""

    def __init__(self, *, quorum: bool = True, leader_locator: str = "balanced",
                 pipelined_confirms: bool = True, **kwargs) -> None:
        """
        Parameters:
          quorum: declare quorum queues; False keeps Dramatiq's classic ones.
          leader_locator: where RabbitMQ puts a new quorum queue's leader.
          pipelined_confirms: with confirm_delivery, send through one publishing thread
            (confirms.py); False waits for each confirm on the sending thread's channel,
            as Dramatiq does.
          kwargs: RabbitmqBroker's own (url, confirm_delivery, middleware...).
        """
        super().__init__(**kwargs)
        self.quorum, self.leader_locator = quorum, leader_locator
        nodes = self.parameters if isinstance(self.parameters, list) else [self.parameters]
        self.publisher = (ConfirmingPublisher(nodes)
                          if self.confirm_delivery and pipelined_confirms else None)

    def close(self) -> None:
        """Close every connection, the publishing thread's too."""
        if self.publisher is not None:
            self.publisher.stop()
        super().close()

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        """Send `message` (after `delay` ms), returning once RabbitMQ confirmed it.

        Raises:
          ConnectionClosed: it could not be sent, or was not confirmed.
        """
        if self.publisher is None:
            return super().enqueue(message, delay=delay)
        canonical = queue_name = message.queue_name
        if delay is not None:  # as Dramatiq does it: through the delay queue, with an eta
            queue_name = dq_name(queue_name)
            message = message.copy(queue_name=queue_name,
                                   options={"eta": current_millis() + delay})
        error: Exception = ConnectionClosed(None)
        for _ in range(SEND_ATTEMPTS):
            self.declare_queue(canonical, ensure=True)
            self.emit_before("enqueue", message, delay)
            try:
                self.publisher.publish(queue_name, message.encode(),
                                       priority=message.options.get("broker_priority"))
            except Unroutable as exc:  # deleted under us: declare it again, send again
                self.queues_pending.add(canonical)
                error = ConnectionClosed(exc)
                continue
            except ConnectionClosed as exc:
                error = exc
                continue
            self.emit_after("enqueue", message, delay)
            return message
        raise error

    def _build_queue_arguments(self, queue_name: str) -> dict:
        arguments = super()._build_queue_arguments(queue_name)
        if not self.quorum:
            return arguments
        for name in CLASSIC_ONLY:
            arguments.pop(name, None)
        return arguments | queue_arguments(queue_name, quorum=True,
                                           leader_locator=self.leader_locator)

    def _declare_xq_queue(self, queue_name: str):
        return self.channel.queue_declare(
            queue=xq_name(queue_name), durable=True,
            arguments=dead_letter_arguments(quorum=self.quorum,
                                            leader_locator=self.leader_locator))
