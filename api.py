"""The web process's composition root: `python api.py` (see the Procfile).

It wires what the layers below leave open (logs, the broker every send goes through)
and serves the WSGI app (`app`, from web/app.py) with waitress (web/server.py), in
WEB_PROCESSES processes forked from this one (web/prefork.py).
"""
import socket

import settings
from web import prefork

# Before the imports below, which are the first to import prometheus_client.
prefork.share_metrics()

from infra import broker, logs  # noqa: E402
from web import app as web_app  # noqa: E402
from web import server  # noqa: E402

broker.install()
app = web_app.build()


def serve(sock: socket.socket) -> None:
    """Serve `app` on `sock` in this process (each forked copy has its own log writer)."""
    logs.configure("web")
    server.serve(app, sock)


def main() -> None:
    logs.configure("web")
    prefork.run(serve, processes=settings.WEB_PROCESSES, host=settings.WEB_HOST,
                port=settings.WEB_PORT)


if __name__ == "__main__":
    main()
