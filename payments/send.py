"""Handing recorded requests to their actors (the outbox's send side), and asking for an
expiry round.

A web process answers 202 as soon as a request is committed and sends it afterwards
(`send_soon`): SEND_THREADS threads take what the answering threads leave them, so a client
waits for the database, not also for RabbitMQ's publisher confirm. The request is durable
before it is sent either way; a send that fails, or dies with the process before it is
made, leaves the request pending and the sweeper sends it again (payments/sweep.py).
"""
import logging
import queue
import threading
import time

import dramatiq

import settings
from infra import broker, logs
from models import TransactionRequest
from payments.queues import EXPIRE_ACTOR, MAINTENANCE, SETTLERS

log = logging.getLogger(__name__)


def _enqueue(queue_name: str, actor: str, args: tuple, *, trace_id: str | None) -> None:
    current = broker.current()
    if queue_name not in current.get_declared_queues():
        current.declare_queue(queue_name)
    # The HTTP request id travels with the message, so worker log lines carry it.
    current.enqueue(dramatiq.Message(queue_name=queue_name, actor_name=actor, args=args,
                                     kwargs={}, options={"trace_id": trace_id}))


def _send(request_id: int, kind: str, trace_id: str | None) -> bool:
    queue_name, actor = SETTLERS[kind]
    try:
        _enqueue(queue_name, actor, (request_id,), trace_id=trace_id)
        return True
    except Exception as exc:  # noqa: BLE001 - any broker failure is covered by the sweeper
        log.warning("Could not enqueue request %s (%s); the sweeper will resend it.",
                    request_id, exc)
        return False


def send(request: TransactionRequest) -> bool:
    """Enqueue a request's id for its actor, after its row is committed; returns once the
    broker has taken it.

    Returns:
      False when the broker could not take it; the request stays pending and the
      sweeper sends it again, so the caller's 202 still holds.
    """
    return _send(request.id, request.type, logs.context().get("request_id"))


class _Sender:
    """The threads that send what `send_soon` leaves them (started on first use)."""

    def __init__(self) -> None:
        self.waiting: queue.Queue[tuple[int, str, str | None]] = queue.Queue(
            maxsize=settings.SEND_QUEUE_MAX)
        self.lock = threading.Lock()
        self.started = False

    def hand(self, item: tuple[int, str, str | None]) -> bool:
        """Leave `item` to the threads; False when SEND_QUEUE_MAX sends wait already."""
        if not self.started:
            self._start()
        try:
            self.waiting.put_nowait(item)
            return True
        except queue.Full:
            return False

    def _start(self) -> None:
        with self.lock:
            if self.started:
                return
            for number in range(settings.SEND_THREADS):
                threading.Thread(target=self._run, name=f"send-{number}", daemon=True).start()
            self.started = True

    def _run(self) -> None:
        while True:
            item = self.waiting.get()
            try:
                _send(*item)
            finally:
                self.waiting.task_done()

    def drain(self, timeout_s: float) -> bool:
        """Wait until every send handed over so far was made (or failed)."""
        deadline = time.monotonic() + timeout_s
        with self.waiting.all_tasks_done:
            while self.waiting.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.waiting.all_tasks_done.wait(left)
        return True


_sender = _Sender()


def send_soon(request: TransactionRequest) -> None:
    """Send a committed request after the caller has answered: handed to the process's
    send threads, or sent here and now when there are none (SEND_THREADS=0) or they are
    SEND_QUEUE_MAX behind (so a broker slower than the door slows the door, not memory)."""
    trace_id = logs.context().get("request_id")
    if settings.SEND_THREADS and _sender.hand((request.id, request.type, trace_id)):
        return
    _send(request.id, request.type, trace_id)


def drain(*, timeout_s: float) -> bool:
    """Wait, at most `timeout_s`, until the sends handed over so far were made (a web
    process stopping, a test that looks at the queues).

    Returns:
      False when some were still waiting at the deadline (the sweeper sends those).
    """
    return _sender.drain(timeout_s)


def send_expiry() -> bool:
    """Ask a worker for a round of hold expiry (see payments/expiry.py).

    Returns:
      False when the broker could not take it (the next round is asked for anyway).
    """
    try:
        _enqueue(MAINTENANCE, EXPIRE_ACTOR, (), trace_id=logs.context().get("request_id"))
        return True
    except Exception as exc:  # noqa: BLE001 - the sweeper asks again on its next round
        log.warning("Could not ask for a hold expiry round (%s).", exc)
        return False
