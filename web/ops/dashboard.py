"""Dramatiq's own dashboard (the dramatiq_dashboard package, Redis brokers only), served
under /ops/dramatiq behind the ops page's authorisation (see web/ops/routes.py)."""
import functools

import bottle

from infra import broker
from payments.queues import QUEUES

PREFIX = "/ops/dramatiq"


@functools.cache
def app():
    """The dashboard's WSGI app when the broker is Redis; None for RabbitMQ."""
    if broker.KIND != "redis":
        return None
    from dramatiq_dashboard import DashboardApp  # installed for Redis brokers only

    current = broker.current()
    for queue in QUEUES:  # the web process declares no actors: name their queues for it
        current.declare_queue(queue)
    return DashboardApp(broker=current, prefix=PREFIX)


def call(path: str) -> bottle.HTTPResponse:
    """Answer the current request with the dashboard's page at `/<path>`."""
    environ = {**bottle.request.environ, "PATH_INFO": "/" + path, "SCRIPT_NAME": PREFIX}
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    body = b"".join(app()(environ, start_response))
    return bottle.HTTPResponse(body, status=int(seen["status"].split(" ", 1)[0]),
                               headers=seen["headers"])
