"""Request and response plumbing shared by every route."""
import ipaddress
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


def query_int(name: str, *, default: int, low: int, high: int) -> int:
    raw = bottle.request.query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,6}", raw, re.ASCII) or not low <= int(raw) <= high:
        raise field_error(name, f"must be an integer from {low} to {high}")
    return int(raw)


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXY_NETWORKS)


def client_address_of(peer: str, forwarded_for: str) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the
    right-most address of X-Forwarded-For that is not a trusted proxy itself (what the
    nearest untrusted hop was seen as; anything left of it may be forged).

    Parameters:
      peer: REMOTE_ADDR.
      forwarded_for: the X-Forwarded-For header ("" when absent).
    """
    if not _trusted(peer):
        return peer[:45]
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer[:45]  # a proxy of ours wrote no address: take the proxy's
    return (hops[0] if hops else peer)[:45]


def client_address() -> str:
    environ = bottle.request.environ
    return client_address_of(environ.get("REMOTE_ADDR") or "unknown",
                             environ.get("HTTP_X_FORWARDED_FOR", ""))


def user_agent() -> str:
    return (bottle.request.environ.get("HTTP_USER_AGENT") or "")[:512]
