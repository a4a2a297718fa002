"""Dramatiq's own dashboard (the dramatiq_dashboard package, Redis brokers only), served
under /ops/dramatiq behind the ops page's authorisation (see web/ops.py)."""
import functools

import bottle

import settings

PREFIX = "/ops/dramatiq"


@functools.cache
def app():
    """The dashboard's WSGI app when the broker is Redis; None for RabbitMQ."""
    if not settings.BROKER_URL.startswith("redis"):
        return None
    from dramatiq_dashboard import DashboardApp

    from actors.broker import broker
    return DashboardApp(broker=broker, prefix=PREFIX)


def call(path: str) -> bottle.HTTPResponse:
    """Answer the current request with the dashboard's page at `/<path>`."""
    environ = {**bottle.request.environ, "PATH_INFO": "/" + path, "SCRIPT_NAME": PREFIX}
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    body = b"".join(app()(environ, start_response))
    return bottle.HTTPResponse(body, status=int(seen["status"].split(" ", 1)[0]),
                               headers=seen["headers"])
