"""Routes declared in their own modules and installed on the one Bottle app later.

A `Routes` table records each route with its Bottle config (say `query={"limit"}` for
web.http.KnownQueryOnly); `web/app.py` installs every table on the app, so the app's
plugins apply to all of them.
"""
from collections.abc import Callable

import bottle


class Routes:
    """A table of routes: `@routes.get(rule, **config)` and friends, then `install(app)`."""

    def __init__(self, **defaults: object) -> None:
        self.defaults = defaults
        self.table: list[tuple[str, str, Callable, dict]] = []

    def route(self, rule: str, method: str = "GET", **config: object) -> Callable:
        def register(callback: Callable) -> Callable:
            self.table.append((rule, method, callback, {**self.defaults, **config}))
            return callback
        return register

    def get(self, rule: str, **config: object) -> Callable:
        return self.route(rule, "GET", **config)

    def post(self, rule: str, **config: object) -> Callable:
        return self.route(rule, "POST", **config)

    def patch(self, rule: str, **config: object) -> Callable:
        return self.route(rule, "PATCH", **config)

    def delete(self, rule: str, **config: object) -> Callable:
        return self.route(rule, "DELETE", **config)

    def install(self, app: bottle.Bottle) -> None:
        for rule, method, callback, config in self.table:
            app.route(rule, method, callback, **config)
