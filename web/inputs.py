"""What a request brings: its body, headers, query parameters, path ids, caller and address.

Every function here parses and checks; none reaches past the edge (the caller's token
is checked by accounts.auth and accounts.users). Violations are the error tree's input errors.
"""
import contextlib
import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from typing import TypeVar

import bottle

import settings
from accounts import auth, users
from accounts.wallets import DoorWallet
from errors import (
    IdempotencyKeyRequired,
    InvalidIdempotencyKey,
    InvalidJson,
    PayloadTooLarge,
    Unauthorized,
    UnknownField,
    UnsupportedMediaType,
    ValidationError,
    WalletError,
)
from infra import logs
from models import User
from money import JsonNumber, is_text, not_an_amount

# What a route reads with its caller in one query (current_user_and).
Found = TypeVar("Found")

VISIBLE_ASCII = re.compile(r"[\x21-\x7e]{1,255}", re.ASCII)
JSON_TYPE = "application/json"
PATH_ID = re.compile(r"[0-9]{1,18}", re.ASCII)
# What is left of a `\uD800`-`\uDFFF` escape once the parser has joined every pair: a lone
# surrogate, which no UTF-8 text can hold (RFC 7493 forbids it) and no column can store.
SURROGATE = re.compile("[\ud800-\udfff]")


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


def _holds_a_lone_surrogate(doc: object) -> bool:
    """Whether any key or string value of a parsed body is a lone surrogate (walked without
    recursion: a body may nest as deep as the parser allows)."""
    pending = [doc]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


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
    if _holds_a_lone_surrogate(doc):
        raise InvalidJson("The body is not valid UTF-8 JSON: a string holds a lone "
                          "surrogate escape (\\uD800 to \\uDFFF without its pair).")
    if not isinstance(doc, dict):
        raise InvalidJson("The body must be one JSON object.")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise UnknownField("Unknown field(s): " + ", ".join(unknown), errors=[
            {"field": name, "message": "unknown field"} for name in unknown])
    return doc


def field_error(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", errors=[{"field": field, "message": message}])


def optional_fields(doc: dict, *fields: str) -> dict[str, object]:
    """Those of the optional `fields` that the body sets, by name, refusing a JSON null for
    any of them: the document allows none, and a null is not the field left out (a lost
    amount must not capture or refund all there is, a lost recipient must not make a hold
    that captures out of the service).

    Raises:
      InvalidAmount: for a null `amount`.
      ValidationError: for any other null.
    """
    for field in fields:
        if field in doc and doc[field] is None:
            raise not_an_amount() if field == "amount" else field_error(field, "must not be null")
    return {field: doc[field] for field in fields if field in doc}


def require_string(doc: dict, field: str) -> str:
    value = doc.get(field)
    if not is_text(value):
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


def query_id(name: str, *, default: int) -> int:
    """A query parameter that is an id or 0 (`?after=` of the events feed): 0 to 2^63 - 1."""
    raw = bottle.request.query.get(name)
    if raw is None:
        return default
    if not PATH_ID.fullmatch(raw):
        raise field_error(name, "must be an integer from 0 to 999999999999999999")
    return int(raw)


def query_choice(name: str, choices: tuple[str, ...]) -> str | None:
    """A query parameter that must be one of `choices`, or None when absent."""
    raw = bottle.request.query.get(name)
    if raw is not None and raw not in choices:
        raise field_error(name, "must be one of " + ", ".join(choices))
    return raw


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


def _bearer_token() -> str:
    header = bottle.request.environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send Authorization: Bearer <token>.")
    return token.strip()


def current_user(*, profile: bool = False) -> User:
    """The caller, from its bearer token.

    Parameters:
      profile: read its whole row (see accounts.users.user_for_token); without it, only
        its id and token generation are read.

    Raises:
      Unauthorized: no bearer token, or one that names no live user of its generation.
    """
    user = users.user_for_token(_bearer_token(), profile=profile)
    logs.add(user_id=user.id)
    return user


def current_user_and_door_wallets(wallet_ids: list[int] | None,
                                  ) -> tuple[User, dict[int, DoorWallet] | None]:
    """current_user(), and the live user wallets among `wallet_ids` read in the same query
    (the door's, see accounts.wallets.at_the_door); None for them when there are no ids.

    Raises:
      Unauthorized: as current_user.
    """
    if wallet_ids is None:
        return current_user(), None
    return current_user_and(users.user_and_door_wallets, wallet_ids)


def current_user_and(read: Callable[..., tuple[User, Found]], *args: object,
                     ) -> tuple[User, Found]:
    """current_user(), and what `read` reads with it in the same query.

    Parameters:
      read: given the bearer token and `args`, its user and more in one query (as
        users.user_and_door_wallets, holds.caller_and_hold, visible.caller_and_request).

    Raises:
      Unauthorized: as current_user.
    """
    user, found = read(_bearer_token(), *args)
    logs.add(user_id=user.id)
    return user, found


@contextlib.contextmanager
def signed_in_first() -> Iterator[None]:
    """For a route that reads its key and body before its caller (to read the caller with
    the wallets the body names): the token's signature and expiry are checked on entry,
    and if the block refuses the call, the caller is read before the refusal goes out. A
    caller whose token was revoked hears 401 first, as on every other route.

    Raises:
      Unauthorized: before anything the block raises.
    """
    auth.token_claims(_bearer_token())
    try:
        yield
    except WalletError:
        current_user()
        raise


def path_id(raw: str, missing: type) -> int:
    """An id from the path; anything not a plausible id is simply not found."""
    if not PATH_ID.fullmatch(raw):
        raise missing(f"No such id: {raw[:40]!r}.")
    return int(raw)


def wait_seconds() -> int:
    """The `?wait=` of a request read: 0 to MAX_WAIT_S seconds."""
    return query_int("wait", default=0, low=0, high=settings.MAX_WAIT_S)


def unread_filter() -> bool | None:
    """The `?unread=` of the notification list: true, false, or None for all."""
    unread = bottle.request.query.get("unread")
    if unread is None:
        return None
    if unread not in ("true", "false"):
        raise field_error("unread", "must be true or false")
    return unread == "true"
