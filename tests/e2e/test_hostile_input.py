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

import pytest
import requests

from models import (
    IdempotencyKey,
    LoginLog,
    Notification,
    Transaction,
    TransactionRequest,
    User,
    Wallet,
)
from tests.helpers import PASSWORD, Client, is_problem, unique

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
BODY_ENDPOINTS = [USERS, TOKEN, ME, WALLETS, DEPOSITS, WITHDRAWALS, TRANSFERS]
IDEMPOTENT_ENDPOINTS = [e for e in BODY_ENDPOINTS if e.idempotent]
MONEY_ENDPOINTS = [DEPOSITS, WITHDRAWALS, TRANSFERS]


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


def dumps(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def generic_cases(e: Endpoint) -> list[Case]:
    """Framing attacks every endpoint with a body refuses before it looks at the fields."""
    first = next(iter(e.body))
    pad = b', "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
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
            dumps(d)[:-1] + b", " + dumps(first) + b": " + dumps(d[first]) + b"}")),
        Case(f"{e.name}-truncated-json", e, 400, "invalid_json", raw=lambda d: dumps(d)[:-1]),
        Case(f"{e.name}-empty-body", e, 400, "invalid_json", raw=lambda d: b""),
        Case(f"{e.name}-json-array", e, 400, "invalid_json", raw=lambda d: dumps([d])),
        Case(f"{e.name}-json-null", e, 400, "invalid_json", raw=lambda d: b"null"),
        Case(f"{e.name}-json-string", e, 400, "invalid_json",
             raw=lambda d: dumps(dumps(d).decode())),
        Case(f"{e.name}-not-utf8", e, 400, "invalid_json",
             raw=lambda d: dumps(d)[:-1] + b', "x": "\xff\xfe"}'),
        Case(f"{e.name}-utf8-bom", e, 400, "invalid_json",
             raw=lambda d: b"\xef\xbb\xbf" + dumps(d)),
        Case(f"{e.name}-nested-60k-deep", e, 400, "invalid_json", raw=lambda d: b"[" * 60_000),
        Case(f"{e.name}-body-over-64KiB", e, 413, "payload_too_large",
             raw=lambda d: dumps(d)[:-1] + pad),
        Case(f"{e.name}-body-over-64KiB-chunked", e, 413, "payload_too_large", chunked=True,
             raw=lambda d: dumps(d)[:-1] + pad),
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


def amount_cases(e: Endpoint) -> list[Case]:
    cases = [Case(f"{e.name}-amount-{label}", e, 422, "invalid_amount", fields={"amount": value},
                  error_field="amount") for label, value in BAD_AMOUNTS.items()]
    cases.append(Case(f"{e.name}-amount-missing", e, 422, "invalid_amount", drop=("amount",)))
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
                 "json-int": 12345678, "json-true": True, "json-null": None}


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
             for label, value in {"json-int": 7, "json-true": True, "json-null": None,
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
         "requests": "/v1/requests", "notifications": "/v1/notifications"}
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


CASES = [c for e in BODY_ENDPOINTS for c in generic_cases(e)]
CASES += [c for e in IDEMPOTENT_ENDPOINTS for c in key_cases(e)]
CASES += [c for e in MONEY_ENDPOINTS for c in amount_cases(e)]
CASES += user_cases() + token_cases() + profile_cases() + wallet_cases() + path_cases()
CASES += transfer_cases() + list_cases() + history_cases()


# -- the world the cases run in ---------------------------------------------------------
class World:
    """The caller (a funded USD wallet) and a bystander (USD and JPY wallets)."""

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

    def prepare(self, case: Case, user_agent: str) -> tuple[dict, dict]:
        """The request a case sends (keyword arguments of `requests.request`), and its body
        as a dict when it is built from the endpoint's fields."""
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
        url = self.stack + (case.path or e.path).format(**self.values)
        return {"method": e.method, "url": url, "data": data, "headers": headers,
                "timeout": 60}, doc


def snapshot(world: World, *, emails: list[str], usernames: list[str], user_agent: str) -> dict:
    """Everything a write by the caller could have changed, read from the database."""
    people = [world.me.user_id, world.them.user_id]
    wallets = list(Wallet.select().where(Wallet.user.in_(people)).order_by(Wallet.id))
    wallet_ids = [w.id for w in wallets]
    me = User.get_by_id(world.me.user_id)

    def per_user(model) -> dict:
        return {uid: model.select().where(model.user == uid).count() for uid in people}

    attempted = User.select().where(User.email.in_([e.lower() for e in emails] or [""]) |
                                    User.username.in_(usernames or [""]))
    return {
        "users with the attempted emails or usernames": attempted.count(),
        "the caller's user row": (me.username, me.password_hash, me.updated_at, me.deleted_at),
        "wallets (id, balance, version, updated_at, deleted_at)": [
            (w.id, w.balance, w.version, w.updated_at, w.deleted_at) for w in wallets],
        "wallets per user": per_user(Wallet),
        "transaction_requests per user": per_user(TransactionRequest),
        "transactions of their wallets": Transaction.select().where(
            Transaction.wallet.in_(wallet_ids)).count(),
        "idempotency keys per user": per_user(IdempotencyKey),
        "notifications per user": per_user(Notification),
        "unread notifications per user": {uid: Notification.select().where(
            (Notification.user == uid) & ~Notification.is_read).count() for uid in people},
        "login_logs per user": per_user(LoginLog),
        "login_logs of this attempt": LoginLog.select().where(
            LoginLog.user_agent == user_agent).count(),
    }


def strings_in(doc: dict, name: str) -> list[str]:
    value = doc.get(name)
    return [value] if isinstance(value, str) and len(value) <= 300 else []


@pytest.fixture(scope="module")
def world(stack) -> World:
    return World(stack)


# -- the tests --------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_gets_a_clean_problem_and_changes_nothing(world, case):
    # Given the request and the database as it is, for everything that request could touch
    user_agent = f"hostile-input/{uuid.uuid4().hex}"
    request, sent = world.prepare(case, user_agent)
    emails, usernames = strings_in(sent, "email"), strings_in(sent, "username")
    before = snapshot(world, emails=emails, usernames=usernames, user_agent=user_agent)
    # When it is sent
    res = requests.request(**request)
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
            (WITHDRAWALS, 202), (TRANSFERS, 202), (READ, 204)]


@pytest.fixture(scope="module")
def control(stack) -> World:
    return World(stack)


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
                         (TRANSFERS, {"from_wallet_id": "1"}, 202)]


@pytest.fixture(scope="module")
def fresh(stack) -> World:
    return World(stack)


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
