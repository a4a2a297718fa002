"""Sending after the answer (payments/send.py): the caller of `send_soon` does not wait for
the broker, the send threads deliver what they are handed, and when they fall behind or the
broker refuses, nothing is lost from the request's point of view (the sweeper's part is
tested in tests/integration/test_settlement.py).

On the test process's StubBroker: a middleware holds each enqueue until the test lets it go.
"""
import logging
import threading
import time

import pytest
from dramatiq import Message
from dramatiq.middleware import Middleware, MiddlewareError

import settings
from infra import broker, logs
from models import PENDING, TransactionRequest
from payments import send
from payments.queues import SETTLERS

HOLD_S = 10


class Refused(MiddlewareError):
    """Raised when the gate plays a broker that refuses the message."""


class Gate(Middleware):
    """Holds every enqueue until `open` is set; `fail` makes it raise instead."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.fail = False
        self.entered: list[str] = []  # the names of the threads that began an enqueue

    @property
    def threads(self) -> set[str]:
        return set(self.entered)

    def wait_entered(self, count: int) -> None:
        deadline = time.monotonic() + HOLD_S
        while len(self.entered) < count:
            assert time.monotonic() < deadline, self.entered
            time.sleep(0.01)

    def before_enqueue(self, broker, message, delay):
        self.entered.append(threading.current_thread().name)
        assert self.open.wait(HOLD_S), "the test never opened the gate"
        if self.fail:
            raise Refused("the broker refused")


@pytest.fixture
def gate():
    stub = broker.current()
    assert type(stub).__name__ == "StubBroker"
    stub.flush_all()
    gate = Gate()
    stub.middleware.append(gate)
    yield gate
    gate.open.set()
    stub.middleware.remove(gate)
    stub.flush_all()


@pytest.fixture
def sender(monkeypatch, gate):
    """A fresh set of two send threads with room for two waiting sends; at the end, what
    they still hold is let through before the stub broker is flushed."""
    monkeypatch.setattr(settings, "SEND_THREADS", 2)
    monkeypatch.setattr(settings, "SEND_QUEUE_MAX", 2)
    fresh = send._Sender()
    monkeypatch.setattr(send, "_sender", fresh)
    yield fresh
    gate.fail = False
    gate.open.set()
    assert fresh.drain(HOLD_S)


def a_request(request_id: int) -> TransactionRequest:
    return TransactionRequest(id=request_id, type="transfer", status=PENDING)


def queued_ids() -> list[int]:
    queue_name, _ = SETTLERS["transfer"]
    stub = broker.current()
    if queue_name not in stub.queues:
        return []
    return [Message.decode(raw).args[0] for raw in list(stub.queues[queue_name].queue)]


def test_the_caller_returns_before_the_broker_has_the_message_and_it_arrives_after(
        gate, sender):
    # Given a broker that takes nothing until the gate opens
    token = logs.bind(request_id="trace-1")
    try:
        # When an answering thread hands a request over
        send.send_soon(a_request(101))
    finally:
        logs.unbind(token)
    # Then it returned with nothing sent yet, and a send thread is the one waiting
    assert queued_ids() == []
    assert not send.drain(timeout_s=0.2)
    assert gate.threads and all(name.startswith("send-") for name in gate.threads)
    # And once the broker takes messages, the message is there, with the HTTP request id
    gate.open.set()
    assert send.drain(timeout_s=HOLD_S)
    assert queued_ids() == [101]
    queue_name, _ = SETTLERS["transfer"]
    [raw] = list(broker.current().queues[queue_name].queue)
    assert Message.decode(raw).options["trace_id"] == "trace-1"


def test_when_the_send_threads_are_full_the_answering_thread_sends_itself(gate, sender):
    # Given two send threads, each stuck on one message, and two more sends waiting
    for request_id in (1, 2):
        send.send_soon(a_request(request_id))
    gate.wait_entered(2)
    for request_id in (3, 4):
        send.send_soon(a_request(request_id))
    # When a fifth is handed over, the queue of waiting sends being full
    caller = threading.Thread(target=send.send_soon, args=(a_request(5),), name="answering")
    caller.start()
    caller.join(0.3)
    # Then the answering thread sends it itself (and waits for the broker like the others)
    gate.wait_entered(3)
    assert caller.is_alive() and gate.entered[2] == "answering"
    gate.open.set()
    caller.join(HOLD_S)
    assert send.drain(timeout_s=HOLD_S)
    # And all five reach the broker, each once
    assert sorted(queued_ids()) == [1, 2, 3, 4, 5]


def test_a_refused_send_is_logged_for_the_sweeper_and_the_threads_go_on(gate, sender, caplog):
    # Given a broker that refuses
    gate.fail = True
    gate.open.set()
    with caplog.at_level(logging.WARNING, logger="payments.send"):
        # When two requests are handed over
        send.send_soon(a_request(7))
        send.send_soon(a_request(8))
        assert send.drain(timeout_s=HOLD_S)
    # Then neither is in a queue, each refusal is logged with its request id
    assert queued_ids() == []
    refused = [r.getMessage() for r in caplog.records if "sweeper will resend" in r.getMessage()]
    assert any("request 7" in m for m in refused) and any("request 8" in m for m in refused)
    # And the threads still send once the broker takes messages again
    gate.fail = False
    send.send_soon(a_request(9))
    assert send.drain(timeout_s=HOLD_S)
    assert queued_ids() == [9]


def test_without_send_threads_the_answering_thread_sends_before_it_returns(gate, monkeypatch):
    # Given SEND_THREADS=0
    monkeypatch.setattr(settings, "SEND_THREADS", 0)
    gate.open.set()
    # When a request is handed over
    send.send_soon(a_request(11))
    # Then it is in its queue when the call returns
    assert queued_ids() == [11]
