"""How many messages wait in each actor queue's dead-letter queue (`<queue>.XQ`).

Read over a short-lived connection of its own, with short timeouts, so a slow or absent
broker costs a scrape two seconds at most and never touches the connections the web
process sends messages over.
"""
import dramatiq
import pika
import redis
from dramatiq.common import q_name, xq_name

import actors  # noqa: F401 - declares every actor, hence its queue, on the global broker
import settings

TIMEOUT_S = 2
# Where Dramatiq's Redis broker keeps its keys unless told otherwise.
REDIS_NAMESPACE = "dramatiq"


def actor_queues() -> list[str]:
    """The queues the declared actors consume, without their delay and dead-letter queues."""
    return sorted({q_name(queue) for queue in dramatiq.get_broker().get_declared_queues()})


def counts() -> dict[str, int] | None:
    """Dead-lettered messages per actor queue; None for the in-memory stub broker.

    Raises:
      pika.exceptions.AMQPError, redis.RedisError, OSError: the broker cannot be read.
    """
    url = settings.BROKER_URL
    if url.startswith("stub:"):
        return None
    if url.startswith("redis"):
        return _redis_counts(url, actor_queues())
    return _amqp_counts(url, actor_queues())


def _redis_counts(url: str, queues: list[str]) -> dict[str, int]:
    """Dramatiq's Redis broker keeps dead letters in a sorted set per queue."""
    namespace = getattr(dramatiq.get_broker(), "namespace", REDIS_NAMESPACE)
    client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S,
                                  socket_connect_timeout=TIMEOUT_S)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            pipe.zcard(f"{namespace}:{xq_name(queue)}")
        return dict(zip(queues, pipe.execute()))
    finally:
        client.close()


def _amqp_counts(urls: str, queues: list[str]) -> dict[str, int]:
    """A passive declare of each dead-letter queue answers with its message count."""
    connection = _amqp_connection(urls)
    try:
        found = {}
        for queue in queues:
            channel = connection.channel()  # a missing queue closes the channel, not us
            try:
                found[queue] = channel.queue_declare(xq_name(queue),
                                                     passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                found[queue] = 0  # never declared, so nothing was ever dead-lettered there
                continue
            channel.close()
        return found
    finally:
        connection.close()


def _amqp_connection(urls: str) -> pika.BlockingConnection:
    """A connection to the first node of `urls` (`;`-separated) that answers."""
    error: Exception = pika.exceptions.AMQPConnectionError("no broker URL")
    for url in urls.split(";"):
        params = pika.URLParameters(url)
        params.socket_timeout = params.blocked_connection_timeout = TIMEOUT_S
        params.connection_attempts, params.stack_timeout = 1, TIMEOUT_S
        try:
            return pika.BlockingConnection(params)
        except pika.exceptions.AMQPError as exc:
            error = exc
    raise error
