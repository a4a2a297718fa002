"""Logging: one JSON object per line on stderr, for web, worker and sweeper alike."""
import atexit
import contextvars
import logging
import logging.handlers
import sys
import time
from queue import SimpleQueue

import orjson

import settings

# LogRecord attributes that are not extra fields.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "context"}
# What every line logged while handling one HTTP request or one message carries
# (request_id, user_id, actor, attempt...); set by the web and worker middleware.
# (None, not {}, by default: a shared default dict would collect every context's fields.)
CONTEXT: contextvars.ContextVar[dict | None] = contextvars.ContextVar("log_context",
                                                                     default=None)


def context() -> dict:
    """The fields bound in this context (a copy: change them through bind and add)."""
    return dict(CONTEXT.get() or {})


def bind(**fields) -> contextvars.Token:
    """Add fields to every line logged in this context until `unbind`."""
    return CONTEXT.set({**context(), **fields})


def unbind(token: contextvars.Token) -> None:
    CONTEXT.reset(token)


def add(**fields) -> None:
    """Add fields to the current context (say, the user once the token is checked)."""
    CONTEXT.set({**context(), **fields})


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line, with its context and any `extra=` fields alongside.

    The context is the one the record was made in (`record.context`, set by the queueing
    handler below), or, for a record formatted where it was made, the current one.
    """

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process_name = process
        self._second = (-1, "")

    def _timestamp(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if self._second[0] != second:  # strftime once a second, not once a line
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": self._timestamp(record), "level": record.levelname,
                "process": self.process_name, "logger": record.name,
                "message": record.getMessage()}
        fields = getattr(record, "context", None)
        line.update(context() if fields is None else fields)
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class _Enqueue(logging.handlers.QueueHandler):
    """Hands records to the writer thread: the thread that logs only captures its context
    and the message, so a request never waits on stderr, its lock or the JSON."""

    def __init__(self, queue: "SimpleQueue[logging.LogRecord]",
                 formatter: JsonFormatter) -> None:
        super().__init__(queue)
        self.json = formatter

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.context = context()
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.traceback = self.json.formatException(record.exc_info)
            record.exc_info = record.exc_text = None
        return record


class WithoutQueryParameters(logging.Filter):
    """Keep peewee's DEBUG query lines but drop their parameter values, which hold
    password hashes, emails and other user data that must never reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            sql, params = record.msg
            record.msg, record.args = "%s -- %d parameters", (sql, len(params or ()))
        return True


class OncePerSecond(logging.Filter):
    """Let one line a second through, counting the ones held back in `suppressed`: waitress
    warns of its queue depth on every request that has to wait, hundreds a second under
    load, each costing the web process a record to write (and honcho one to relay)."""

    def __init__(self) -> None:
        super().__init__()
        self.second, self.held_back = -1, 0

    def filter(self, record: logging.LogRecord) -> bool:
        second = int(record.created)
        if second == self.second:
            self.held_back += 1
            return False
        record.suppressed, self.second, self.held_back = self.held_back, second, 0
        return True


_listener: logging.handlers.QueueListener | None = None


def configure(process: str) -> None:
    """Send every log line of this process to stderr as JSON, written by a thread of its
    own (lines still queued are written at exit; a SIGKILL loses them)."""
    global _listener
    formatter = JsonFormatter(process)
    writer = logging.StreamHandler(sys.stderr)
    writer.setFormatter(formatter)
    queue: SimpleQueue[logging.LogRecord] = SimpleQueue()
    if _listener is not None:
        _listener.stop()
    _listener = logging.handlers.QueueListener(queue, writer)
    _listener.start()
    atexit.register(_listener.stop)
    root = logging.getLogger()
    root.handlers[:] = [_Enqueue(queue, formatter)]
    root.setLevel(settings.LOG_LEVEL)
    logging.Formatter.converter = time.gmtime
    # pika narrates every connection at INFO; only its problems are worth a line.
    logging.getLogger("pika").setLevel(logging.WARNING)
    depth_log = logging.getLogger("waitress.queue")
    if not any(isinstance(f, OncePerSecond) for f in depth_log.filters):
        depth_log.addFilter(OncePerSecond())
    peewee_log = logging.getLogger("peewee")
    if not any(isinstance(f, WithoutQueryParameters) for f in peewee_log.filters):
        peewee_log.addFilter(WithoutQueryParameters())
