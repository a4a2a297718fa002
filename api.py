"""The web process's composition root: `python api.py` (see the Procfile).

It wires what the layers below leave open (logs, the broker every send goes through)
and serves the WSGI app (`app`, from web/app.py) with waitress (web/server.py).
"""
import signal
import sys

from infra import broker, logs
from payments import send
from web import app as web_app
from web import server

# How long a stopping web process waits for the sends it still holds (payments/send.py);
# what is left after that, the sweeper sends.
STOP_SENDS_S = 5

broker.install()
app = web_app.build()


def main() -> None:
    logs.configure("web")
    # SIGTERM (honcho, systemd) ends the serving loop like Ctrl-C, so the sends still
    # waiting are made before the process goes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve(app)
    finally:
        send.drain(timeout_s=STOP_SENDS_S)


if __name__ == "__main__":
    main()
