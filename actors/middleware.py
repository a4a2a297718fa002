"""Worker middleware: broken database connections back to the pool, a log line per failed
message (and per message at DEBUG), the start-up objects out of the collector's sight."""
import gc
import logging
import threading
import time

from dramatiq.middleware import Middleware

from infra import logs
from models import db

log = logging.getLogger("worker")


class ReleaseBrokenConnections(Middleware):
    """Worker threads keep their database connection from message to message (see
    models.Database); after a failed message it goes back to the pool, which pings it
    before it is used again, so a broken one is never reused."""

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is not None and not db.is_closed():
            db.close()


class MessageLog(Middleware):
    """Bind the actor, message, attempt, money request and HTTP request id to every log
    line of a message, and log one line when it is done (with its duration): a warning when
    it failed, at DEBUG when it succeeded. A line per successful message cost the worker
    42-52 µs of CPU and honcho about 0.13 ms to relay, per transfer; what settled is in the
    batch's line (payments/settle.py), how long messages take in the Prometheus metrics."""

    def __init__(self) -> None:
        self.local = threading.local()

    def before_process_message(self, broker, message):
        args = message.args or ()
        self.local.token = logs.bind(
            actor=message.actor_name, message_id=message.message_id,
            attempt=message.options.get("retries", 0) + 1,
            money_request_id=args[0] if args and isinstance(args[0], int) else None,
            request_id=message.options.get("trace_id"))
        self.local.started = time.perf_counter()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        token = getattr(self.local, "token", None)
        if token is None:
            return
        duration_ms = round((time.perf_counter() - self.local.started) * 1000, 3)
        if exception is None:
            log.debug("Processed %s.", message.actor_name, extra={"duration_ms": duration_ms})
        else:
            log.warning("%s failed: %s: %s", message.actor_name, type(exception).__name__,
                        exception, extra={"duration_ms": duration_ms})
        logs.unbind(token)
        self.local.token = None

    after_skip_message = after_process_message


class FreezeAfterBoot(Middleware):
    """Once the worker has booted, move every object the process holds into the garbage
    collector's permanent generation (gc.freeze). Modules, actors, models, the worker's
    threads and consumers live as long as the process; a full collection walked all of
    them (about 62,000) with the GIL held: 30-38 ms in-process, 45 ms in a worker under
    load (about one a minute), during which no message was settled or acknowledged.
    Afterwards it walks only what messages leave behind. Added by the worker processes'
    broker module only (actors.worker): a test process that boots a worker keeps its
    collector as it is."""

    def after_worker_boot(self, broker, worker):
        gc.freeze()
