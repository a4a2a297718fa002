"""The Bottle app: its plugins, every route table, and the answers for unknown paths.

`build()` makes the WSGI application (wrapped in web.http.RequestIdMiddleware); api.py,
the composition root, serves it.
"""
import bottle

from errors import MethodNotAllowed, NotFound
from web import gauges, metrics, polls
from web.http import KnownQueryOnly, RequestIdMiddleware, problem_response, problems_plugin
from web.ops import routes as ops
from web.routes import (
    events,
    holds,
    money,
    notifications,
    requests,
    service,
    statements,
    users,
    wallets,
    webhooks,
)

TABLES = [users.routes, wallets.routes, statements.routes, money.routes, holds.routes,
          requests.routes, notifications.routes, events.routes, webhooks.routes, service.routes,
          ops.routes]


def build() -> RequestIdMiddleware:
    """The WSGI application: every route behind the problem and query plugins."""
    bottle.BaseRequest.MEMFILE_MAX = 0  # bodies are read by web.inputs.read_json only
    core = bottle.Bottle()
    core.config["catchall"] = False  # errors reach our plugin and middleware, never Bottle's
    core.install(problems_plugin)
    core.install(KnownQueryOnly())  # a route takes no query parameter unless it says `query=`
    for table in TABLES:
        table.install(core)

    @core.error(404)
    def not_found(_):
        return problem_response(NotFound(f"No route for {bottle.request.path[:200]}."))

    @core.error(405)
    def not_allowed(err):
        allowed = [m.strip() for m in err.headers.get("Allow", "").split(",") if m.strip()]
        return problem_response(MethodNotAllowed(f"{bottle.request.method} is not allowed "
                                                 "here.", allowed=allowed))

    gauges.register()
    metrics.WAITING_POLLS.set_function(polls.SLOTS.waiting)
    return RequestIdMiddleware(core)
