"""Response plumbing shared by every route: JSON and problem answers, the plugins that
turn errors into problems and refuse unknown query parameters, and the WSGI middleware
that puts a request id, an access line and a metrics observation on every request."""
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import bottle
import orjson
import peewee

from errors import ServiceUnavailable, ValidationError, WalletError
from infra import logs
from models import db
from web import metrics, problems

log = logging.getLogger(__name__)
access = logging.getLogger("access")

SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}", re.ASCII)
JSON_TYPE = "application/json"


def request_id() -> str:
    return bottle.request.environ.get("wallet.request_id", "-")


def json_response(status: int, payload: Any, *, headers: dict | None = None) -> bottle.HTTPResponse:
    """A JSON answer; routes return these."""
    return bottle.HTTPResponse(orjson.dumps(payload), status=status,
                               headers={"Content-Type": JSON_TYPE, **(headers or {})})


def problem_response(error: WalletError) -> bottle.HTTPResponse:
    status, code, title = problems.lookup(error)
    payload = problems.body(status, code, title, error.detail, request_id=request_id(),
                            field_errors=error.errors)
    return bottle.HTTPResponse(payload, status=status, headers={
        "Content-Type": problems.CONTENT_TYPE, **problems.headers_for(error)})


def internal_error_body(rid: str) -> bytes:
    status, code, title = problems.INTERNAL
    return problems.body(status, code, title, "An unexpected error occurred; quote the "
                         "request id when you report it.", request_id=rid)


def _is_unavailable(exc: Exception) -> bool:
    """A database that cannot be reached, as opposed to a bug in a query."""
    return isinstance(exc, (peewee.OperationalError, peewee.InterfaceError))


def problems_plugin(callback: Callable) -> Callable:
    """Bottle plugin: turn every error a route raises into a problem+json response."""
    def wrapper(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except bottle.HTTPResponse:
            raise
        except WalletError as exc:
            return problem_response(exc)
        except Exception as exc:  # noqa: BLE001 - the edge: nothing escapes as a stack trace
            if _is_unavailable(exc):
                log.warning("Database unavailable for request %s: %s", request_id(), exc)
                db.close()  # back to the pool, which pings it before anyone reuses it
                return problem_response(ServiceUnavailable("The database is unreachable; "
                                                           "try again shortly."))
            log.exception("Unexpected error in request %s", request_id())
            return bottle.HTTPResponse(internal_error_body(request_id()), status=500,
                                       headers={"Content-Type": problems.CONTENT_TYPE})
    return wrapper


# Paths whose answers are someone's own (balances, history, tokens): never stored by a cache.
PRIVATE_PREFIXES = ("/v1/", "/ops")


def extra_headers(rid: str, headers: list[tuple[str, str]], *,
                  private: bool) -> list[tuple[str, str]]:
    """What every answer carries: its request id and `nosniff`; a private one `no-store`."""
    out = [("X-Request-Id", rid), ("X-Content-Type-Options", "nosniff")]
    if private and not any(k.lower() == "cache-control" for k, _ in headers):
        out.append(("Cache-Control", "no-store"))
    return out


class RequestIdMiddleware:
    """WSGI wrapper around the app: an X-Request-Id on every response, the request id on
    every log line, one access line and one `web.metrics` observation per request. (The
    thread keeps its database connection for the next request; see models.Database.)"""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable):
        given = environ.get("HTTP_X_REQUEST_ID", "")
        rid = given if SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        environ["wallet.request_id"] = rid
        token = logs.bind(request_id=rid)
        started = time.perf_counter()
        seen = {"status": "500"}

        private = environ.get("PATH_INFO", "").startswith(PRIVATE_PREFIXES)

        def start(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            return start_response(status, headers + extra_headers(rid, headers, private=private),
                                  exc_info)

        try:
            return self.app(environ, start)
        except Exception:  # noqa: BLE001 - last line of defence below the routes' plugin
            log.exception("Unhandled error in request %s", rid)
            db.close()
            start_response("500 Internal Server Error",
                           [("Content-Type", problems.CONTENT_TYPE),
                            *extra_headers(rid, [], private=True)])
            return [internal_error_body(rid)]
        finally:
            elapsed_s = time.perf_counter() - started
            route = environ.get("bottle.route")
            rule = route.rule if route else None
            access.info("%s %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                        seen["status"], extra={
                            "route": rule, "status": int(seen["status"]),
                            "duration_ms": round(elapsed_s * 1000, 3)})
            metrics.observe_request(rule, environ.get("REQUEST_METHOD"), seen["status"], elapsed_s)
            logs.unbind(token)


class KnownQueryOnly:
    """Bottle plugin: a query parameter the route does not take, or one given twice, is a
    422 `validation_error` (so junk parameters never reach a cache key). A route names what
    it takes with `query={...}` in its decorator; `query=None` lets everything through."""

    name = "known_query_only"
    api = 2

    def apply(self, callback: Callable, route: bottle.Route) -> Callable:
        allowed = route.config.get("query", frozenset())
        if allowed is None:
            return callback

        def wrapper(*args, **kwargs):
            check_query(allowed)
            return callback(*args, **kwargs)
        return wrapper


def check_query(allowed: frozenset | set) -> None:
    """Raises ValidationError naming each unknown or repeated query parameter."""
    bad = []
    seen: set[str] = set()
    for name in bottle.request.query.keys():
        if name in seen:
            continue
        seen.add(name)
        if name not in allowed:
            bad.append({"field": name[:40], "message": "unknown query parameter"})
        elif len(bottle.request.query.getall(name)) > 1:
            bad.append({"field": name[:40], "message": "given more than once"})
    if bad:
        raise ValidationError("Query: " + "; ".join(f"{b['field']} {b['message']}" for b in bad),
                              errors=bad)
