"""Logging: one JSON object per line on stderr, for web, worker and sweeper alike."""
import contextvars
import json
import logging
import sys
import time

import settings

# LogRecord attributes that are not extra fields.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
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
    """Render a record as one JSON line, with any `extra=` fields alongside."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process_name = process

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                "level": record.levelname, "process": self.process_name,
                "logger": record.name, "message": record.getMessage()}
        line.update(context())
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class WithoutQueryParameters(logging.Filter):
    """Keep peewee's DEBUG query lines but drop their parameter values, which hold
    password hashes, emails and other user data that must never reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            sql, params = record.msg
            record.msg, record.args = "%s -- %d parameters", (sql, len(params or ()))
        return True


def configure(process: str) -> None:
    """Send every log line of this process to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.LOG_LEVEL)
    logging.Formatter.converter = time.gmtime
    # pika narrates every connection at INFO; only its problems are worth a line.
    logging.getLogger("pika").setLevel(logging.WARNING)
    peewee_log = logging.getLogger("peewee")
    if not any(isinstance(f, WithoutQueryParameters) for f in peewee_log.filters):
        peewee_log.addFilter(WithoutQueryParameters())
