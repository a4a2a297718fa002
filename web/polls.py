"""Bounds on `?wait=` polls: each holds a waitress thread, so only so many may wait at once.

At most MAX_WAITING_POLLS polls wait in one web process, and MAX_WAITING_POLLS_PER_USER of
them for one user; a poll beyond either is answered at once with the request as it stands
(settings keep the total under the thread count, so other callers always find a thread).
"""
import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator

import settings
from web import metrics


class Slots:
    """Counted places to wait, in total and per user.

    Parameters:
      on_change: called with how many wait, each time that changes.
    """

    def __init__(self, *, total: int, per_user: int,
                 on_change: Callable[[int], None] = lambda waiting: None) -> None:
        self.total, self.per_user, self.on_change = total, per_user, on_change
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
                self.on_change(sum(self.held.values()))
        try:
            yield granted
        finally:
            if granted:
                with self.lock:
                    self.held[user_id] -= 1
                    if not self.held[user_id]:
                        del self.held[user_id]
                    self.on_change(sum(self.held.values()))


SLOTS = Slots(total=settings.MAX_WAITING_POLLS, per_user=settings.MAX_WAITING_POLLS_PER_USER,
              on_change=metrics.WAITING_POLLS.set)
