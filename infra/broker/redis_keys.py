"""Redis: Dramatiq's keys under its namespace (`<q>` list of ids, `<q>.msgs` hash of
bodies, `<q>.DQ.msgs`, and the `<q>.XQ` sorted set with its `<q>.XQ.msgs` bodies)."""
from typing import cast

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name, xq_name

from errors import BrokerUnavailable, DeadMessageNotFound
from infra.broker.common import (
    PEEK_LIMIT,
    DeadMessage,
    QueueCounts,
    check_queue,
    dead_message,
    fresh,
    log,
)


class RedisQueues:
    """The queues of a Dramatiq RedisBroker, read and changed through its own client."""

    def __init__(self, broker: RedisBroker, queues: tuple[str, ...]) -> None:
        self.broker, self.client, self.queues = broker, broker.client, queues

    def _key(self, name: str) -> str:
        return f"{self.broker.namespace}:{name}"

    def counts(self) -> list[QueueCounts] | None:
        """Per actor queue, read in one MULTI so the numbers agree; None if Redis fails."""
        pipe = self.client.pipeline(transaction=True)
        for q in self.queues:
            pipe.llen(self._key(q))
            pipe.hlen(self._key(q + ".msgs"))
            pipe.hlen(self._key(dq_name(q) + ".msgs"))
            pipe.zcard(self._key(xq_name(q)))
        try:
            values = pipe.execute()
        except redis.RedisError as exc:
            log.warning("Redis did not give queue counts: %s", type(exc).__name__)
            return None
        rows = [values[i:i + 4] for i in range(0, len(values), 4)]
        return [QueueCounts(q, ready, held - ready, delayed, dead)
                for q, (ready, held, delayed, dead) in zip(self.queues, rows, strict=True)]

    def dead(self, queue: str, *, limit: int = PEEK_LIMIT) -> list[DeadMessage] | None:
        """The `limit` most recently dead-lettered messages of `queue`."""
        check_queue(queue, self.queues)
        try:
            # (the broker's client does not decode: these are bytes)
            keys = cast(list[bytes], self.client.zrevrange(self._key(xq_name(queue)), 0,
                                                           limit - 1))
            bodies = cast(list[bytes | None], keys and self.client.hmget(
                self._key(xq_name(queue) + ".msgs"), keys))
        except redis.RedisError as exc:
            log.warning("Redis did not list dead messages: %s", type(exc).__name__)
            return None
        out = [dead_message(queue, key.decode(), body)
               for key, body in zip(keys, bodies, strict=True) if body is not None]
        return [m for m in out if m is not None]

    def _take(self, queue: str, key: str, *, republish: bool) -> None:
        check_queue(queue, self.queues)
        try:
            body = self.client.hget(self._key(xq_name(queue) + ".msgs"), key)
            if not isinstance(body, bytes):
                raise DeadMessageNotFound(f"{xq_name(queue)} holds no message {key[:64]!r}.")
            if republish:
                self.broker.enqueue(fresh(dramatiq.Message.decode(body), queue))
            pipe = self.client.pipeline(transaction=True)
            pipe.zrem(self._key(xq_name(queue)), key)
            pipe.hdel(self._key(xq_name(queue) + ".msgs"), key)
            pipe.execute()
        except redis.RedisError as exc:
            raise BrokerUnavailable(f"Redis failed: {type(exc).__name__}.") from None

    def requeue(self, queue: str, key: str) -> None:
        """Send dead message `key` (its redis_message_id) to `queue` again, then drop it."""
        self._take(queue, key, republish=True)

    def delete(self, queue: str, key: str) -> None:
        """Drop dead message `key` for good."""
        self._take(queue, key, republish=False)
