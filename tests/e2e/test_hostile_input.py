"""Hostile input on every write endpoint: a clean 4xx problem, and a database left as it was.

Each case is one request that differs from an accepted request (see the positive controls at
the bottom) only in its hostile part. For each, the answer must be an RFC 9457 problem with
the status and `code` API.md names, and the rows that request could have touched must be
unchanged: checked by reading the database before and after, never assumed.

Other test files run against the same database at the same time, so the snapshot is scoped
to the two users this module creates (the caller and a bystander whose wallets and
notifications are transfer and read targets) and to the emails and usernames a case tries
to register. Failed logins write one `login_logs` row each by design (API.md: "every login
attempt, good or bad, is recorded"); each case sends its own User-Agent, so those rows are
counted exactly and expected explicitly.
"""
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import peewee
import pytest
import requests
from peewee import SQL, fn

from models import (
    Event,
    Hold,
    IdempotencyKey,
    LoginLog,
    Notification,
    Transaction,
    TransactionRequest,
    User,
    Wallet,
    Webhook,
    WebhookDelivery,
    WebhookJob,
    db,
)
from tests.helpers import PASSWORD, Client, is_problem, start_web, unique

MAX_BODY_BYTES = 64 * 1024
MEGABYTE_STRING = "9" * (1024 * 1024)
DROP_TABLE = "'; DROP TABLE users; --"
OMIT = object()  # a header the case does not send at all
RUN = uuid.uuid4().hex[:8]  # makes fixed hostile values unique to this run
SPLICE = "@@raw@@"  # a JSON value replaced by raw text after serialisation


@dataclass(frozen=True)
class Ref:
    """A value only known at run time (an id, the caller's email...), see World.fill."""

    name: str


# -- the cases --------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """A write endpoint and a body it accepts (`Ref`s are filled in at run time)."""

    name: str
    method: str
    path: str
    body: dict | None
    auth: bool = True
    idempotent: bool = False


USERS = Endpoint("users", "POST", "/v1/users", {
    "email": Ref("new_email"), "username": Ref("new_name"), "password": PASSWORD}, auth=False)
TOKEN = Endpoint("token", "POST", "/v1/auth/token", {
    "email": Ref("my_email"), "password": PASSWORD}, auth=False)
ME = Endpoint("me", "PATCH", "/v1/me", {"username": Ref("new_name")})
WALLETS = Endpoint("wallets", "POST", "/v1/wallets", {"currency": "EUR"}, idempotent=True)
DEPOSITS = Endpoint("deposits", "POST", "/v1/wallets/{wallet}/deposits", {"amount": "1.00"},
                    idempotent=True)
WITHDRAWALS = Endpoint("withdrawals", "POST", "/v1/wallets/{wallet}/withdrawals",
                       {"amount": "1.00"}, idempotent=True)
TRANSFERS = Endpoint("transfers", "POST", "/v1/transfers", {
    "from_wallet_id": Ref("wallet"), "to_wallet_id": Ref("their_usd"), "amount": "1.00"},
    idempotent=True)
READ = Endpoint("read", "POST", "/v1/notifications/{my_note}/read", None)
# Version 1.1: holds (the caller decides `my_hold` and `my_other_hold`: they name no
# recipient), refunds (of a transfer the caller received), webhooks. Bodies carry every
# optional field, so a case that spoils one spoils an otherwise complete request.
DETAILS = {"description": "order 17", "metadata": {"order": "17", "channel": "web"}}
HOLDS = Endpoint("holds", "POST", "/v1/wallets/{wallet}/holds", {
    "amount": "1.00", "to_wallet_id": Ref("their_usd"), "expires_in_s": 3600, **DETAILS},
    idempotent=True)
CAPTURES = Endpoint("captures", "POST", "/v1/holds/{my_hold}/captures", {
    "amount": "1.00", "final": False, **DETAILS}, idempotent=True)
VOID = Endpoint("void", "POST", "/v1/holds/{my_other_hold}/void", {}, idempotent=True)
REFUNDS = Endpoint("refunds", "POST", "/v1/requests/{received}/refunds", {
    "amount": "0.50", **DETAILS}, idempotent=True)
WEBHOOKS = Endpoint("webhooks", "POST", "/v1/webhooks", {
    "url": "http://127.0.0.1:9/hostile", "events": ["hold.expired", "refund.received"],
    "description": "orders"}, idempotent=True)
BODY_ENDPOINTS = [USERS, TOKEN, ME, WALLETS, DEPOSITS, WITHDRAWALS, TRANSFERS, HOLDS, CAPTURES,
                  VOID, REFUNDS, WEBHOOKS]
IDEMPOTENT_ENDPOINTS = [e for e in BODY_ENDPOINTS if e.idempotent]
MONEY_ENDPOINTS = [DEPOSITS, WITHDRAWALS, TRANSFERS, HOLDS]
# Their amount is optional: omitted (or null) means all that remains or is refundable.
OPTIONAL_AMOUNT_ENDPOINTS = [CAPTURES, REFUNDS]
DETAILS_ENDPOINTS = [DEPOSITS, WITHDRAWALS, TRANSFERS, HOLDS, CAPTURES, REFUNDS]


@dataclass(frozen=True)
class Case:
    """One hostile request and the answer it must get."""

    id: str
    endpoint: Endpoint
    status: int
    code: str
    fields: dict = field(default_factory=dict)   # merged into the endpoint's body
    drop: tuple = ()                              # body fields left out
    raw: Callable[[dict], bytes] | None = None    # the body, from the filled JSON fields
    chunked: bool = False                         # send `raw` with Transfer-Encoding: chunked
    headers: dict = field(default_factory=dict)   # extra or replaced headers (OMIT removes)
    path: str | None = None                       # instead of the endpoint's path
    error_field: str | None = None                # must be named in `errors`
    login_rows: int = 0                           # login_logs rows this attempt records
    callers_login: bool = False                   # ... and they are the caller's
    production: bool = False                      # sent to a web process in production mode


