"""What the broker holds, for the ops page: per-queue counts and the dead-lettered messages.

Every actor queue `<q>` has a delay queue `<q>.DQ` and a dead-letter queue `<q>.XQ`.
`for_broker()` answers for RabbitMQ (`queues.rabbit`: counts and peeks through its
management HTTP API, moves through AMQP) and for Redis (`queues.redis_keys`: Dramatiq's
keys). Both requeue a dead message by sending it to `<q>` before it leaves `<q>.XQ`, so a
failure midway can at worst leave a duplicate, which settling tolerates, never lose it.
"""
from dramatiq.brokers.redis import RedisBroker

from queues.common import QUEUES, DeadMessage, QueueCounts
from queues.rabbit import RabbitQueues
from queues.redis_keys import RedisQueues

__all__ = ["QUEUES", "DeadMessage", "QueueCounts", "RabbitQueues", "RedisQueues", "for_broker"]


def for_broker(broker_url: str, management_url: str, *,
               redis_broker: RedisBroker | None = None) -> RabbitQueues | RedisQueues:
    """The queues of the broker at `broker_url` (Redis needs the RedisBroker itself).

    Returns:
      A RabbitQueues or RedisQueues: counts(), dead(queue), requeue(queue, key),
      delete(queue, key).
    """
    if broker_url.startswith("redis"):
        return RedisQueues(redis_broker)
    return RabbitQueues(broker_url, management_url)
