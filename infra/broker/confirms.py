"""Publisher confirms without a round trip per message: one publishing thread per process.

Dramatiq's `confirm_delivery=True` publishes on a channel per thread and waits for each
message's confirm before the next: on the accept path that cost a third of the web
process's throughput (bench/README.md). Here every thread of the process hands its
message to one publishing thread, which owns one connection and one channel in confirm
mode, publishes whatever it is handed as soon as it is handed (no waiting for earlier
confirms), and resolves each message when RabbitMQ's Basic.Ack covers it (RabbitMQ acks
many at once, `multiple`, as its queues commit them). The thread that sent a message
still waits for that message's confirm: a send that returns was confirmed, one that
raises was not (and the sweeper sends its request again).

The connection tries each node of the broker URL in turn. If it drops, every message not
yet confirmed fails at once (ConnectionClosed) and the next send connects again. A nack
(RabbitMQ lost a message: a quorum queue's leader died before it was committed) fails
that message, and the thread reconnects, as Dramatiq does: the channel that got it may
keep a stale view of the queue's leader, and nack every later message for seconds.
"""
import functools
import itertools
import logging
import threading
from collections.abc import Sequence
from typing import Any

import pika
import pika.exceptions
from dramatiq.errors import ConnectionClosed

log = logging.getLogger("infra.broker")

CONNECT_TIMEOUT_S = 10  # a send waits this long for a connection, then fails
CONFIRM_TIMEOUT_S = 30  # ...and this long for its confirm (a cluster without a majority)


class Unroutable(Exception):
    """Raised when RabbitMQ returned a mandatory message: no queue of that name."""


class _Send:
    """One message on its way: what to publish, and how it ended."""

    def __init__(self, queue: str, body: bytes, priority: int | None) -> None:
        self.queue, self.body, self.priority = queue, body, priority
        self.done = threading.Event()
        self.error: Exception | None = None

    def end(self, error: Exception | None = None) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


