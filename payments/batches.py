"""Group commit: the requests a worker's threads hold are settled together.

Each settling actor hands its request id to the process's batcher and waits; one settling
thread takes whatever has gathered (at most SETTLE_BATCH_MAX_REQUESTS), waiting up to
SETTLE_BATCH_WAIT_MS for more only while fewer are there, settles them in one transaction
(payments/settle.py) and gives each waiting actor its outcome. While a batch is being
written the next one gathers, so under load batches grow by themselves, and a lone request
waits at most SETTLE_BATCH_WAIT_MS. An actor returns (and Dramatiq acknowledges its
message) only after the batch that settled it committed; if the batch fails, every actor
of it raises, and Dramatiq retries each message on its own.
"""
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import settings
from models import db
from payments.settle import settle_batch

log = logging.getLogger(__name__)


@dataclass
class Ticket:
    """One request waiting for its batch."""

    request_id: int
    done: threading.Event = field(default_factory=threading.Event)
    outcome: str | None = None
    error: BaseException | None = None


class Batcher:
    """Gathers request ids from many threads and settles them a batch at a time."""

    def __init__(self, settle_many: Callable[[list[int]], dict[int, str]], *, max_size: int,
                 max_wait_s: float) -> None:
        self.settle_many, self.max_size, self.max_wait_s = settle_many, max_size, max_wait_s
        self.gathered = threading.Condition()
        self.queue: list[Ticket] = []
        self.thread: threading.Thread | None = None

    def settle(self, request_id: int) -> str:
        """Settle `request_id` in the next batch; returns its outcome once that committed.

        Raises:
          Whatever settling the batch raised.
        """
        ticket = Ticket(request_id)
        with self.gathered:
            self.queue.append(ticket)
            self.gathered.notify()
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="settle-batches",
                                               daemon=True)
                self.thread.start()
        ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.outcome is not None
        return ticket.outcome

    def _take(self) -> list[Ticket]:
        with self.gathered:
            while not self.queue:
                self.gathered.wait()
            if len(self.queue) < self.max_size and self.max_wait_s > 0:
                self.gathered.wait_for(lambda: len(self.queue) >= self.max_size,
                                       timeout=self.max_wait_s)
            batch, self.queue = self.queue[:self.max_size], self.queue[self.max_size:]
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            ids = list(dict.fromkeys(t.request_id for t in batch))  # a duplicate settles once
            try:
                outcomes = self.settle_many(ids)
            except BaseException as exc:  # noqa: BLE001 - each waiting actor raises it
                for ticket in batch:
                    ticket.error = exc
                if not db.is_closed():
                    db.close()  # back to the pool, which pings it before it is used again
            else:
                for ticket in batch:
                    ticket.outcome = outcomes[ticket.request_id]
            for ticket in batch:
                ticket.done.set()


BATCHER = Batcher(settle_batch, max_size=settings.SETTLE_BATCH_MAX_REQUESTS,
                  max_wait_s=settings.SETTLE_BATCH_WAIT_MS / 1000)
