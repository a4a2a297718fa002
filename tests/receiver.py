"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 that verifies every
delivery with the `standardwebhooks` package, as an integrator's would, and records it.

It can answer with a given status, fail a share of deliveries, answer slowly, redirect,
or be down (its socket closed) for a while.
"""
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import standardwebhooks


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: dict | None  # the event, when the signature checked out
    status: int            # what the receiver answered


@dataclass
class Receiver:
    """Deliveries by path; `secrets` maps a path (one per webhook) to its secret."""

    secrets: dict[str, str] = field(default_factory=dict)
    status: int = 200
    fail_share: float = 0.0
    delay_s: float = 0.0
    redirect_to: str | None = None
    # While set and not released, every delivery waits for it (a receiver that hangs).
    gate: threading.Event | None = None
    seen: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    server: ThreadingHTTPServer | None = None
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, port: int = 0) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.handle(self, body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Go down: the port refuses connections until `start(port=...)` again."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        if self.gate is not None:
            self.gate.wait(120)
        if self.delay_s:
            time.sleep(self.delay_s)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        secret = self.secrets.get(handler.path)
        try:
            verified = standardwebhooks.Webhook(secret).verify(body, headers) if secret else None
        except standardwebhooks.webhooks.WebhookVerificationError:
            verified = None
        with self.lock:
            status = self.status
            if status < 300 and self.rng.random() < self.fail_share:
                status = 503
            if self.redirect_to:
                status = 302
            self.seen.append(Delivery(handler.path, headers, body, verified, status))
        handler.send_response(status)
        if self.redirect_to:
            handler.send_header("Location", self.redirect_to)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def delivered(self, path: str | None = None) -> dict[str, list[Delivery]]:
        """Verified deliveries answered 2xx, by webhook-id (every attempt of each)."""
        out: dict[str, list[Delivery]] = defaultdict(list)
        with self.lock:
            for seen in self.seen:
                if (path is None or seen.path == path) and seen.verified is not None \
                        and seen.status < 300:
                    out[seen.headers["webhook-id"]].append(seen)
        return out
