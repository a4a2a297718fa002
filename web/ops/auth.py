"""Who may use the ops page: the ops token, sent as a bearer or exchanged at /ops/login for
a signed session cookie, and the CSRF token that goes with each session.

A session cookie is `<expiry>.<nonce>.<signature>`: an HMAC-SHA256, under a key derived
from the ops token (changing the token ends every session), of the expiry and a random
nonce. A session's CSRF token is an HMAC of its nonce under that key: random per session,
known only to the server and to pages rendered for that session. Every comparison is
constant-time.
"""
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

import bottle

import settings
from accounts import operators
from errors import (
    CsrfRejected,
    PayloadTooLarge,
    Unauthorized,
    UnknownField,
    UnsupportedMediaType,
    ValidationError,
)
from infra import throttle
from web.inputs import client_address

log = logging.getLogger(__name__)
FORM_TYPE = "application/x-www-form-urlencoded"

COOKIE = "wallet_ops_session"


def _key(ops_token: str) -> bytes:
    return hmac.new(ops_token.encode(), b"wallet ops session v1", hashlib.sha256).digest()


def _mac(ops_token: str, text: str) -> str:
    return hmac.new(_key(ops_token), text.encode(), hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(errors="replace"), expected.encode())


def token_ok(given: str, ops_token: str) -> bool:
    """Whether `given` is the ops token (never true while no token is configured)."""
    return bool(ops_token) and _same(given, ops_token)


def new_session(ops_token: str, *, now_s: float, ttl_s: int) -> str:
    """A signed session cookie value, valid for `ttl_s` seconds from `now_s` (and only while
    its server-side session, named by its nonce, lives: see ops_sessions.py)."""
    payload = f"{int(now_s) + ttl_s}.{secrets.token_urlsafe(18)}"
    return f"{payload}.{_mac(ops_token, 'session.' + payload)}"


def session_nonce(cookie: str, ops_token: str, *, now_s: float) -> str | None:
    """The nonce of a genuine, unexpired session cookie; None for anything else."""
    expiry, _, rest = cookie.partition(".")
    nonce, _, signature = rest.partition(".")
    if not (ops_token and expiry.isdigit() and nonce and signature):
        return None
    if not _same(signature, _mac(ops_token, f"session.{expiry}.{nonce}")):
        return None
    return nonce if int(expiry) > now_s else None


def csrf_token(nonce: str, ops_token: str) -> str:
    """The CSRF token the forms of session `nonce` carry."""
    return _mac(ops_token, "csrf." + nonce)


def csrf_ok(given: str, nonce: str, ops_token: str) -> bool:
    """Whether a form's CSRF token is its session's."""
    return bool(given) and _same(given, csrf_token(nonce, ops_token))


# -- the request side ------------------------------------------------------------------
@dataclass(frozen=True)
class Operator:
    """An authorised operator: by session (`nonce`) or by bearer token (`nonce` None)."""

    nonce: str | None

    @property
    def csrf(self) -> str | None:
        return None if self.nonce is None else csrf_token(self.nonce, settings.OPS_KEY)


def check_token(given: str, ip: str) -> None:
    """Judge one attempt with the ops token from `ip`, counted against the address's
    failures (see throttle.ops_limits).

    Raises:
      TooManyAttempts: while the address has failed too often (even with the right token).
      Unauthorized: the token is wrong.
    """
    limits = throttle.ops_limits(ip)
    throttle.hit(limits)
    if not token_ok(given, settings.OPS_KEY):
        log.warning("Failed ops authentication from %s.", ip)
        raise Unauthorized("That is not the ops token.")
    throttle.forgive(limits)


def operator() -> Operator:
    """The operator making this request. Raises Unauthorized for anyone else (and
    TooManyAttempts for an address that guessed the token too often)."""
    scheme, _, token = bottle.request.environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        check_token(token.strip(), client_address())
        return Operator(None)
    nonce = session_nonce(bottle.request.get_cookie(COOKIE) or "", settings.OPS_KEY,
                          now_s=time.time())
    if nonce is None or not operators.live(nonce):
        raise Unauthorized("Send Authorization: Bearer <OPS_TOKEN>, or log in at /ops/login.")
    return Operator(nonce)


def read_form(*, allowed: set[str]) -> dict[str, str]:
    """The url-encoded body, of at most MAX_BODY_BYTES; an empty one is an empty form.

    Raises:
      PayloadTooLarge, UnsupportedMediaType, ValidationError, UnknownField.
    """
    environ = bottle.request.environ
    length = environ.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > settings.MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Forms are limited to {settings.MAX_BODY_BYTES} bytes.")
    raw = environ["wsgi.input"].read(int(length)) if int(length) else b""
    ctype = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    if raw and ctype != FORM_TYPE:
        raise UnsupportedMediaType(f"Send the form as {FORM_TYPE}.")
    try:
        form = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True, max_num_fields=20))
    except ValueError:
        raise ValidationError("A form has at most 20 fields.") from None
    unknown = sorted(set(form) - allowed)
    if unknown:
        raise UnknownField("Unknown field(s): " + ", ".join(n[:40] for n in unknown), errors=[
            {"field": name[:40], "message": "unknown field"} for name in unknown])
    return form


def authorised_post() -> Operator:
    """The operator of a POST, whose form carries its session's CSRF token if it has one."""
    op = operator()
    form = read_form(allowed={"csrf_token"})
    if op.nonce is not None and not csrf_ok(form.get("csrf_token", ""), op.nonce,
                                            settings.OPS_KEY):
        log.warning("Ops form refused: missing or wrong CSRF token.")
        raise CsrfRejected("This form lacks its session's CSRF token; reload /ops and retry.")
    return op