def dumps(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def with_member(doc: dict, member: bytes) -> bytes:
    """`doc` as JSON with one more `"name": value` member (raw text) at its end."""
    return (dumps(doc)[:-1] + b", " if doc else b"{") + member + b"}"


def generic_cases(e: Endpoint) -> list[Case]:
    """Framing attacks every endpoint with a body refuses before it looks at the fields."""
    first = next(iter(e.body), "pad")
    pad = b'"pad": "' + b"x" * MAX_BODY_BYTES + b'"'
    return [
        Case(f"{e.name}-content-type-text-plain", e, 415, "unsupported_media_type",
             raw=dumps, headers={"Content-Type": "text/plain"}),
        Case(f"{e.name}-content-type-form", e, 415, "unsupported_media_type",
             raw=dumps, headers={"Content-Type": "application/x-www-form-urlencoded"}),
        Case(f"{e.name}-content-type-missing", e, 415, "unsupported_media_type",
             raw=dumps, headers={"Content-Type": OMIT}),
        Case(f"{e.name}-content-type-json-lookalike", e, 415, "unsupported_media_type",
             raw=dumps, headers={"Content-Type": "application/jsonp"}),
        Case(f"{e.name}-duplicate-key", e, 400, "invalid_json", raw=lambda d: (
            with_member(d, dumps(first) + b": " + dumps(d.get(first)))) if d else
            b'{"final": true, "final": true}'),
        Case(f"{e.name}-truncated-json", e, 400, "invalid_json", raw=lambda d: dumps(d)[:-1]),
        Case(f"{e.name}-empty-body", e, 400, "invalid_json", raw=lambda d: b""),
        Case(f"{e.name}-json-array", e, 400, "invalid_json", raw=lambda d: dumps([d])),
        Case(f"{e.name}-json-null", e, 400, "invalid_json", raw=lambda d: b"null"),
        Case(f"{e.name}-json-string", e, 400, "invalid_json",
             raw=lambda d: dumps(dumps(d).decode())),
        Case(f"{e.name}-not-utf8", e, 400, "invalid_json",
             raw=lambda d: with_member(d, b'"x": "\xff\xfe"')),
        Case(f"{e.name}-utf8-bom", e, 400, "invalid_json",
             raw=lambda d: b"\xef\xbb\xbf" + dumps(d)),
        Case(f"{e.name}-nested-60k-deep", e, 400, "invalid_json", raw=lambda d: b"[" * 60_000),
        Case(f"{e.name}-body-over-64KiB", e, 413, "payload_too_large",
             raw=lambda d: with_member(d, pad)),
        Case(f"{e.name}-body-over-64KiB-chunked", e, 413, "payload_too_large", chunked=True,
             raw=lambda d: with_member(d, pad)),
        Case(f"{e.name}-field-of-1MB", e, 413, "payload_too_large",
             fields={first: MEGABYTE_STRING}),
        Case(f"{e.name}-unknown-field", e, 422, "unknown_field", fields={"admin": True},
             error_field="admin"),
        Case(f"{e.name}-unknown-field-id", e, 422, "unknown_field", fields={"id": 1},
             error_field="id"),
    ]


# Amounts refused with 422 invalid_amount, as JSON values (strings unless said otherwise).
BAD_AMOUNTS = {
    "exponent-1e3": "1e3", "exponent-1E3": "1E3", "minus-zero": "-0", "negative": "-5.00",
    "zero": "0", "zero-point-zero": "0.00", "three-decimals-usd": "0.001",
    "many-decimals": "1.000000001", "NaN": "NaN", "Infinity": "Infinity", "inf": "inf",
    "hex": "0x10", "underscore": "1_000", "thousands-comma": "1,000.00",
    "decimal-comma": "1,50", "trailing-point": "1.", "leading-point": ".5",
    "two-points": "1.2.3", "arabic-indic-digits": "١٢", "fullwidth-digits": "１２",
    "leading-plus": "+5", "leading-space": " 5", "trailing-space": "5 ",
    "inner-space": "1 000", "nbsp": "5\u00a0", "newline": "5\n", "nul": "5\u0000",
    "empty": "", "currency-sign": "$5", "with-currency": "5 USD",
    "over-max": "1000000000.01", "far-over-max": "99999999999999999999",
    "41-digits": "0" * 40 + "1", "json-true": True, "json-false": False, "json-array": [],
    "json-array-of-amount": ["1.00"], "json-object": {}, "json-null": None,
    "json-negative-int": -5, "json-zero": 0, "json-10**40": 10**40,
}
# Amounts that only raw JSON text can carry, and the answer they get.
RAW_AMOUNTS = {
    "raw-1e400": (b"1e400", 422, "invalid_amount"),
    "raw-1e3": (b"1e3", 422, "invalid_amount"),
    "raw-10**40": (str(10**40).encode(), 422, "invalid_amount"),
    "raw-10**5000": (b"1" + b"0" * 5000, 400, "invalid_json"),
    "raw-minus-zero": (b"-0", 422, "invalid_amount"),
    "raw-minus-zero-float": (b"-0.0", 422, "invalid_amount"),
    "raw-0.001-usd": (b"0.001", 422, "invalid_amount"),
    "raw-NaN": (b"NaN", 400, "invalid_json"),
    "raw-Infinity": (b"Infinity", 400, "invalid_json"),
    "raw-minus-Infinity": (b"-Infinity", 400, "invalid_json"),
    "raw-leading-plus": (b"+5", 400, "invalid_json"),
    "raw-leading-zero": (b"05", 400, "invalid_json"),
}


def amount_cases(e: Endpoint, *, optional: bool = False) -> list[Case]:
    """The bad amounts; where the amount is optional, an absent one is not bad (a null one
    is: it must not mean "all there is")."""
    cases = [Case(f"{e.name}-amount-{label}", e, 422, "invalid_amount", fields={"amount": value},
                  error_field="amount") for label, value in BAD_AMOUNTS.items()]
    if not optional:
        cases.append(Case(f"{e.name}-amount-missing", e, 422, "invalid_amount",
                          drop=("amount",)))
    cases.append(Case(f"{e.name}-amount-1MB", e, 413, "payload_too_large",
                      fields={"amount": MEGABYTE_STRING}))
    for label, (text, status, code) in RAW_AMOUNTS.items():
        cases.append(Case(f"{e.name}-amount-{label}", e, status, code, fields={"amount": SPLICE},
                          raw=lambda d, text=text: dumps(d).replace(dumps(SPLICE), text)))
    return cases


# Idempotency-Key header values refused with 400 invalid_idempotency_key.
BAD_KEYS = {
    "empty": "", "256-chars": "k" * 256, "inner-space": "two words", "tab": "a\tb",
    "latin1-bytes": "café".encode("latin-1"), "utf8-bytes": "clé-ключ-🔑".encode(),
}
# (A DEL or other control byte in a header is not HTTP at all: waitress answers its own
# plain-text 400 before the application sees the request, so it is not a case here.)


def key_cases(e: Endpoint) -> list[Case]:
    cases = [Case(f"{e.name}-idempotency-key-{label}", e, 400, "invalid_idempotency_key",
                  headers={"Idempotency-Key": value}) for label, value in BAD_KEYS.items()]
    cases.append(Case(f"{e.name}-idempotency-key-missing", e, 400, "idempotency_key_required",
                      headers={"Idempotency-Key": OMIT}))
    return cases


# Values refused in string fields of users and profiles (422 validation_error).
BAD_USERNAMES = {
    "nul": "ab\u0000cd", "only-nul": "\u0000\u0000\u0000", "bell": "abc\u0007",
    "newline": "abc\ndef", "tab": "abc\tdef", "escape": "abc\u001b[31m", "del": "abc\u007f",
    "rtl-override": "abc\u202edef", "zero-width-space": "abc\u200bdef",
    "sql": DROP_TABLE, "sql-quote": "x' OR '1'='1", "too-short": "ab", "too-long": "a" * 33,
    "json-float": 123.45,
    "arabic-indic-digits": "١٢٣٤", "fullwidth": "ａｄｍｉｎ", "space": "ada lovelace",
    "slash": "../etc", "json-int": 12345, "json-true": True, "json-null": None,
    "json-array": ["ada"], "json-object": {"name": "ada"},
}
BAD_EMAILS = {
    "nul": "ada\u0000@example.com", "nul-in-domain": "ada@exa\u0000mple.com",
    "newline": "ada@example.com\nBcc: eve@example.com", "control": "ad\u0001a@example.com",
    "sql": DROP_TABLE, "sql-comment": "x@example.com'; --", "no-at": "example.com",
    "two-ats": "a@b@example.com", "no-dot": "ada@localhost", "space": "ada @example.com",
    "too-long": "a" * 250 + "@example.com", "json-int": 7, "json-null": None,
    "json-array": ["ada@example.com"],
    # Not addresses by the document's `format: email` either (unique, in case one is taken).
    "zero-width-space": f"ada\u200b{RUN}@example.com", "nbsp": f"ada\u00a0{RUN}@example.com",
    "non-ascii": f"\u00e4da{RUN}@example.com", "angle-brackets": f"<ada{RUN}>@example.com",
    "comma": f"ada,{RUN}@example.com", "double-dot": f"ada..{RUN}@example.com",
    "leading-dot": f".ada{RUN}@example.com", "hyphen-edged-label": f"ada{RUN}@-example-.com",
    "backslash": f"ada\\{RUN}@example.com", "semicolon": f"ada;{RUN}@example.com",
}
BAD_PASSWORDS = {"nul": "longenough\u0000pw", "too-short": "short", "too-long": "p" * 129,
                 "json-int": 12345678, "json-float": 12345678.9, "json-true": True,
                 "json-null": None}


def user_cases() -> list[Case]:
    cases = [Case(f"users-username-{label}", USERS, 422, "validation_error",
                  fields={"username": value}, error_field="username")
             for label, value in BAD_USERNAMES.items()]
    cases += [Case(f"users-email-{label}", USERS, 422, "validation_error",
                   fields={"email": value}, error_field="email")
              for label, value in BAD_EMAILS.items()]
    cases += [Case(f"users-password-{label}", USERS, 422, "validation_error",
                   fields={"password": value}, error_field="password")
              for label, value in BAD_PASSWORDS.items()]
    cases += [Case(f"users-{name}-missing", USERS, 422, "validation_error", drop=(name,),
                   error_field=name) for name in ("email", "username", "password")]
    cases += [
        Case("users-email-taken-in-other-case", USERS, 409, "email_taken",
             fields={"email": Ref("MY_EMAIL")}),
        Case("users-username-taken", USERS, 409, "username_taken",
             fields={"username": Ref("their_name")}),
    ]
    return cases


def token_cases() -> list[Case]:
    """Type errors are refused before any check; every credential check is recorded."""
    cases = [Case(f"token-{name}-{label}", TOKEN, 422, "validation_error",
                  fields={name: value}, error_field=name)
             for name in ("email", "password")
             for label, value in {"json-int": 7, "json-float": 7.5, "json-true": True,
                                  "json-null": None,
                                  "json-array": [], "json-object": {}}.items()]
    cases += [Case(f"token-{name}-missing", TOKEN, 422, "validation_error", drop=(name,),
                   error_field=name) for name in ("email", "password")]
    # Each email is unique to the run, so the per-email throttle never answers 429 instead.
    recorded = {"callers-email-plus-nul": {"email": Ref("my_email_nul")},
                "callers-email-plus-space": {"email": Ref("my_email_space")},
                "callers-email-with-accent": {"email": Ref("my_email_accent")},
                "email-sql": {"email": f"' OR '1'='1' -- {RUN}"},
                "email-sql-drop": {"email": f"{DROP_TABLE} {RUN}"},
                "email-like-wildcard": {"email": f"%{RUN}@%"},
                "email-control": {"email": f"\u0001\u0002\u0003{RUN}"},
                "email-1000-chars": {"email": "a" * 1000 + RUN}}
    cases += [Case(f"token-{label}", TOKEN, 401, "invalid_credentials", fields=fields,
                   login_rows=1) for label, fields in recorded.items()]
    cases.append(Case("token-callers-email-sql-password", TOKEN, 401, "invalid_credentials",
                      fields={"password": "' OR '1'='1"}, login_rows=1, callers_login=True))
    return cases


def profile_cases() -> list[Case]:
    cases = [Case(f"me-username-{label}", ME, 422, "validation_error",
                  fields={"username": value}, error_field="username")
             for label, value in BAD_USERNAMES.items()]
    cases += [Case(f"me-password-{label}", ME, 422, "validation_error",
                   fields={"password": value, "current_password": PASSWORD},
                   error_field="password") for label, value in BAD_PASSWORDS.items()]
    cases += [
        Case("me-password-without-current", ME, 403, "invalid_credentials",
             fields={"password": "a brand new password"}),
        Case("me-password-with-sql-current", ME, 403, "invalid_credentials",
             fields={"password": "a brand new password", "current_password": "' OR '1'='1"}),
        Case("me-current-password-json-int", ME, 422, "validation_error",
             fields={"password": "a brand new password", "current_password": 1},
             error_field="current_password"),
        Case("me-username-taken", ME, 409, "username_taken",
             fields={"username": Ref("their_name")}),
        Case("me-email-is-not-editable", ME, 422, "unknown_field",
             fields={"email": "new@example.com"}, error_field="email"),
        Case("me-password-hash-is-not-editable", ME, 422, "unknown_field",
             fields={"password_hash": "x"}, error_field="password_hash"),
    ]
    return cases


BAD_CURRENCIES = {
    "sql": DROP_TABLE, "sql-suffix": "USD'; --", "lower-case": "usd", "two-letters": "US",
    "four-letters": "USDT", "no-minor-units-XXX": "XXX", "metal-XAU": "XAU", "empty": "",
    "nul": "US\u0000", "trailing-nul": "USD\u0000", "leading-space": " USD",
    "trailing-space": "USD ", "fullwidth": "ＵＳＤ", "numeric-code": "840", "json-int": 840,
    "json-true": True, "json-null": None, "json-array": ["EUR"], "json-object": {"code": "EUR"},
}


def wallet_cases() -> list[Case]:
    cases = [Case(f"wallets-currency-{label}", WALLETS, 422, "unsupported_currency",
                  fields={"currency": value}, error_field="currency")
             for label, value in BAD_CURRENCIES.items()]
    cases.append(Case("wallets-currency-missing", WALLETS, 422, "unsupported_currency",
                      drop=("currency",)))
    cases.append(Case("wallets-second-usd-wallet", WALLETS, 409, "wallet_exists",
                      fields={"currency": "USD"}))
    return cases


# Path ids that are not ids, answered 404 like any id that is not the caller's.
BAD_PATH_IDS = {"letters": "abc", "negative": "-1", "zero": "0", "float": "1.5",
                "exponent": "1e3", "2**70": str(2**70), "19-digits": "9" * 19,
                "arabic-indic-digits": "%D9%A1%D9%A2", "fullwidth-digits": "%EF%BC%91",
                "leading-plus": "+1", "encoded-space": "%201", "encoded-nul": "1%00",
                "sql": "1%20OR%201%3D1"}


def path_cases() -> list[Case]:
    cases = []
    for e in (DEPOSITS, WITHDRAWALS):
        cases += [Case(f"{e.name}-wallet-id-{label}", e, 404, "wallet_not_found",
                       path=e.path.replace("{wallet}", raw)) for label, raw in BAD_PATH_IDS.items()]
        cases += [Case(f"{e.name}-someone-elses-wallet", e, 404, "wallet_not_found",
                       path=e.path.replace("{wallet}", "{their_usd}"))]
    cases += [Case(f"read-notification-id-{label}", READ, 404, "notification_not_found",
                   path=f"/v1/notifications/{raw}/read") for label, raw in BAD_PATH_IDS.items()]
    cases.append(Case("read-someone-elses-notification", READ, 404, "notification_not_found",
                      path="/v1/notifications/{their_note}/read"))
    return cases


BAD_IDS = {"string": Ref("wallet_as_string"), "string-one": "1", "negative": -1, "zero": 0,
           "2**70": 2**70, "2**63": 2**63, "float": 1.5, "float-integral": 1.0,
           "json-true": True, "json-null": None, "json-array": [1], "json-object": {"id": 1},
           "sql": DROP_TABLE}


def transfer_cases() -> list[Case]:
    cases = [Case(f"transfers-{name}-{label}", TRANSFERS, 422, "validation_error",
                  fields={name: value}, error_field=name)
             for name in ("from_wallet_id", "to_wallet_id") for label, value in BAD_IDS.items()]
    cases += [Case(f"transfers-{name}-missing", TRANSFERS, 422, "validation_error", drop=(name,),
                   error_field=name) for name in ("from_wallet_id", "to_wallet_id")]
    cases += [
        Case("transfers-same-wallet", TRANSFERS, 422, "same_wallet",
             fields={"to_wallet_id": Ref("wallet")}),
        Case("transfers-currency-mismatch", TRANSFERS, 422, "currency_mismatch",
             fields={"to_wallet_id": Ref("their_jpy")}),
        Case("transfers-from-someone-elses-wallet", TRANSFERS, 404, "wallet_not_found",
             fields={"from_wallet_id": Ref("their_usd"), "to_wallet_id": Ref("wallet")}),
        Case("transfers-to-a-wallet-that-does-not-exist", TRANSFERS, 404, "wallet_not_found",
             fields={"to_wallet_id": 2**63 - 1}),
        Case("transfers-to-a-system-account", TRANSFERS, 404, "wallet_not_found",
             fields={"to_wallet_id": Ref("system_usd")}),
    ]
    return cases


# Query strings and path ids of the reads (not writes, but in the same table: refused, and
# nothing written either).
LISTS = {"logins": "/v1/me/logins", "transactions": "/v1/wallets/{wallet}/transactions",
         "requests": "/v1/requests", "notifications": "/v1/notifications",
         "holds": "/v1/holds", "deliveries": "/v1/webhooks/{my_webhook}/deliveries"}
BAD_LIMITS = {"0": "0", "10000": "10000", "101": "101", "abc": "abc", "negative": "-1",
              "float": "1.5", "empty": "", "fullwidth": "%EF%BC%91%EF%BC%92", "plus": "%2B5",
              "huge": "9" * 30}
BAD_CURSORS = {"forged": "{forged_cursor}", "truncated": "{my_cursor_cut}",
               "foreign": "{their_cursor}", "other-list": "{my_logins_cursor}",
               "garbage": "%21%21%21", "empty": "", "long": "A" * 1000,
               "non-ascii": "%C3%A9t%C3%A9", "nul": "%00"}


def list_cases() -> list[Case]:
    cases = []
    for name, path in LISTS.items():
        get = Endpoint(name, "GET", path, None)
        cases += [Case(f"list-{name}-limit-{label}", get, 422, "validation_error",
                       path=f"{path}?limit={raw}", error_field="limit")
                  for label, raw in BAD_LIMITS.items()]
        cases += [Case(f"list-{name}-cursor-{label}", get, 400, "invalid_cursor",
                       path=f"{path}?cursor={raw}") for label, raw in BAD_CURSORS.items()
                  if not (label == "other-list" and name == "logins")]
    cases += [Case("list-requests-status-bogus", Endpoint("requests", "GET", "", None), 422,
                   "validation_error", path="/v1/requests?status=done%27--",
                   error_field="status"),
              Case("list-notifications-unread-yes", Endpoint("notifications", "GET", "", None),
                   422, "validation_error", path="/v1/notifications?unread=yes",
                   error_field="unread")]
    request = Endpoint("request", "GET", "/v1/requests/{my_request}", None)
    cases += [Case(f"read-request-wait-{label}", request, 422, "validation_error",
                   path=f"/v1/requests/{{my_request}}?wait={raw}", error_field="wait")
              for label, raw in {"31": "31", "negative": "-1", "float": "1.5", "abc": "abc",
                                 "huge": "9" * 30, "empty": ""}.items()]
    cases += [Case(f"read-request-id-{label}", request, 404, "request_not_found",
                   path=f"/v1/requests/{raw}") for label, raw in BAD_PATH_IDS.items()]
    cases.append(Case("read-someone-elses-request", request, 404, "request_not_found",
                      path="/v1/requests/{their_request}"))
    return cases


# Moments that are not RFC 3339 date-times, for every history parameter that takes one.
BAD_MOMENTS = {"sql": "2026-01-01T00:00:00Z%27%3B%20DROP%20TABLE%20transactions%3B--",
               "date-only": "2026-01-01", "no-offset": "2026-01-01T00:00:00",
               "space": "2026-01-01%2000:00:00Z", "epoch": "1767225600",
               "feb-30": "2026-02-30T00:00:00Z", "hour-25": "2026-01-01T25:00:00Z",
               "offset-99": "2026-01-01T00:00:00%2B99:00", "huge": "9" * 40, "empty": "",
               "nul": "2026-01-01T00:00:00Z%00", "fullwidth": "%EF%BC%92026-01-01T00:00:00Z",
               "year-0": "0000-01-01T00:00:00Z"}
GOOD = "2026-01-01T00:00:00Z"


def history_cases() -> list[Case]:
    """The history reads' query parameters: moments, filters, formats (API.md 1.1)."""
    balance = Endpoint("balance", "GET", "/v1/wallets/{wallet}/balance", None)
    statement = Endpoint("statement", "GET", "/v1/wallets/{wallet}/statement", None)
    requests = Endpoint("requests", "GET", "/v1/requests", None)
    entries = Endpoint("transactions", "GET", "/v1/wallets/{wallet}/transactions", None)
    cases = []
    for label, raw in BAD_MOMENTS.items():
        cases += [
            Case(f"balance-at-{label}", balance, 422, "validation_error",
                 path=f"/v1/wallets/{{wallet}}/balance?at={raw}", error_field="at"),
            Case(f"statement-from-{label}", statement, 422, "validation_error",
                 path=f"/v1/wallets/{{wallet}}/statement?from={raw}&to={GOOD}",
                 error_field="from"),
            Case(f"requests-created-to-{label}", requests, 422, "validation_error",
                 path=f"/v1/requests?created_to={raw}", error_field="created_to"),
            Case(f"transactions-created-from-{label}", entries, 422, "validation_error",
                 path=f"/v1/wallets/{{wallet}}/transactions?created_from={raw}",
                 error_field="created_from")]
    cases += [
        Case("statement-format-sql", statement, 422, "validation_error",
             path=f"/v1/wallets/{{wallet}}/statement?from={GOOD}&to=2026-02-01T00:00:00Z"
                  "&format=csv%27--", error_field="format"),
        Case("statement-reversed", statement, 422, "validation_error",
             path=f"/v1/wallets/{{wallet}}/statement?from=2026-02-01T00:00:00Z&to={GOOD}",
             error_field="to"),
        Case("statement-ten-years", statement, 422, "validation_error",
             path=f"/v1/wallets/{{wallet}}/statement?from={GOOD}&to=2036-01-01T00:00:00Z",
             error_field="to"),
        Case("transactions-type-sql", entries, 422, "validation_error",
             path="/v1/wallets/{wallet}/transactions?type=deposit%27%20OR%201=1--",
             error_field="type"),
        Case("requests-metadata-key-sql", requests, 422, "validation_error",
             path="/v1/requests?metadata%5B%22)%20OR%201%3D1--%5D=x",
             error_field='metadata[") OR 1=1--]'),
        Case("requests-metadata-path-injection", requests, 422, "validation_error",
             path="/v1/requests?metadata%5Ba%22.%22b%5D=x", error_field='metadata[a"."b]'),
        Case("requests-metadata-value-too-long", requests, 422, "validation_error",
             path="/v1/requests?metadata%5Bk%5D=" + "v" * 501, error_field="metadata[k]"),
        Case("requests-metadata-value-not-utf8", requests, 422, "validation_error",
             path="/v1/requests?metadata%5Bk%5D=%FF%FE", error_field="metadata[k]"),
        Case("requests-two-metadata-filters", requests, 422, "validation_error",
             path="/v1/requests?metadata%5Ba%5D=1&metadata%5Bb%5D=2", error_field="metadata"),
        Case("requests-wallet-id-too-big", requests, 422, "validation_error",
             path="/v1/requests?wallet_id=9223372036854775808", error_field="wallet_id"),
        Case("requests-unknown-filter", requests, 422, "validation_error",
             path="/v1/requests?amount=1", error_field="amount")]
    return cases


# -- version 1.1: metadata, holds, refunds, events, webhooks --------------------------------
# description and metadata as API.md says them: a description of at most 255 characters; at
# most 20 keys, each 1-40 of [A-Za-z0-9_.-], each value a string of at most 500 characters.
# label -> (value, the field the problem must name)
BAD_METADATA = {
    "21-keys": ({f"k{i}": "v" for i in range(21)}, "metadata"),
    "key-41-chars": ({"k" * 41: "v"}, "metadata"), "key-empty": ({"": "v"}, "metadata"),
    "key-space": ({"order id": "v"}, "metadata"), "key-nul": ({"order\u0000": "v"}, "metadata"),
    "key-non-ascii": ({"cl\u00e9": "v"}, "metadata"), "key-slash": ({"a/b": "v"}, "metadata"),
    "key-sql": ({DROP_TABLE: "v"}, "metadata"), "key-dollar": ({"$where": "v"}, "metadata"),
    "value-501-chars": ({"k": "v" * 501}, "metadata.k"),
    "value-int": ({"k": 17}, "metadata.k"), "value-float": ({"k": 1.5}, "metadata.k"),
    "value-10**40": ({"k": 10**40}, "metadata.k"), "value-true": ({"k": True}, "metadata.k"),
    "value-null": ({"k": None}, "metadata.k"),
    "value-nested-object": ({"k": {"a": "b"}}, "metadata.k"),
    "value-array": ({"k": ["a"]}, "metadata.k"),
    "value-deeply-nested": ({"k": json.loads("[" * 500 + "]" * 500)}, "metadata.k"),
    "json-array": ([{"k": "v"}], "metadata"), "json-string": ("k=v", "metadata"),
    "json-int": (1, "metadata"), "json-true": (True, "metadata"),
    "json-empty-array": ([], "metadata"),
    "value-nul": ({"k": "a\u0000b"}, "metadata.k"),
    "value-escape": ({"k": "\u001b[2J"}, "metadata.k"),
    "value-del": ({"k": "a\u007f"}, "metadata.k"),
}
BAD_DESCRIPTIONS = {"256-chars": "d" * 256, "json-int": 17, "json-float": 17.5,
                    "json-true": True, "json-array": ["order 17"],
                    "json-object": {"text": "order 17"}, "nul": "order\u000017",
                    "only-nul": "\u0000", "escape": "order \u001b[31m17", "bell": "\u0007",
                    "vertical-tab": "a\u000bb", "del": "order 17\u007f"}
# Lone surrogates: no UTF-8 text holds one, so such a body is not UTF-8 JSON (400).
LONE_HIGH, LONE_LOW = "\ud800", "\udfff"


def details_cases(e: Endpoint) -> list[Case]:
    cases = [Case(f"{e.name}-metadata-{label}", e, 422, "validation_error",
                  fields={"metadata": value}, error_field=name)
             for label, (value, name) in BAD_METADATA.items()]
    cases += [Case(f"{e.name}-description-{label}", e, 422, "validation_error",
                   fields={"description": value}, error_field="description")
              for label, value in BAD_DESCRIPTIONS.items()]
    cases += [
        Case(f"{e.name}-metadata-value-of-1MB", e, 413, "payload_too_large",
             fields={"metadata": {"k": MEGABYTE_STRING}}),
        Case(f"{e.name}-description-lone-high-surrogate", e, 400, "invalid_json",
             fields={"description": f"order {LONE_HIGH}17"}),
        Case(f"{e.name}-description-lone-low-surrogate", e, 400, "invalid_json",
             fields={"description": LONE_LOW}),
        Case(f"{e.name}-description-surrogates-swapped", e, 400, "invalid_json",
             fields={"description": LONE_LOW + LONE_HIGH}),
        Case(f"{e.name}-metadata-value-lone-surrogate", e, 400, "invalid_json",
             fields={"metadata": {"k": LONE_HIGH}}),
        Case(f"{e.name}-metadata-key-lone-surrogate", e, 400, "invalid_json",
             fields={"metadata": {f"k{LONE_LOW}": "v"}}),
        Case(f"{e.name}-amount-lone-surrogate", e, 400, "invalid_json",
             fields={"amount": f"1.00{LONE_HIGH}"}),
        Case(f"{e.name}-utf8-encoded-surrogate", e, 400, "invalid_json",
             fields={"description": SPLICE},
             raw=lambda d: dumps(d).replace(dumps(SPLICE), b'"\xed\xa0\x80"')),
    ]
    return cases


BAD_EXPIRIES = {"59": 59, "2592001": 2592001, "zero": 0, "negative": -3600, "string": "3600",
                "float": 3600.5, "float-integral": 3600.0, "json-true": True,
                "10**40": 10**40, "json-array": [3600], "json-object": {"s": 3600},
                "json-null": None}


def hold_cases() -> list[Case]:
    cases = [Case(f"holds-to-wallet-id-{label}", HOLDS, 422, "validation_error",
                  fields={"to_wallet_id": value}, error_field="to_wallet_id")
             for label, value in BAD_IDS.items()]  # null too: only leaving it out means none
    cases += [Case(f"holds-expires-in-s-{label}", HOLDS, 422, "validation_error",
                   fields={"expires_in_s": value}, error_field="expires_in_s")
              for label, value in BAD_EXPIRIES.items()]
    cases += [Case(f"holds-expires-in-s-{label}", HOLDS, status, code,
                   fields={"expires_in_s": SPLICE},
                   raw=lambda d, text=text: dumps(d).replace(dumps(SPLICE), text))
              for label, text, status, code in (
                  ("raw-1e400", b"1e400", 422, "validation_error"),
                  ("raw-3.6e3", b"3.6e3", 422, "validation_error"),
                  ("raw-10**5000", b"1" + b"0" * 5000, 400, "invalid_json"))]
    cases += [Case(f"holds-wallet-id-{label}", HOLDS, 404, "wallet_not_found",
                   path=HOLDS.path.replace("{wallet}", raw)) for label, raw in BAD_PATH_IDS.items()]
    cases += [
        Case("holds-on-someone-elses-wallet", HOLDS, 404, "wallet_not_found",
             path=HOLDS.path.replace("{wallet}", "{their_usd}"), drop=("to_wallet_id",)),
        Case("holds-for-its-own-wallet", HOLDS, 422, "same_wallet",
             fields={"to_wallet_id": Ref("wallet")}),
        Case("holds-currency-mismatch", HOLDS, 422, "currency_mismatch",
             fields={"to_wallet_id": Ref("their_jpy")}),
        Case("holds-for-a-wallet-that-does-not-exist", HOLDS, 404, "wallet_not_found",
             fields={"to_wallet_id": 2**63 - 1}),
        Case("holds-for-a-system-account", HOLDS, 404, "wallet_not_found",
             fields={"to_wallet_id": Ref("system_usd")}),
    ]
    return cases


BAD_FINALS = {"string-true": "true", "int-1": 1, "int-0": 0, "json-array": [True],
              "json-object": {}, "json-null": None}


def capture_and_void_cases() -> list[Case]:
    cases = [Case(f"captures-final-{label}", CAPTURES, 422, "validation_error",
                  fields={"final": value}, error_field="final")
             for label, value in BAD_FINALS.items()]
    cases += [Case(f"void-{name}-is-not-a-field", VOID, 422, "unknown_field",
                   fields={name: value}, error_field=name)
              for name, value in (("amount", "1.00"), ("final", True), ("metadata", {}),
                                  ("description", "why"), ("hold_id", 1))]
    for e, path in ((CAPTURES, "/v1/holds/{}/captures"), (VOID, "/v1/holds/{}/void")):
        cases += [Case(f"{e.name}-hold-id-{label}", e, 404, "hold_not_found",
                       path=path.format(raw)) for label, raw in BAD_PATH_IDS.items()]
        cases += [
            Case(f"{e.name}-someone-elses-hold", e, 404, "hold_not_found",
                 path=path.format("{their_hold}")),
            Case(f"{e.name}-by-the-payer-of-a-hold-with-a-recipient", e, 403, "forbidden",
                 path=path.format("{hold_for_them}")),
            Case(f"{e.name}-a-hold-that-has-ended", e, 409, "hold_not_active",
                 path=path.format("{voided_hold}")),
        ]
    cases.append(Case("captures-more-than-the-hold", CAPTURES, 422, "exceeds_hold",
                      fields={"amount": "10.01"}))
    return cases


def refund_cases() -> list[Case]:
    cases = [Case(f"refunds-request-id-{label}", REFUNDS, 404, "request_not_found",
                  path=f"/v1/requests/{raw}/refunds") for label, raw in BAD_PATH_IDS.items()]
    cases += [
        Case("refunds-more-than-was-received", REFUNDS, 422, "refund_exceeds_original",
             fields={"amount": "10.01"}),
        Case("refunds-someone-elses-request", REFUNDS, 404, "request_not_found",
             path="/v1/requests/{their_request}/refunds"),
        Case("refunds-a-transfer-by-its-sender", REFUNDS, 404, "request_not_found",
             path="/v1/requests/{sent}/refunds"),
        Case("refunds-the-callers-own-deposit", REFUNDS, 409, "not_refundable",
             path="/v1/requests/{my_request}/refunds"),
    ]
    return cases


# Webhook URLs refused wherever the service runs (422 invalid_webhook_url).
BAD_URLS = {
    "ftp": "ftp://hooks.example/wallet", "file": "file:///etc/passwd",
    "javascript": "javascript:alert(1)", "gopher": "gopher://127.0.0.1:6379/_FLUSHALL",
    "no-scheme": "hooks.example/wallet", "scheme-relative": "//hooks.example/wallet",
    "scheme-only": "https://", "no-host": "https:///wallet", "empty": "",
    "credentials": "https://user:secret@hooks.example/wallet",
    "user-only": "https://user@hooks.example/wallet",
    "empty-credentials": "https://:@hooks.example/wallet",
    "space": "https://hooks.example/a b", "nul": "https://hooks.example/\u0000",
    "nul-in-host": "https://hooks\u0000.example/", "header-injection":
    "https://hooks.example/\r\nX-Injected: 1", "tab": "https://hooks.example/\t",
    "leading-control": "\u0015https://hooks.example/", "trailing-space":
    "https://hooks.example/ ", "over-2048-chars": "https://hooks.example/" + "a" * 2030,
    "port-too-big": "https://hooks.example:99999/", "port-letters": "https://hooks.example:ab/",
    "unclosed-ipv6": "https://[::1/wallet", "json-int": 443, "json-float": 1.5,
    "json-true": True, "json-null": None, "json-array": ["https://hooks.example/"],
    "json-object": {"href": "https://hooks.example/"},
}
# Refused outside development and test, where any address may be called (API.md): each is
# sent to a web process in production mode. All IP literals or `localhost`: no DNS needed.
PRODUCTION_BAD_URLS = {
    "http": "http://93.184.215.14/wallet", "loopback": "https://127.0.0.1/wallet",
    "loopback-other": "https://127.8.9.10/", "loopback-short": "https://127.1/",
    "loopback-decimal": "https://2130706433/", "loopback-hex": "https://0x7f000001/",
    "localhost": "https://localhost/wallet", "localhost-port": "https://localhost:8443/",
    "ipv6-loopback": "https://[::1]/", "ipv4-mapped-loopback": "https://[::ffff:127.0.0.1]/",
    "private-10": "https://10.0.0.1/", "private-172": "https://172.16.5.4/",
    "private-192": "https://192.168.1.1/", "ipv6-unique-local": "https://[fd00::1]/",
    "link-local-metadata": "https://169.254.169.254/latest/meta-data/",
    "ipv6-link-local": "https://[fe80::1]/", "unspecified": "https://0.0.0.0/",
    "ipv6-unspecified": "https://[::]/", "multicast": "https://224.0.0.1/",
    "carrier-grade-nat": "https://100.64.0.1/", "reserved": "https://240.0.0.1/",
    "broadcast": "https://255.255.255.255/", "documentation": "https://192.0.2.1/",
    "credentials-public": "https://user:pw@93.184.215.14/",
}
BAD_EVENT_LISTS = {
    "empty": [], "unknown": ["hold.exploded"], "wildcard": ["*"], "upper-case": ["HOLD.EXPIRED"],
    "nul": ["hold.expired\u0000"], "trailing-space": ["hold.expired "], "sql": [DROP_TABLE],
    "json-int-item": [1], "json-float-item": [1.5], "json-null-item": [None],
    "nested": [["hold.expired"]],
    "one-bad-among-good": ["hold.expired", "hold.exploded"], "json-string": "hold.expired",
    "json-object": {"hold.expired": True}, "json-true": True, "1000-unknown": ["x"] * 1000,
    "json-null": None,  # only leaving `events` out means every type
}


def webhook_cases() -> list[Case]:
    cases = [Case(f"webhooks-url-{label}", WEBHOOKS, 422, "invalid_webhook_url",
                  fields={"url": value}, error_field="url") for label, value in BAD_URLS.items()]
    cases.append(Case("webhooks-url-missing", WEBHOOKS, 422, "invalid_webhook_url",
                      drop=("url",), error_field="url"))
    cases += [Case(f"webhooks-production-url-{label}", WEBHOOKS, 422, "invalid_webhook_url",
                   fields={"url": value}, error_field="url", production=True)
              for label, value in PRODUCTION_BAD_URLS.items()]
    cases += [Case(f"webhooks-events-{label}", WEBHOOKS, 422, "validation_error",
                   fields={"events": value}, error_field="events")
              for label, value in BAD_EVENT_LISTS.items()]
    cases += [Case(f"webhooks-description-{label}", WEBHOOKS, 422, "validation_error",
                   fields={"description": value}, error_field="description")
              for label, value in BAD_DESCRIPTIONS.items()]
    cases += [Case(f"webhooks-{name}-lone-surrogate", WEBHOOKS, 400, "invalid_json",
                   fields={name: value}) for name, value in (
                       ("url", f"https://hooks.example/{LONE_HIGH}"),
                       ("description", LONE_LOW), ("events", [f"hold.expired{LONE_HIGH}"]))]
    return cases


EVENTS = Endpoint("events", "GET", "/v1/events", None)
BAD_AFTERS = {"negative": "-1", "letters": "abc", "float": "1.5", "exponent": "1e3",
              "19-digits": "9" * 19, "2**70": str(2**70), "empty": "", "plus": "%2B1",
              "fullwidth-digits": "%EF%BC%91", "arabic-indic-digits": "%D9%A1",
              "encoded-space": "%201", "nul": "1%00", "sql": "1%20OR%201%3D1",
              "surrogate-bytes": "%ED%A0%80", "not-utf8": "%FF"}
BAD_EVENT_TYPES = {"unknown": "hold.exploded", "upper-case": "HOLD.EXPIRED", "wildcard": "%2A",
                   "prefix": "hold", "empty": "", "nul": "hold.expired%00",
                   "trailing-space": "hold.expired%20", "sql": "x%27%20OR%20%271%27%3D%271",
                   "surrogate-bytes": "%ED%A0%80"}


def v11_read_cases() -> list[Case]:
    """The events feed, the hold and webhook reads and deletes: refused, nothing written."""
    cases = [Case(f"events-after-{label}", EVENTS, 422, "validation_error",
                  path=f"/v1/events?after={raw}", error_field="after")
             for label, raw in BAD_AFTERS.items()]
    cases += [Case(f"events-type-{label}", EVENTS, 422, "validation_error",
                   path=f"/v1/events?type={raw}", error_field="type")
              for label, raw in BAD_EVENT_TYPES.items()]
    cases += [Case(f"events-limit-{label}", EVENTS, 422, "validation_error",
                   path=f"/v1/events?after=0&limit={raw}", error_field="limit")
              for label, raw in BAD_LIMITS.items()]
    cases += [Case(f"events-unknown-parameter-{name}", EVENTS, 422, "validation_error",
                   path=f"/v1/events?{name}=1") for name in ("cursor", "user_id", "AFTER")]
    holds = Endpoint("holds-list", "GET", "/v1/holds", None)
    cases += [Case("list-holds-status-bogus", holds, 422, "validation_error",
                   path="/v1/holds?status=done%27--", error_field="status"),
              Case("list-holds-someone-elses-wallet", holds, 404, "wallet_not_found",
                   path="/v1/holds?wallet_id={their_usd}"),
              Case("list-holds-wallet-id-letters", holds, 404, "wallet_not_found",
                   path="/v1/holds?wallet_id=abc")]
    hold = Endpoint("hold", "GET", "/v1/holds/{my_hold}", None)
    cases += [Case(f"read-hold-id-{label}", hold, 404, "hold_not_found",
                   path=f"/v1/holds/{raw}") for label, raw in BAD_PATH_IDS.items()]
    cases.append(Case("read-someone-elses-hold", hold, 404, "hold_not_found",
                      path="/v1/holds/{their_hold}"))
    for method, suffix, name in (("GET", "", "read-webhook"), ("DELETE", "", "delete-webhook"),
                                 ("GET", "/deliveries", "webhook-deliveries")):
        e = Endpoint(name, method, "/v1/webhooks/{my_webhook}" + suffix, None)
        cases += [Case(f"{name}-id-{label}", e, 404, "webhook_not_found",
                       path=f"/v1/webhooks/{raw}{suffix}") for label, raw in BAD_PATH_IDS.items()]
        cases.append(Case(f"{name}-someone-elses", e, 404, "webhook_not_found",
                          path=f"/v1/webhooks/{{their_webhook}}{suffix}"))
        cases.append(Case(f"{name}-deleted", e, 404, "webhook_not_found",
                          path=f"/v1/webhooks/{{deleted_webhook}}{suffix}"))
    return cases


CASES = [c for e in BODY_ENDPOINTS for c in generic_cases(e)]
CASES += [c for e in IDEMPOTENT_ENDPOINTS for c in key_cases(e)]
CASES += [c for e in MONEY_ENDPOINTS for c in amount_cases(e)]
CASES += user_cases() + token_cases() + profile_cases() + wallet_cases() + path_cases()
CASES += transfer_cases() + list_cases() + history_cases()
CASES += [c for e in OPTIONAL_AMOUNT_ENDPOINTS for c in amount_cases(e, optional=True)]
CASES += [c for e in DETAILS_ENDPOINTS for c in details_cases(e)]
CASES += hold_cases() + capture_and_void_cases() + refund_cases() + webhook_cases()
CASES += v11_read_cases()


# -- the world the cases run in ---------------------------------------------------------
def placed(client: Client, wallet: int, amount: str, **fields: Any) -> int:
    """The id of a hold `client` placed on `wallet`, once it is active."""
    accepted = client.move(f"/v1/wallets/{wallet}/holds", {"amount": amount, **fields})
    assert client.settled(accepted["id"])["status"] == "succeeded", accepted
    return accepted["hold_id"]


def registered(client: Client, url: str) -> int:
    res = client.call("POST", "/v1/webhooks", key=unique("hook-"),
                      json={"url": url, "events": ["hold.expired"]})
    assert res.status_code == 201, res.text
    return res.json()["id"]


class World:
    """The caller (a funded USD wallet) and a bystander (USD and JPY wallets); and, for
    version 1.1, holds, a transfer each way between them, and a webhook each."""

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.me = Client(stack).sign_up()
        self.them = Client(stack).sign_up()
        self.wallet = self.me.open_wallet("USD")["id"]
        self.me.settled(self.me.deposit(self.wallet, "100.00")["id"])
        self.their_usd = self.them.open_wallet("USD")["id"]
        self.their_jpy = self.them.open_wallet("JPY")["id"]
        self.my_request = self.me.call("GET", "/v1/requests").json()["items"][0]["id"]
        self.their_request = self.them.deposit(self.their_jpy, "100")["id"]
        self.them.settled(self.their_request)
        self.me.log_in()
        self.them.log_in()
        self.them.settled(self.them.deposit(self.their_usd, "100.00")["id"])
        received = self.them.transfer(self.their_usd, self.wallet, "10.00")["id"]
        sent = self.me.transfer(self.wallet, self.their_usd, "1.00")["id"]
        for client, request_id in ((self.them, received), (self.me, sent)):
            assert client.settled(request_id)["status"] == "succeeded"
        voided = placed(self.me, self.wallet, "1.00")
        self.me.settled(self.me.move(f"/v1/holds/{voided}/void", {})["id"])
        deleted_webhook = registered(self.me, "http://127.0.0.1:9/hostile-deleted")
        assert self.me.call("DELETE", f"/v1/webhooks/{deleted_webhook}").status_code == 204
        my_notes = self.me.call("GET", "/v1/notifications?limit=1").json()
        self.values = {
            "wallet": self.wallet, "their_usd": self.their_usd, "their_jpy": self.their_jpy,
            "my_request": self.my_request, "their_request": self.their_request,
            "wallet_as_string": str(self.wallet), "my_email": self.me.email,
            "MY_EMAIL": self.me.email.upper(), "their_name": self.them.username,
            # Variants the email column's collation (utf8mb4_unicode_ci) holds equal.
            "my_email_nul": self.me.email + "\u0000", "my_email_space": self.me.email + " ",
            "my_email_accent": self.me.email.replace("u", "\u00fc", 1),
            "my_note": my_notes["items"][0]["id"],
            "their_note": self.them.call("GET", "/v1/notifications").json()["items"][0]["id"],
            "system_usd": Wallet.get((Wallet.currency == "USD") &
                                     Wallet.user.is_null()).id,
            "my_cursor": my_notes["next_cursor"], "my_cursor_cut": my_notes["next_cursor"][:-3],
            "their_cursor": self.them.call("GET", "/v1/notifications?limit=1")
                                .json()["next_cursor"],
            "my_logins_cursor": self.me.call("GET", "/v1/me/logins?limit=1")
                                    .json()["next_cursor"],
            # A well-formed cursor (8-byte id + 12-byte tag) whose tag was never issued.
            "forged_cursor": "AAAAAAAAA-kAAAAAAAAAAAAAAAA",
            "received": received, "sent": sent, "voided_hold": voided,
            "my_hold": placed(self.me, self.wallet, "10.00"),
            "my_other_hold": placed(self.me, self.wallet, "10.00"),
            "hold_for_them": placed(self.me, self.wallet, "5.00", to_wallet_id=self.their_usd),
            "their_hold": placed(self.them, self.their_usd, "5.00"),
            "my_webhook": registered(self.me, "http://127.0.0.1:9/hostile-mine"),
            "their_webhook": registered(self.them, "http://127.0.0.1:9/hostile-theirs"),
            "deleted_webhook": deleted_webhook,
        }
        assert all(v is not None for v in self.values.values()), self.values

    def fill(self, value: Any) -> Any:
        """Put run-time values into a body: `Ref`s, recursively."""
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if not isinstance(value, Ref):
            return value
        if value.name == "new_email":
            return f"hostile_{uuid.uuid4().hex[:10]}@example.com"
        if value.name == "new_name":
            return unique("hostile_")
        return self.values[value.name]

    def close(self) -> None:
        """Delete the webhooks its users registered, so none is ever sent anything."""
        for client in (self.me, self.them):
            for hook in client.call("GET", "/v1/webhooks").json()["items"]:
                assert client.call("DELETE", f"/v1/webhooks/{hook['id']}").status_code == 204

    def prepare(self, case: Case, user_agent: str, *, base: str | None = None
                ) -> tuple[dict, dict]:
        """The request a case sends (keyword arguments of `requests.request`), and its body
        as a dict when it is built from the endpoint's fields; to `base` if given."""
        e = case.endpoint
        headers = {"User-Agent": user_agent, "Content-Type": "application/json"}
        if e.auth:
            headers["Authorization"] = f"Bearer {self.me.token}"
        if e.idempotent:
            headers["Idempotency-Key"] = unique("hostile-key-")
        doc: dict = {}
        if e.body is not None:
            doc = self.fill({k: v for k, v in {**e.body, **case.fields}.items()
                             if k not in case.drop})
            data = (case.raw or dumps)(doc)
        else:
            data = None
            del headers["Content-Type"]
        headers.update(case.headers)
        headers = {k: v for k, v in headers.items() if v is not OMIT}
        if case.chunked:
            data = iter([data[i:i + 8192] for i in range(0, len(data), 8192)])
        url = (base or self.stack) + (case.path or e.path).format(**self.values)
        return {"method": e.method, "url": url, "data": data, "headers": headers,
                "timeout": 60}, doc


def counted(queries: dict[str, peewee.ModelSelect]) -> dict[str, int]:
    """The number of rows each query selects, all in one round trip (scalar subqueries)."""
    parts, params = [], []
    for query in queries.values():
        sql, query_params = query.select(fn.COUNT(SQL("*"))).sql()
        parts.append(f"({sql})")
        params += query_params
    row = db.execute_sql("SELECT " + ", ".join(parts), params).fetchone()
    return dict(zip(queries, row, strict=True))


def snapshot(world: World, *, emails: list[str], usernames: list[str], user_agent: str) -> dict:
    """Everything a write by the caller could have changed, read from the database."""
    people = [world.me.user_id, world.them.user_id]
    wallets = list(Wallet.select().where(Wallet.user.in_(people)).order_by(Wallet.id))
    wallet_ids = [w.id for w in wallets]
    me = User.get_by_id(world.me.user_id)
    holds = Hold.select().where(Hold.user_id.in_(people) | Hold.to_user_id.in_(people))
    webhooks = list(Webhook.select().where(Webhook.user_id.in_(people)).order_by(Webhook.id))
    hook_ids = [w.id for w in webhooks] or [0]
    per_user = {(model, uid): model.select().where(model.user == uid)
                for model in (Wallet, TransactionRequest, IdempotencyKey, Notification, LoginLog)
                for uid in people}
    per_user.update({(Event, uid): Event.select().where(Event.user_id == uid)
                     for uid in people})
    per_user.update({("unread", uid): Notification.select().where(
        (Notification.user == uid) & ~Notification.is_read) for uid in people})
    # (one round trip for every count: the snapshot runs twice for each of ~1,500 cases)
    counts = counted({
        "attempted": User.select().where(
            User.email.in_([e.lower() for e in emails] or [""]) |
            User.username.in_(usernames or [""])),
        "transactions": Transaction.select().where(Transaction.wallet.in_(wallet_ids or [0])),
        "attempt logins": LoginLog.select().where(LoginLog.user_agent == user_agent),
        "jobs": WebhookJob.select().where(WebhookJob.webhook_id.in_(hook_ids)),
        "deliveries": WebhookDelivery.select().where(WebhookDelivery.webhook_id.in_(hook_ids)),
        **per_user})

    def of_each(what) -> dict:
        return {uid: counts[(what, uid)] for uid in people}

    return {
        "users with the attempted emails or usernames": counts["attempted"],
        "the caller's user row": (me.username, me.password_hash, me.updated_at, me.deleted_at),
        "wallets (id, balance, version, updated_at, deleted_at)": [
            (w.id, w.balance, w.version, w.updated_at, w.deleted_at) for w in wallets],
        "wallets per user": of_each(Wallet),
        "transaction_requests per user": of_each(TransactionRequest),
        "transactions of their wallets": counts["transactions"],
        "idempotency keys per user": of_each(IdempotencyKey),
        "notifications per user": of_each(Notification),
        "unread notifications per user": of_each("unread"),
        "login_logs per user": of_each(LoginLog),
        "login_logs of this attempt": counts["attempt logins"],
        "holds on or for their wallets (id, status, captured, updated_at)": sorted(
            (h.id, h.status, h.captured, h.updated_at) for h in holds),
        "events per user": of_each(Event),
        "webhooks (id, user, url, events, deleted_at)": [
            (w.id, w.user_id, w.url, w.events, w.deleted_at) for w in webhooks],
        "webhook jobs and deliveries": (counts["jobs"], counts["deliveries"]),
    }


def strings_in(doc: dict, name: str) -> list[str]:
    value = doc.get(name)
    return [value] if isinstance(value, str) and len(value) <= 300 else []


@pytest.fixture(scope="module")
def world(stack):
    world = World(stack)
    yield world
    world.close()


@pytest.fixture(scope="module")
def production(log_dir):
    """A web process in production mode, on the same database and keys: where webhook URLs
    must be https and may not reach a loopback, private or reserved address."""
    web, base = start_web(log_dir, WALLET_ENV="production")
    try:
        yield base
    finally:
        web.stop()


# -- the tests --------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_gets_a_clean_problem_and_changes_nothing(world, case, request):
    # Given the request and the database as it is, for everything that request could touch
    user_agent = f"hostile-input/{uuid.uuid4().hex}"
    call, sent = world.prepare(case, user_agent, base=request.getfixturevalue("production")
                               if case.production else None)
    emails, usernames = strings_in(sent, "email"), strings_in(sent, "username")
    before = snapshot(world, emails=emails, usernames=usernames, user_agent=user_agent)
    # When it is sent
    res = requests.request(**call)
    # Then the answer is the documented problem, with the offending field named
    assert is_problem(res, case.status, case.code)
    problem = res.json()
    assert set(problem) <= {"type", "title", "status", "detail", "code", "request_id", "errors"}
    if case.error_field:
        assert case.error_field in [err["field"] for err in problem.get("errors", [])], problem
    # And nothing changed but the login attempt API.md says is always recorded
    after = snapshot(world, emails=emails, usernames=usernames, user_agent=user_agent)
    expected = dict(before)
    expected["login_logs of this attempt"] += case.login_rows
    if case.callers_login:
        expected["login_logs per user"] = {**before["login_logs per user"]}
        expected["login_logs per user"][world.me.user_id] += case.login_rows
    assert after == expected
    if case.login_rows:
        row = LoginLog.get(LoginLog.user_agent == user_agent)
        assert not row.success
        assert row.user_id == (world.me.user_id if case.callers_login else None)


CONTROLS = [(USERS, 201), (TOKEN, 200), (ME, 200), (WALLETS, 201), (DEPOSITS, 202),
            (WITHDRAWALS, 202), (TRANSFERS, 202), (READ, 204), (HOLDS, 202), (CAPTURES, 202),
            (VOID, 202), (REFUNDS, 202), (WEBHOOKS, 201),
            (Endpoint("delete-webhook", "DELETE", "/v1/webhooks/{my_webhook}", None), 204)]


@pytest.fixture(scope="module")
def control(stack):
    world = World(stack)
    yield world
    world.close()


@pytest.mark.parametrize("endpoint,status", CONTROLS, ids=[e.name for e, _ in CONTROLS])
def test_the_request_each_case_spoils_is_accepted_and_seen_by_the_snapshot(control, endpoint,
                                                                            status):
    # Given the endpoint's base request, which every hostile case above changes in one place
    user_agent = f"hostile-input/control-{uuid.uuid4().hex}"
    request, sent = control.prepare(Case("control", endpoint, status, ""), user_agent)
    emails, usernames = strings_in(sent, "email"), strings_in(sent, "username")
    before = snapshot(control, emails=emails, usernames=usernames, user_agent=user_agent)
    # When it is sent untouched
    res = requests.request(**request)
    # Then it is accepted (so the refusals above are the hostile part's doing), and its write
    # shows in the snapshot (so "unchanged" above means something)
    assert res.status_code == status, res.text
    assert snapshot(control, emails=emails, usernames=usernames, user_agent=user_agent) != before


REFUSED_THEN_ACCEPTED = [(WALLETS, {"currency": "usd"}, 201), (DEPOSITS, {"amount": "1e3"}, 202),
                         (WITHDRAWALS, {"amount": "-0"}, 202),
                         (TRANSFERS, {"from_wallet_id": "1"}, 202),
                         (HOLDS, {"expires_in_s": 59}, 202),
                         (CAPTURES, {"metadata": {"k": 1}}, 202),
                         (VOID, {"final": True}, 202), (REFUNDS, {"description": 17}, 202),
                         (WEBHOOKS, {"url": "ftp://hooks.example/"}, 201)]


@pytest.fixture(scope="module")
def fresh(stack):
    world = World(stack)
    yield world
    world.close()


@pytest.mark.parametrize("endpoint,spoiled,status", REFUSED_THEN_ACCEPTED,
                         ids=[e.name for e, _, _ in REFUSED_THEN_ACCEPTED])
def test_a_refused_call_consumes_nothing_so_its_key_may_be_sent_again(fresh, endpoint, spoiled,
                                                                      status):
    # Given a hostile call refused with a 4xx under an Idempotency-Key
    key = unique("reused-after-refusal-")
    hostile, _ = fresh.prepare(Case("spoiled", endpoint, 422, "", fields=spoiled), "hostile")
    hostile["headers"]["Idempotency-Key"] = key
    assert requests.request(**hostile).status_code == 422
    # When the good call is sent with the same key
    good, _ = fresh.prepare(Case("good", endpoint, status, ""), "hostile")
    good["headers"]["Idempotency-Key"] = key
    res = requests.request(**good)
    # Then it is carried out as a first call (API.md: "a call refused with a 4xx consumed
    # nothing and may be sent again"), not replayed and not refused as a reused key
    assert res.status_code == status, res.text
    assert "Idempotent-Replayed" not in res.headers


def test_in_production_a_public_https_webhook_url_is_accepted(world, production):
    # The control for the production-only URL cases: the same request, with a public address
    # literal (no DNS needed), is registered by the production-mode web process
    call, _ = world.prepare(Case("control", WEBHOOKS, 201, "", fields={
        "url": "https://93.184.215.14/wallet"}), "hostile-input/production-control",
        base=production)
    res = requests.request(**call)
    assert res.status_code == 201, res.text
    assert world.me.call("DELETE", f"/v1/webhooks/{res.json()['id']}").status_code == 204
