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
"""
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker
from dramatiq.common import xq_name

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


class QuorumRabbitmqBroker(RabbitmqBroker):
    """A RabbitmqBroker whose queues are quorum queues (or classic ones, as configured)."""

    def __init__(self, *, quorum: bool = True, leader_locator: str = "balanced",
                 **kwargs) -> None:
        """
        Parameters:
          quorum: declare quorum queues; False keeps Dramatiq's classic ones.
          leader_locator: where RabbitMQ puts a new quorum queue's leader.
          kwargs: RabbitmqBroker's own (url, confirm_delivery, middleware...).
        """
        super().__init__(**kwargs)
        self.quorum, self.leader_locator = quorum, leader_locator

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
