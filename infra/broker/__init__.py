"""The broker: the one module that knows BROKER_URL, and the one global of every process.

It parses the URL once (`NODES`: each node of a `;`-separated RabbitMQ cluster URL with
our connection defaults added; `MANAGEMENT_URLS` likewise for RABBITMQ_MANAGEMENT_URL) and
answers every broker question: the Dramatiq broker itself (`install`, `current`: quorum
queues and publisher confirms as configured, see quorum.py), whether it answers (`ping`),
which queues hold a backlog, how many messages were dead-lettered, and, for the ops page,
per-queue counts and the dead messages (`for_ops`: RabbitMQ's management API, or
Dramatiq's Redis keys). Every question tries each node in turn, so one node down answers
from the next: AMQP ones through `open_amqp`, management ones in RabbitQueues.

Queue names come from the callers (payments.queues names the actor queues): this module
knows brokers, not the operations that use them.
"""
import logging
from collections.abc import Iterable

import dramatiq
import pika
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import xq_name
from dramatiq.middleware import Middleware

import settings
from infra.broker.common import DeadMessage, QueueCounts
from infra.broker.quorum import QuorumRabbitmqBroker
from infra.broker.rabbit import RabbitQueues
from infra.broker.redis_keys import RedisQueues

__all__ = ["DeadMessage", "QueueCounts", "QuorumRabbitmqBroker", "RabbitQueues", "RedisQueues",
           "NODES", "KIND", "MANAGEMENT_URLS", "backlogged", "current", "dead_letter_counts",
           "for_ops", "install", "open_amqp", "ping", "split_nodes"]

log = logging.getLogger(__name__)

# Fail fast when RabbitMQ is down: the request is already recorded, the sweeper resends it.
AMQP_DEFAULTS = {"connection_attempts": "1", "socket_timeout": "3",
                 "blocked_connection_timeout": "5", "heartbeat": str(settings.AMQP_HEARTBEAT_S)}
# Short timeouts for the questions below, so a slow or absent broker costs a page or a
# scrape two seconds per node at most.
QUESTION_TIMEOUT_S = 2


def _with_defaults(url: str) -> str:
    present = {part.split("=")[0] for part in url.partition("?")[2].split("&") if part}
    extra = "&".join(f"{k}={v}" for k, v in AMQP_DEFAULTS.items() if k not in present)
    return url if not extra else url + ("&" if "?" in url else "?") + extra


def split_nodes(urls: str) -> tuple[str, ...]:
    """The non-empty `;`-separated parts of `urls`, stripped."""
    return tuple(u.strip() for u in urls.split(";") if u.strip())


def _kind(url: str) -> str:
    return "stub" if url.startswith("stub:") else "redis" if url.startswith("redis") else "amqp"


# "amqp", "redis" or "stub" (the in-memory broker of the tests).
KIND = _kind(settings.BROKER_URL)
# The nodes of the broker URL, each with the AMQP defaults (one node for Redis or stub).
NODES: tuple[str, ...] = tuple(_with_defaults(u) if KIND == "amqp" else u
                               for u in split_nodes(settings.BROKER_URL))
# The management API of each node (RABBITMQ_MANAGEMENT_URL), asked in turn.
MANAGEMENT_URLS: tuple[str, ...] = split_nodes(settings.RABBITMQ_MANAGEMENT_URL)

_broker: dramatiq.Broker | None = None


def _make() -> dramatiq.Broker:
    if KIND == "stub":
        return StubBroker()
    if KIND == "redis":
        return RedisBroker(url=NODES[0])
    return QuorumRabbitmqBroker(url=list(NODES), confirm_delivery=settings.BROKER_CONFIRM_DELIVERY,
                                quorum=settings.BROKER_QUORUM_QUEUES,
                                leader_locator=settings.BROKER_QUEUE_LEADER_LOCATOR)


def install(*, middleware: Iterable[Middleware] = ()) -> dramatiq.Broker:
    """Make the process's broker (once) and set it as Dramatiq's global; add `middleware`
    it does not have yet. Call it before any actor is declared.

    Returns:
      The broker.
    """
    global _broker
    if _broker is None:
        _broker = _make()
        dramatiq.set_broker(_broker)
    have = {type(m) for m in _broker.middleware}
    for extra in middleware:
        if type(extra) not in have:
            _broker.add_middleware(extra)
    return _broker


def current() -> dramatiq.Broker:
    """The process's broker, installed on first use."""
    return _broker if _broker is not None else install()


def open_amqp(*, timeout_s: float = QUESTION_TIMEOUT_S) -> pika.BlockingConnection:
    """A short-lived AMQP connection to the first node that answers.

    Raises:
      pika.exceptions.AMQPError: no node answers.
    """
    error: Exception = pika.exceptions.AMQPConnectionError("no broker URL")
    for url in NODES:
        params = pika.URLParameters(url)
        params.socket_timeout = params.blocked_connection_timeout = timeout_s
        params.connection_attempts, params.stack_timeout = 1, timeout_s
        try:
            return pika.BlockingConnection(params)
        except pika.exceptions.AMQPError as exc:
            error = exc
    raise error


def _redis_client() -> redis.Redis:
    return redis.Redis.from_url(NODES[0], socket_timeout=QUESTION_TIMEOUT_S,
                                socket_connect_timeout=QUESTION_TIMEOUT_S)


def ping() -> None:
    """Raises unless the broker (some node of it) answers."""
    if KIND == "redis":
        _redis_client().ping()
    elif KIND == "amqp":
        open_amqp().close()


def _message_counts(names: Iterable[str]) -> dict[str, int]:
    """Messages ready in each named RabbitMQ queue (0 for one never declared)."""
    connection = open_amqp()
    try:
        found = {}
        for name in names:
            channel = connection.channel()  # a missing queue closes the channel, not us
            try:
                found[name] = channel.queue_declare(name, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                found[name] = 0
                continue
            channel.close()
        return found
    finally:
        connection.close()


def backlogged(queues: Iterable[str]) -> set[str]:
    """The queues holding messages that wait for a worker now (empty when that cannot be
    told: another broker than RabbitMQ, or no node answers)."""
    if KIND != "amqp":
        return set()
    try:
        return {name for name, n in _message_counts(queues).items() if n}
    except pika.exceptions.AMQPError:
        return set()


def dead_letter_counts(queues: Iterable[str]) -> dict[str, int] | None:
    """Messages in each queue's dead-letter queue; None for the in-memory stub broker.

    Raises:
      pika.exceptions.AMQPError, redis.RedisError, OSError: the broker cannot be read.
    """
    queues = sorted(queues)
    if KIND == "stub":
        return None
    if KIND == "redis":
        client = _redis_client()
        try:
            pipe = client.pipeline(transaction=False)
            namespace = getattr(current(), "namespace", "dramatiq")
            for queue in queues:
                pipe.zcard(f"{namespace}:{xq_name(queue)}")
            return dict(zip(queues, pipe.execute(), strict=True))
        finally:
            client.close()
    counts = _message_counts(xq_name(q) for q in queues)
    return {q: counts[xq_name(q)] for q in queues}


def for_ops(queues: tuple[str, ...]) -> RabbitQueues | RedisQueues:
    """What the ops page asks of the broker: counts(), dead(queue), requeue(queue, key),
    delete(queue, key), over `queues`."""
    if KIND == "redis":
        broker = current()
        assert isinstance(broker, RedisBroker)
        return RedisQueues(broker, queues)
    return RabbitQueues(open_amqp, pika.URLParameters(NODES[0]).virtual_host, MANAGEMENT_URLS,
                        queues)