class ConfirmingPublisher:
    """Publishes for every thread of a process through one connection, each message
    confirmed (see the module's docstring)."""

    def __init__(self, parameters: Sequence[pika.URLParameters]) -> None:
        self.parameters = list(parameters)
        self.lock = threading.Lock()
        self.connection: pika.BlockingConnection | None = None
        self.connected = threading.Event()
        self.thread: threading.Thread | None = None
        self.unconfirmed: dict[int, _Send] = {}  # by delivery tag (the publishing thread's)
        self.returned: set[int] = set()
        self.tags = itertools.count(1)
        self.handed: set[_Send] = set()  # handed over, not yet published (under the lock)
        self.channel: Any = None  # the channel's asynchronous side (pika.channel.Channel)
        self.stopping = False
        self.nacked = False  # a nack: RabbitMQ lost track of a queue; take a new channel

    def publish(self, queue: str, body: bytes, *, priority: int | None = None) -> None:
        """Publish `body` to `queue` and return once RabbitMQ confirmed it.

        Raises:
          Unroutable: no queue of that name (declare it, then send again).
          ConnectionClosed: no node answers, the connection dropped before the confirm, or
            RabbitMQ refused (nack) the message.
        """
        self._start()
        connection = self._connection()
        send = _Send(queue, body, priority)
        with self.lock:
            self.handed.add(send)
        try:
            connection.add_callback_threadsafe(functools.partial(self._publish, send))
        except pika.exceptions.AMQPError as exc:
            with self.lock:
                self.handed.discard(send)
            raise ConnectionClosed(exc) from None
        waited = 0.0
        while not send.done.wait(0.5):
            waited += 0.5
            if waited >= CONFIRM_TIMEOUT_S:
                raise ConnectionClosed(pika.exceptions.AMQPError("no confirm in time"))
            with self.lock:  # handed to a connection that died before publishing it
                if send in self.handed and self.connection is not connection:
                    self.handed.discard(send)
                    raise ConnectionClosed(pika.exceptions.AMQPError("connection lost"))
        if send.error is not None:
            raise send.error

    def _connection(self) -> pika.BlockingConnection:
        """The publishing thread's connection, once open (waiting for it a while)."""
        waited = 0.0
        while waited < CONNECT_TIMEOUT_S:
            if self.connected.wait(CONNECT_TIMEOUT_S - waited):
                connection = self.connection
                if connection is not None and connection.is_open:
                    return connection
            threading.Event().wait(0.05)  # the thread is noticing a drop: reconnecting
            waited += 0.05
        raise ConnectionClosed(pika.exceptions.AMQPConnectionError("no node answers"))

    def stop(self) -> None:
        """Close the publishing connection and end its thread (sends after this fail)."""
        self.stopping = True
        connection = self.connection
        if connection is not None and connection.is_open:
            try:
                connection.add_callback_threadsafe(lambda: None)  # wake it up
            except pika.exceptions.AMQPError:
                pass
        if self.thread is not None:
            self.thread.join(5)

    def _start(self) -> None:
        if self.stopping:
            raise ConnectionClosed(pika.exceptions.AMQPError("the publisher was stopped"))
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="broker-publisher",
                                               daemon=True)
                self.thread.start()

    # -- the publishing thread --------------------------------------------------------------
    def _run(self) -> None:
        while not self.stopping:
            try:
                self._serve()
            except Exception as exc:  # noqa: BLE001 - any failure: fail what waits, reconnect
                self.connected.clear()
                with self.lock:
                    self.connection = None
                self._fail_all(exc)
                log.warning("The broker's publishing connection failed (%s); connecting "
                            "again.", type(exc).__name__)
                threading.Event().wait(0.2)  # not a busy loop while no node answers

    def _serve(self) -> None:
        connection = pika.BlockingConnection(self.parameters)
        channel = connection.channel()
        self.unconfirmed, self.returned, self.tags = {}, set(), itertools.count(1)
        self.nacked = False
        channel._impl.add_on_return_callback(self._on_return)
        channel._impl.confirm_delivery(ack_nack_callback=self._on_confirm)
        self.channel = channel._impl
        with self.lock:
            self.connection = connection
        self.connected.set()
        while connection.is_open and channel.is_open and not self.stopping:
            connection.process_data_events(time_limit=1)
            if self.nacked:  # as Dramatiq does on a nack: a new connection, a new channel
                connection.close()
                raise pika.exceptions.NackError([])
        if not self.stopping:
            raise pika.exceptions.AMQPConnectionError("the publishing channel closed")
        self.connected.clear()
        self._fail_all(pika.exceptions.AMQPError("the publisher was stopped"))
        if connection.is_open:
            connection.close()

    def _publish(self, send: _Send) -> None:
        with self.lock:
            if send not in self.handed:
                return  # its sender gave up on it
            self.handed.discard(send)
        tag = next(self.tags)
        self.unconfirmed[tag] = send
        self.channel.basic_publish(
            "", send.queue, send.body, mandatory=True, properties=pika.BasicProperties(
                delivery_mode=2, priority=send.priority, correlation_id=str(tag)))

    def _on_return(self, _channel, _method, properties, _body) -> None:
        self.returned.add(int(properties.correlation_id or 0))

    def _on_confirm(self, frame) -> None:
        method = frame.method
        tags = ([t for t in self.unconfirmed if t <= method.delivery_tag] if method.multiple
                else [method.delivery_tag])
        nack = isinstance(method, pika.spec.Basic.Nack)
        for tag in tags:
            send = self.unconfirmed.pop(tag, None)
            if send is None:
                continue
            if nack:
                send.end(ConnectionClosed(pika.exceptions.NackError([])))
                if not self.nacked and self.connection is not None:
                    self.nacked = True
                    self.connection.add_callback_threadsafe(lambda: None)  # wake _serve
            elif tag in self.returned:
                self.returned.discard(tag)
                send.end(Unroutable(send.queue))
            else:
                send.end()

    def _fail_all(self, exc: Exception) -> None:
        pending, self.unconfirmed = self.unconfirmed, {}
        for send in pending.values():
            send.end(ConnectionClosed(exc))
