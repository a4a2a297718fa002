"""RabbitMQ: counts and peeks through the management HTTP API, moves through AMQP."""
import base64
from collections.abc import Callable
from urllib.parse import quote, urlsplit, urlunsplit

import dramatiq
import pika
import requests
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

TIMEOUT_S = 3
SCAN_LIMIT = 1000  # dead messages looked through to find one by id


def _api(management_url: str) -> tuple[str, tuple[str, str]]:
    """A node's API root (credentials taken out) and its credentials."""
    parts = urlsplit(management_url)
    auth = (parts.username or "guest", parts.password or "guest")
    netloc = (parts.hostname or "127.0.0.1") + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/api", "", "")), auth


class RabbitQueues:
    """RabbitMQ: the management API for counts and peeks, AMQP to move messages."""

    def __init__(self, connect: Callable[[], pika.BlockingConnection], vhost: str,
                 management_urls: str | tuple[str, ...], queues: tuple[str, ...]) -> None:
        """
        Parameters:
          connect: opens an AMQP connection to some node that answers.
          vhost: the virtual host of the actor queues.
          management_urls: the management API of each node, with its credentials (a tuple,
            or one string with the nodes `;`-separated); asked in turn until one answers.
          queues: the actor queues.
        """
        self.connect, self.queues = connect, queues
        if isinstance(management_urls, str):
            management_urls = tuple(u.strip() for u in management_urls.split(";") if u.strip())
        self.apis = tuple(_api(url) for url in management_urls)
        self.vhost = quote(vhost, safe="")

    def management_answers(self) -> bool:
        """Whether some node's management API answers these credentials (for manage.py)."""
        return self._call("GET", "/overview", quiet=True) is not None

    def _call(self, method: str, path: str, *, quiet: bool = False, **kwargs):
        """The JSON answer of the first node that gives one; None when none does."""
        for api, auth in self.apis:
            try:
                res = requests.request(method, f"{api}{path}", auth=auth, timeout=TIMEOUT_S,
                                       **kwargs)
                res.raise_for_status()
                return res.json()
            except (requests.RequestException, ValueError) as exc:
                if not quiet:
                    log.warning("RabbitMQ's management API at %s did not answer %s %s: %s",
                                urlsplit(api).netloc, method, path, type(exc).__name__)
        return None

    def counts(self) -> list[QueueCounts] | None:
        """Per actor queue; None when the management API does not answer."""
        rows = self._call("GET", f"/queues/{self.vhost}", params={
            "disable_stats": "true", "enable_queue_totals": "true",
            "columns": "name,messages_ready,messages_unacknowledged"})
        if rows is None:
            return None
        by_name = {row["name"]: row for row in rows}

        def field(name: str, key: str) -> int | None:
            return by_name.get(name, {}).get(key)

        def total(name: str) -> int | None:
            ready, unacked = field(name, "messages_ready"), field(name, "messages_unacknowledged")
            return None if ready is None or unacked is None else ready + unacked

        return [QueueCounts(q, field(q, "messages_ready"), field(q, "messages_unacknowledged"),
                            total(dq_name(q)), total(xq_name(q))) for q in self.queues]

    def dead(self, queue: str, *, limit: int = PEEK_LIMIT) -> list[DeadMessage] | None:
        """The first `limit` messages of `<queue>.XQ`, left in place (the management API
        takes them and puts them back); None when it does not answer."""
        check_queue(queue, self.queues)
        got = self._call("POST", f"/queues/{self.vhost}/{quote(xq_name(queue), safe='')}/get",
                         json={"count": limit, "ackmode": "ack_requeue_true",
                               "encoding": "base64", "truncate": 1_000_000})
        if got is None:
            return None
        out = [dead_message(queue, "", base64.b64decode(m["payload"])) for m in got]
        return [m for m in out if m is not None]

    def _take(self, queue: str, key: str, *, republish: bool) -> None:
        """Find message `key` in `<queue>.XQ`; publish it to `<queue>` (confirmed) if asked,
        then ack it. Messages looked at on the way go back unchanged; so does everything
        if anything fails before the ack (RabbitMQ requeues what a channel left unacked)."""
        check_queue(queue, self.queues)
        try:
            connection = self.connect()
        except pika.exceptions.AMQPError as exc:
            raise BrokerUnavailable(f"RabbitMQ is unreachable: {type(exc).__name__}.") from None
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for _ in range(SCAN_LIMIT):
                method, _props, body = channel.basic_get(xq_name(queue), auto_ack=False)
                if method is None:
                    break
                found = dead_message(queue, "", body)
                if found is None or found.message_id != key:
                    continue
                if republish:
                    message = fresh(dramatiq.Message.decode(body), queue)
                    channel.basic_publish("", queue, message.encode(), pika.BasicProperties(
                        delivery_mode=2), mandatory=True)
                channel.basic_ack(method.delivery_tag)
                channel.basic_nack(0, multiple=True, requeue=True)
                return
            channel.basic_nack(0, multiple=True, requeue=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise BrokerUnavailable(f"RabbitMQ refused: {exc.reply_text}.") from None
        except pika.exceptions.AMQPError as exc:
            raise BrokerUnavailable(f"RabbitMQ failed midway: {type(exc).__name__}; "
                                    "the message stays dead-lettered.") from None
        finally:
            if connection.is_open:
                connection.close()
        raise DeadMessageNotFound(f"{xq_name(queue)} holds no message {key[:64]!r}.")

    def requeue(self, queue: str, key: str) -> None:
        """Move dead message `key` back to `queue` as if first sent (no retries counted)."""
        self._take(queue, key, republish=True)

    def delete(self, queue: str, key: str) -> None:
        """Drop dead message `key` for good."""
        self._take(queue, key, republish=False)
