"""waitress, as the web process runs it: its limits, and our answers to what it refuses.

waitress reads a whole body before it calls the app, so the body limit is waitress's own
(`max_request_body_size`): a body announced or found larger than MAX_BODY_BYTES is refused
before it is buffered. What waitress answers itself (that 413, a malformed request) is our
problem+json with an X-Request-Id like every other answer, not waitress's plain text.
"""
import gc
import uuid
from collections.abc import Callable

import waitress
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask, WSGITask

import settings
from errors import BadHttpRequest, PayloadTooLarge
from web import problems
from web.http import SANE_REQUEST_ID, extra_headers, internal_error_body


class ProblemErrorTask(ErrorTask):
    """An answer waitress gives without the app, as problem+json."""

    def execute(self) -> None:
        error = self.request.error
        given = self.request.headers.get("X_REQUEST_ID", "")
        rid = given if SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        if error.code == 413:
            status, code, title = problems.lookup(PayloadTooLarge())
            detail = f"Bodies are limited to {settings.MAX_BODY_BYTES} bytes."
        elif error.code >= 500:
            status, code, title = problems.INTERNAL
            detail = "An unexpected error occurred; quote the request id when you report it."
        else:
            _, code, title = problems.lookup(BadHttpRequest())
            status, detail = error.code, f"{error.reason}: {error.body}"[:200]
        body = (problems.body(status, code, title, detail, request_id=rid) if status < 500
                else internal_error_body(rid))
        self.status = f"{status} {error.reason}"
        self.response_headers.extend([("Content-Type", problems.CONTENT_TYPE),
                                      ("Connection", "close"),
                                      *extra_headers(rid, [], private=True)])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


# How much of an answer waitress keeps in memory for one connection before it starts a new
# buffer. waitress never trims a buffer its client keeps pace with, so by default (16 MiB)
# a streamed statement sat in memory up to 16 MiB at a time; at 1 MiB a year's statement
# costs the process about as much as a page of history.
OUTBUF_HIGH_WATERMARK_BYTES = 1024 * 1024


class OneSendTask(WSGITask):
    """A WSGI task whose answer's head leaves with its body's first bytes, in one send().

    waitress sends the head and then the body, each as soon as it is written: two system
    calls and two TCP segments for every answer, the client woken twice. Joined, a bare
    waitress answers about a quarter more requests for the same CPU (bench/README.md). An
    answer without a Content-Length (a statement, streamed in chunks) or without a body is
    left to waitress, as is every write after the first.
    """

    def write(self, data: bytes) -> None:
        # With a Content-Length, waitress never chunks (build_response_header), and it cuts
        # a write that runs past the length; both are left to it.
        if (self.wrote_header or not self.complete or not data or not self.has_body
                or self.content_length is None or len(data) > self.content_length):
            super().write(data)
            return
        head = self.build_response_header()
        self.wrote_header = True
        self.content_bytes_written += len(data)
        self.channel.write_soon(head + data)


class Channel(HTTPChannel):
    task_class = OneSendTask
    error_task_class = ProblemErrorTask


def serve(app: Callable) -> None:
    """Serve `app` until the process is stopped."""
    server = waitress.create_server(
        app, host=settings.WEB_HOST, port=settings.WEB_PORT, threads=settings.WEB_THREADS,
        # waitress's default of 100 connections stalls any load above it.
        connection_limit=settings.WEB_CONNECTION_LIMIT,
        # waitress refuses a body of this size or more (see the module docstring).
        max_request_body_size=settings.MAX_BODY_BYTES + 1,
        # X-Forwarded-For reaches the app, which believes it only from TRUSTED_PROXIES
        # (web.inputs.client_address); waitress's own rule knows one proxy, not a list.
        clear_untrusted_proxy_headers=False,
        outbuf_high_watermark=OUTBUF_HIGH_WATERMARK_BYTES,
        channel_timeout=60, ident="wallet")
    server.channel_class = Channel
    # What the process built to get here (modules, routes, the app) lives as long as it
    # does: out of the collector's sight (never collected), a full collection walks only what
    # requests leave behind instead of every object of the process, about 10 ms with the GIL
    # held. Measured in bench/README.md (gc.freeze).
    gc.freeze()
    server.run()
