"""Waking `?wait=` polls when their request settles: Redis pub/sub, the database as fallback.

Workers publish the ids of the requests they settled on one channel; each web process
runs one listener thread that wakes the polls waiting on those ids. A wake-up is only a
hint: a woken poll reads its request from the database again, and every poll also rereads
it every WAIT_RECHECK_S (a publish lost to a crash between commit and publish), or every
WAIT_FALLBACK_POLL_MS while the listener is not subscribed (Redis down).
"""
import logging
import threading
import time

import settings
from infra import cache
from models import db

log = logging.getLogger(__name__)

# Per database, so a test run and a dev stack sharing one Redis wake only their own polls.
CHANNEL = f"wallet:settled:{db.database}"
RECONNECT_S = 1.0
LISTEN_TIMEOUT_S = 1.0


def publish_command(pipe, request_ids: list[int]) -> None:
    """Queue the announcement of settled requests on a Redis pipeline (see settle.py)."""
    pipe.publish(CHANNEL, ",".join(str(i) for i in request_ids))


class Listener:
    """One subscriber per process, started on first use, waking the events of `watch`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.watched: dict[int, set[threading.Event]] = {}
        self.subscribed = threading.Event()
        self.thread: threading.Thread | None = None

    def watch(self, request_id: int) -> threading.Event:
        """An event set when `request_id` is announced; `unwatch` it when done."""
        self._start()
        event = threading.Event()
        with self.lock:
            self.watched.setdefault(request_id, set()).add(event)
        return event

    def unwatch(self, request_id: int, event: threading.Event) -> None:
        with self.lock:
            events = self.watched.get(request_id)
            if events is not None:
                events.discard(event)
                if not events:
                    del self.watched[request_id]

    def recheck_s(self) -> float:
        """How long a poll sleeps between two database reads."""
        if self.subscribed.is_set():
            return float(settings.WAIT_RECHECK_S)
        return settings.WAIT_FALLBACK_POLL_MS / 1000

    def wake(self, payload: bytes) -> None:
        ids = {int(part) for part in payload.split(b",") if part.isdigit()}
        with self.lock:
            for request_id in ids:
                for event in self.watched.get(request_id, ()):
                    event.set()

    def _start(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="wake-listener",
                                               daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while True:
            pubsub = None
            try:
                # Its own connection, without the short timeout of cache calls: it waits.
                client = cache.new_client(socket_timeout_s=LISTEN_TIMEOUT_S * 5,
                                          health_check_interval=30)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                self.subscribed.set()
                self._wake_all()  # anything announced while we were away
                while True:
                    message = pubsub.get_message(timeout=LISTEN_TIMEOUT_S)
                    if message is not None and message["type"] == "message":
                        self.wake(message["data"])
            except cache.ERRORS as exc:
                if self.subscribed.is_set():
                    log.warning("Wake-up channel lost (%s); polls read the database every "
                                "%s ms until it is back.", type(exc).__name__,
                                settings.WAIT_FALLBACK_POLL_MS)
                self.subscribed.clear()
                self._wake_all()  # so that waiting polls switch to the fallback pace now
                time.sleep(RECONNECT_S)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except cache.ERRORS:
                        pass

    def _wake_all(self) -> None:
        with self.lock:
            for events in self.watched.values():
                for event in events:
                    event.set()


LISTENER = Listener()
