"""Bounds on `?wait=` polls: each holds a waitress thread, so only so many may wait at once.

At most MAX_WAITING_POLLS polls wait in one web process, and MAX_WAITING_POLLS_PER_USER of
them for one user; a poll beyond either is answered at once with the request as it stands
(settings keep the total under the thread count, so other callers always find a thread).
"""
import contextlib
import threading
from collections import Counter
from collections.abc import Iterator

import settings


class Slots:
    """Counted places to wait, in total and per user."""

    def __init__(self, *, total: int, per_user: int) -> None:
        self.total, self.per_user = total, per_user
        self.lock = threading.Lock()
        self.held: Counter[int] = Counter()

    @contextlib.contextmanager
    def take(self, user_id: int) -> Iterator[bool]:
        """A place to wait for `user_id` for the block, if one is free.

        Yields:
          True when the caller may wait, False when it must answer at once.
        """
        with self.lock:
            granted = (sum(self.held.values()) < self.total
                       and self.held[user_id] < self.per_user)
            if granted:
                self.held[user_id] += 1
        try:
            yield granted
        finally:
            if granted:
                with self.lock:
                    self.held[user_id] -= 1
                    if not self.held[user_id]:
                        del self.held[user_id]

    def waiting(self) -> int:
        """How many polls wait now."""
        with self.lock:
            return sum(self.held.values())


SLOTS = Slots(total=settings.MAX_WAITING_POLLS, per_user=settings.MAX_WAITING_POLLS_PER_USER)
