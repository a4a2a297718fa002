"""Request and response plumbing shared by every route."""
import json
import logging
import re
import time
import uuid
from typing import Any, Callable

import bottle
import orjson
import peewee

import logs
import settings
from errors import (IdempotencyKeyRequired, InvalidIdempotencyKey, InvalidJson, PayloadTooLarge,
                    ServiceUnavailable, UnknownField, UnsupportedMediaType, ValidationError,
                    WalletError)
from models import db
from money import JsonNumber
from web import metrics, problems

log = logging.getLogger(__name__)
access = logging.getLogger("access")

SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}", re.ASCII)
VISIBLE_ASCII = re.compile(r"[\x21-\x7e]{1,255}", re.ASCII)
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

        def start(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            return start_response(status, headers + [("X-Request-Id", rid)], exc_info)

        try:
            return self.app(environ, start)
        except Exception:  # noqa: BLE001 - last line of defence below the routes' plugin
            log.exception("Unhandled error in request %s", rid)
            db.close()
            start_response("500 Internal Server Error",
                           [("Content-Type", problems.CONTENT_TYPE), ("X-Request-Id", rid)])
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


# -- bodies -----------------------------------------------------------------------------
def _no_duplicates(pairs: list) -> dict:
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise InvalidJson(f"The key {key!r} appears more than once.")
        seen[key] = value
    return seen


def _no_constants(name: str):
    raise InvalidJson(f"{name} is not valid JSON.")


def read_json(*, allowed: set[str]) -> dict:
    """Parse the request body as one strict JSON object.

    Parameters:
      allowed: the field names the endpoint takes.

    Returns:
      The object, non-integer numbers kept as `JsonNumber` text (never floats).

    Raises:
      PayloadTooLarge, UnsupportedMediaType, InvalidJson, UnknownField.
    """
    environ = bottle.request.environ
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > settings.MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Bodies are limited to {settings.MAX_BODY_BYTES} bytes.")
    ctype = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    if ctype != JSON_TYPE:
        raise UnsupportedMediaType("Send the body as application/json.")
    raw = environ["wsgi.input"].read(min(int(length), settings.MAX_BODY_BYTES + 1)
                                     if length.isdigit() else settings.MAX_BODY_BYTES + 1)
    if len(raw) > settings.MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Bodies are limited to {settings.MAX_BODY_BYTES} bytes.")
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates,
                         parse_float=JsonNumber, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidJson("The body is not valid UTF-8 JSON.") from None
    if not isinstance(doc, dict):
        raise InvalidJson("The body must be one JSON object.")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise UnknownField("Unknown field(s): " + ", ".join(unknown), errors=[
            {"field": name, "message": "unknown field"} for name in unknown])
    return doc


def field_error(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", errors=[{"field": field, "message": message}])


def require_string(doc: dict, field: str) -> str:
    value = doc.get(field)
    if not isinstance(value, str):
        raise field_error(field, "is required and must be a string")
    return value


def require_id(doc: dict, field: str) -> int:
    """A positive JSON integer id (not a string, float or boolean)."""
    value = doc.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise field_error(field, "must be a positive integer id")
    return value


def idempotency_key() -> str:
    """The Idempotency-Key header, checked against the contract."""
    key = bottle.request.environ.get("HTTP_IDEMPOTENCY_KEY")
    if key is None:
        raise IdempotencyKeyRequired("This call needs an Idempotency-Key header.")
    # WSGI hands headers over as latin-1; non-ASCII bytes end up outside the range below.
    if not VISIBLE_ASCII.fullmatch(key):
        raise InvalidIdempotencyKey("Idempotency-Key must be 1 to 255 visible ASCII characters.")
    return key


def query_int(name: str, *, default: int, low: int, high: int) -> int:
    raw = bottle.request.query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,6}", raw, re.ASCII) or not low <= int(raw) <= high:
        raise field_error(name, f"must be an integer from {low} to {high}")
    return int(raw)


def client_address() -> str:
    return (bottle.request.environ.get("REMOTE_ADDR") or "unknown")[:45]


def user_agent() -> str:
    return (bottle.request.environ.get("HTTP_USER_AGENT") or "")[:512]
