"""pika sends what it has queued in one send() (infra/broker/coalesce.py), on a real
RabbitMQ: a published message is one send, not one per frame, and what arrives is what was
sent, whatever its size."""
import os

import pika
import pytest
from pika.adapters.utils import io_services_utils

from infra import broker
from infra.broker import coalesce

Transport = io_services_utils._AsyncTransportBase


@pytest.fixture
def channel():
    """A confirming channel on the real broker and a queue of its own (gone with the
    connection)."""
    connection = pika.BlockingConnection(pika.URLParameters(os.environ["REAL_BROKER_URL"]))
    chan = connection.channel()
    chan.confirm_delivery()
    queue = chan.queue_declare("", exclusive=True, auto_delete=True).method.queue
    yield chan, queue
    connection.close()


@pytest.fixture
def sends(monkeypatch) -> list[int]:
    """The size of every send() any pika transport makes, frames joined as the service's
    processes join them (this one's broker is Dramatiq's stub, which does not)."""
    monkeypatch.setattr(Transport, "_produce", coalesce._ORIGINAL)
    coalesce.install()
    sizes: list[int] = []
    send = Transport._sigint_safe_send

    def counting(sock, data):
        sizes.append(len(data))
        return send(sock, data)

    monkeypatch.setattr(Transport, "_sigint_safe_send", staticmethod(counting))
    return sizes


def publish(chan, queue: str, body: bytes) -> None:
    chan.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2))


def received(chan, queue: str) -> bytes:
    method, _, body = chan.basic_get(queue, auto_ack=True)
    assert method is not None, "nothing arrived"
    return body


def test_every_process_that_makes_a_rabbitmq_broker_installs_it(monkeypatch):
    # Given a process without it (this one's broker is Dramatiq's in-process stub)
    monkeypatch.setattr(Transport, "_produce", coalesce._ORIGINAL)
    assert not coalesce.installed()
    # When it makes its RabbitMQ broker, Then pika sends joined frames from then on
    monkeypatch.setattr(broker, "KIND", "amqp")
    monkeypatch.setattr(broker, "NODES", (os.environ["REAL_BROKER_URL"],))
    broker._make().close()
    assert coalesce.installed()
    coalesce.install()  # a second time changes nothing
    assert coalesce.installed()


def test_a_published_message_is_one_send_where_pika_alone_makes_three(channel, sends,
                                                                      monkeypatch):
    chan, queue = channel
    # When a small message is published, Then its three frames leave in one send
    sends.clear()
    publish(chan, queue, b"settle 7")
    assert len(sends) == 1
    # And without the patch, pika's own transport sends one frame at a time
    monkeypatch.setattr(Transport, "_produce", coalesce._ORIGINAL)
    sends.clear()
    publish(chan, queue, b"settle 8")
    assert len(sends) == 3
    assert [received(chan, queue), received(chan, queue)] == [b"settle 7", b"settle 8"]


def test_a_message_larger_than_a_frame_or_a_socket_buffer_arrives_whole(channel, sends):
    # Given a body of many frames (frame_max is 128 KiB), larger than a socket's send
    # buffer: the joined buffer goes out in several partial sends
    chan, queue = channel
    body = os.urandom(3 * 1024 * 1024)
    sends.clear()
    publish(chan, queue, body)
    # Then it arrives byte for byte, in fewer sends than its frames
    assert received(chan, queue) == body
    assert len(sends) < len(body) // (128 * 1024)


def test_messages_published_in_a_row_arrive_whole_and_in_order(channel, sends):
    chan, queue = channel
    bodies = [f"request {i} ".encode() * (i % 7 + 1) for i in range(200)]
    for body in bodies:
        publish(chan, queue, body)
    assert [received(chan, queue) for _ in bodies] == bodies
