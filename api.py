"""The web process's composition root: `python api.py` (see the Procfile).

It wires what the layers below leave open (logs, the broker every send goes through)
and serves the WSGI app (`app`, from web/app.py) with waitress (web/server.py).
"""
from infra import broker, logs
from web import app as web_app
from web import server

broker.install()
app = web_app.build()


def main() -> None:
    logs.configure("web")
    server.serve(app)


if __name__ == "__main__":
    main()
