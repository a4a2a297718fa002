"""The OpenAPI 3.1 document of the wallet service, served at /openapi.json.

It follows the HTTP contract (API.md) and the code: resource shapes from `views.py`,
problem codes and titles from `web/problems.py`, header and body rules from `web/http.py`.
It is mostly data, assembled by the small helpers below and built once per process.
"""
from typing import Any

from web.problems import INTERNAL, PROBLEMS

Schema = dict[str, Any]
JSON, PROBLEM_JSON = "application/json", "application/problem+json"
TITLES: dict[tuple[int, str], str] = {(s, c): t for s, c, t in [*PROBLEMS.values(), INTERNAL]}
_document: dict | None = None

DESCRIPTION = """The wallet service's HTTP API, version 1.

* **JSON** in and out (UTF-8). Bodies are one JSON object of at most 64 KiB sent as
  `application/json`; repeated keys are `invalid_json`, unknown fields `unknown_field`.
  Types are strict: ids are JSON integers, booleans are never numbers.
* **Amounts** are decimal strings in major units in plain notation (`"12.50"`), with exactly
  the currency's ISO 4217 decimals on output (`"5"` for JPY). On input a JSON number in plain
  notation is also accepted and parsed exactly. Amounts are > 0, at most MAX_AMOUNT
  (default 1000000000) and have no more decimals than the currency allows.
* **Idempotency**: `POST /v1/wallets`, deposits, withdrawals and transfers need an
  `Idempotency-Key` header (1 to 255 visible ASCII characters, scoped per user, kept at least
  24 hours). The same key and body replays the original 201/202 with
  `Idempotent-Replayed: true`; another body or endpoint gets 422 `idempotency_key_reused`.
  A concurrent call with a key still being answered waits for the first and replays it.
  Refused calls (4xx) consume nothing.
* **Pagination**: `?limit=` (1 to 100, default 20) and an opaque `?cursor=`; a page is
  `{"items": [...], "next_cursor": "..." | null}`, newest first.
* **Errors** are RFC 9457 `application/problem+json` with a stable machine-readable `code`,
  the `request_id`, and `errors` (field, message) on validation failures.
* Every response carries `X-Request-Id`. A store that is down gives 503 with `Retry-After`.
* Money moves asynchronously: a 202 returns a pending Request to poll at its `Location`.
"""


# -- schema helpers ---------------------------------------------------------------------
def ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def obj(props: dict[str, Schema], required: list[str] | None = None, *, closed: bool = False,
        description: str | None = None) -> Schema:
    """An object schema; every property is required unless a list is given."""
    schema: Schema = {"type": "object", "properties": props,
                      "required": list(props) if required is None else required}
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def nullable(schema: Schema) -> Schema:
    kind = schema["type"]
    out = {**schema, "type": [kind, "null"]}
    if "enum" in schema:
        out["enum"] = [*schema["enum"], None]
    return out


def page_of(item: str) -> Schema:
    return obj({"items": {"type": "array", "items": ref(item)},
                "next_cursor": nullable({"type": "string", "description":
                                         "Pass as ?cursor= for the next page; null on the last."})},
               description=f"One page of {item} objects, newest first.")


ID: Schema = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
TIME: Schema = {"type": "string", "format": "date-time"}
CURRENCY: Schema = {"type": "string", "pattern": "^[A-Z]{3}$",
                    "description": "An active ISO 4217 alphabetic code, upper case."}
MONEY: Schema = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$",
                 "description": "Major units with exactly the currency's decimals."}
SIGNED_MONEY: Schema = {**MONEY, "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
                        "description": "Major units, negative when money leaves the wallet."}
AMOUNT_IN: Schema = {
    "type": ["string", "number"], "pattern": r"^[0-9]+(\.[0-9]+)?$", "exclusiveMinimum": 0,
    "description": "A decimal string in major units (\"12.50\"); a JSON number in plain "
                   "notation is also accepted and parsed exactly. > 0, at most MAX_AMOUNT, "
                   "no more decimals than the currency's minor units."}
FAILURE_CODES = ["insufficient_funds", "wallet_not_found", "wallet_closed", "retries_exhausted"]
NOTIFICATION_TYPES = ("wallet_created, deposit_succeeded, deposit_failed, withdrawal_succeeded, "
                      "withdrawal_failed, transfer_succeeded, transfer_failed, transfer_received")

SCHEMAS: dict[str, Schema] = {
    "User": obj({"id": ID, "email": {"type": "string", "format": "email"},
                 "username": {"type": "string"}, "created_at": TIME, "updated_at": TIME}),
    "Token": obj({"access_token": {"type": "string", "description": "An HS256 JWT."},
                  "token_type": {"type": "string", "enum": ["Bearer"]},
                  "expires_in": {"type": "integer", "minimum": 1, "description": "Seconds."}}),
    "Login": obj({"id": ID, "ip_address": {"type": "string"}, "user_agent": {"type": "string"},
                  "success": {"type": "boolean"}, "created_at": TIME}),
    "Wallet": obj({"id": ID, "currency": CURRENCY, "balance": MONEY,
                   "version": {"type": "integer", "minimum": 0}, "created_at": TIME,
                   "updated_at": TIME}),
    "Transaction": obj({
        "id": ID, "request_id": ID,
        "type": {"type": "string",
                 "enum": ["deposit", "withdrawal", "transfer_out", "transfer_in"]},
        "amount": {**SIGNED_MONEY, "description": "Signed and net of fees: a wallet's balance "
                                                  "is the sum of its entries' amounts."},
        "fee": MONEY, "balance_after": MONEY, "counterparty_wallet_id": nullable(ID),
        "created_at": TIME}, description="One ledger entry of a wallet."),
    "Request": obj({
        "id": ID, "type": {"type": "string", "enum": ["deposit", "withdrawal", "transfer"]},
        "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
        "currency": CURRENCY, "amount": MONEY, "fee": MONEY, "wallet_id": ID,
        "to_wallet_id": nullable(ID),
        "failure_code": nullable({"type": "string", "enum": FAILURE_CODES}),
        "failure_detail": nullable({"type": "string"}), "created_at": TIME,
        "completed_at": nullable(TIME)}, description="An asynchronous money movement."),
    "Notification": obj({"id": ID, "type": {"type": "string", "description": NOTIFICATION_TYPES},
                         "title": {"type": "string"}, "body": {"type": "string"},
                         "read": {"type": "boolean"}, "request_id": nullable(ID),
                         "created_at": TIME}),
    "WalletList": obj({"items": {"type": "array", "items": ref("Wallet")}},
                      description="The caller's live wallets."),
    "LoginPage": page_of("Login"), "TransactionPage": page_of("Transaction"),
    "RequestPage": page_of("Request"), "NotificationPage": page_of("Notification"),
    "Problem": obj({
        "type": {"type": "string", "format": "uri-reference"}, "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"}, "code": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "items": obj({"field": {"type": "string"},
                                                   "message": {"type": "string"}})}},
        ["type", "title", "status", "detail", "code", "request_id"],
        description="RFC 9457 problem details; `errors` only on validation failures."),
    "SignUp": obj({"email": {"type": "string", "format": "email", "maxLength": 254},
                   "username": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{3,32}$"},
                   "password": {"type": "string", "minLength": 8, "maxLength": 128}}, closed=True),
    "TokenRequest": obj({"email": {"type": "string"}, "password": {"type": "string"}},
                        closed=True),
    "ProfileUpdate": obj({"username": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{3,32}$"},
                          "password": {"type": "string", "minLength": 8, "maxLength": 128},
                          "current_password": {"type": "string"}}, [], closed=True,
                         description="Changing the password needs the right current_password."),
    "WalletCreate": obj({"currency": CURRENCY}, closed=True),
    "AmountBody": obj({"amount": AMOUNT_IN}, closed=True),
    "TransferCreate": obj({"from_wallet_id": {**ID, "description": "One of the caller's wallets."},
                           "to_wallet_id": {**ID, "description": "Any live wallet, same currency."},
                           "amount": AMOUNT_IN}, closed=True),
    "Health": obj({"status": {"type": "string", "enum": ["ok"]}}),
    "Readiness": obj({name: {"type": "string", "enum": ["ok", "error"]}
                      for name in ("database", "redis", "broker")}),
}

# -- examples ---------------------------------------------------------------------------
T0, T1 = "2024-05-01T12:00:00.000000Z", "2024-05-01T12:00:01.250000Z"
USER = {"id": 7, "email": "ada@example.com", "username": "ada", "created_at": T0,
        "updated_at": T0}
WALLET = {"id": 12, "currency": "USD", "balance": "99.50", "version": 1, "created_at": T0,
          "updated_at": T1}
REQUEST = {"id": 345, "type": "deposit", "status": "pending", "currency": "USD",
           "amount": "100.00", "fee": "0.50", "wallet_id": 12, "to_wallet_id": None,
           "failure_code": None, "failure_detail": None, "created_at": T0, "completed_at": None}
DONE = {**REQUEST, "status": "succeeded", "completed_at": T1}
TRANSACTION = {"id": 901, "request_id": 345, "type": "deposit", "amount": "99.50",
               "fee": "0.50", "balance_after": "99.50", "counterparty_wallet_id": None,
               "created_at": T1}
NOTE = {"id": 55, "type": "deposit_succeeded", "title": "Deposit of 100.00 USD succeeded",
        "body": "Deposit of 100.00 USD succeeded.", "read": False, "request_id": 345,
        "created_at": T1}
LOGIN = {"id": 3, "ip_address": "203.0.113.9", "user_agent": "curl/8.5.0", "success": True,
         "created_at": T0}
FIELD_ERRORS = {"invalid_amount": ("amount", "USD allows at most 2 decimal places"),
                "unsupported_currency": ("currency", "unsupported currency"),
                "unknown_field": ("colour", "unknown field"),
                "validation_error": ("username", "must be 3 to 32 of A-Z a-z 0-9 _ . -"),
                "same_wallet": ("to_wallet_id", "must differ from from_wallet_id"),
                "currency_mismatch": ("to_wallet_id", "currency differs")}
CURSOR = "eyJzIjoicmVxdWVzdHMiLCJpZCI6MzQ1fQ.q2f"


def problem_example(status: int, code: str) -> Schema:
    title = TITLES[(status, code)]
    value = {"type": f"urn:wallet:problem:{code}", "title": title, "status": status,
             "detail": title + ".", "code": code, "request_id": "4f1c2b7e9d0a4c6b8e1f2a3b4c5d6e7f"}
    if code in FIELD_ERRORS:
        value["errors"] = [dict(zip(("field", "message"), FIELD_ERRORS[code]))]
    return {"summary": code, "value": value}


# -- response and parameter helpers -----------------------------------------------------
def header(name: str) -> Schema:
    return {name: ref(name, "headers")}


def problem(status: int, *codes: str, description: str | None = None,
            headers: tuple[str, ...] = ()) -> Schema:
    """A problem+json response listing its possible codes, one example each."""
    return {"description": description or "Problem codes: " + ", ".join(f"`{c}`" for c in codes),
            "headers": {k: v for h in ("X-Request-Id", *headers) for k, v in header(h).items()},
            "content": {PROBLEM_JSON: {"schema": ref("Problem"), "examples": {
                c: problem_example(status, c) for c in codes}}}}


def success(description: str, schema: Schema | None = None, example: Any = None, *,
            headers: tuple[str, ...] = (), media: str = JSON) -> Schema:
    response: Schema = {"description": description, "headers": {
        k: v for h in ("X-Request-Id", *headers) for k, v in header(h).items()}}
    if schema is not None:
        response["content"] = {media: {"schema": schema, "examples": {
            "example": {"value": example}}} if example is not None else {"schema": schema}}
    return response


def param(name: str, where: str, schema: Schema, description: str, *,
          required: bool = False) -> Schema:
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema, "description": description}


def path_id(name: str, what: str) -> Schema:
    return param(name, "path", ID, f"The {what}'s id; anything else is a 404.")


HEADERS: dict[str, Schema] = {
    "X-Request-Id": {"description": "The caller's X-Request-Id if it was sane "
                     "(1-64 of [A-Za-z0-9._:-]), else a fresh one.", "schema": {"type": "string"}},
    "Location": {"description": "Where the created or accepted resource lives.",
                 "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "`true` when this answer replays an earlier call "
                            "with the same Idempotency-Key; absent otherwise.",
                            "schema": {"type": "string", "enum": ["true"]}},
    "Retry-After": {"description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer", "minimum": 0}},
    "Allow": {"description": "The methods this path takes.", "schema": {"type": "string"}},
    "Cache-Control": {"description": "`no-store`: tokens are never cached.",
                      "schema": {"type": "string"}},
}
PARAMETERS: dict[str, Schema] = {
    "XRequestId": param("X-Request-Id", "header", {"type": "string"},
                        "Optional correlation id, echoed back when 1-64 of [A-Za-z0-9._:-]."),
    "IdempotencyKey": param("Idempotency-Key", "header", {
        "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
        "1 to 255 visible ASCII characters, unique per user and intended operation.",
        required=True),
    "Limit": param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100,
                                      "default": 20}, "Page size (1 to 100)."),
    "Cursor": param("cursor", "query", {"type": "string"},
                    "The `next_cursor` of the previous page; opaque."),
}
RESPONSES: dict[str, Schema] = {
    "Unauthorized": problem(401, "unauthorized", description="Missing, malformed, expired or "
                            "forged token, or a deleted user (`unauthorized`)."),
    "NotFound": problem(404, "not_found", description="No route for this path (`not_found`)."),
    "MethodNotAllowed": problem(405, "method_not_allowed", headers=("Allow",), description=
                                "Another method than the documented ones (`method_not_allowed`)."),
    "PayloadTooLarge": problem(413, "payload_too_large",
                               description="The body is over 64 KiB (`payload_too_large`)."),
    "UnsupportedMediaType": problem(415, "unsupported_media_type", description=
                                    "The body is not sent as application/json "
                                    "(`unsupported_media_type`)."),
    "InternalError": problem(500, "internal_error", description="An unexpected failure "
                             "(`internal_error`); quote the request id."),
    "ServiceUnavailable": problem(503, "service_unavailable", headers=("Retry-After",),
                                  description="The database is unreachable; nothing was done "
                                  "(`service_unavailable`)."),
}


def operation(op_id: str, summary: str, tag: str, ok: dict[str, Schema], *,
              body: tuple[str, Any] | None = None, params: tuple[Schema, ...] = (),
              auth: bool = True, idempotent: bool = False, paged: bool = False,
              store: bool = True, errors: dict[int, tuple[str, ...]] | None = None,
              description: str | None = None) -> Schema:
    """One operation: its own parts plus the error responses its kind implies."""
    codes: dict[int, list[str]] = {s: list(c) for s, c in (errors or {}).items()}

    def add(status: int, *more: str) -> None:
        codes.setdefault(status, []).extend(c for c in more if c not in codes.get(status, []))

    refs = {"404": "NotFound", "405": "MethodNotAllowed", "500": "InternalError"}
    parameters = [ref("XRequestId", "parameters"), *params]
    op: Schema = {"operationId": op_id, "summary": summary, "tags": [tag]}
    if body:
        name, example = body
        op["requestBody"] = {"required": True, "content": {JSON: {
            "schema": ref(name), "examples": {"example": {"value": example}}}}}
        add(400, "invalid_json")
        add(422, "unknown_field")
        refs.update({"413": "PayloadTooLarge", "415": "UnsupportedMediaType"})
    if idempotent:
        parameters.insert(0, ref("IdempotencyKey", "parameters"))
        add(400, "idempotency_key_required", "invalid_idempotency_key")
        add(422, "idempotency_key_reused")
    if paged:
        parameters += [ref("Limit", "parameters"), ref("Cursor", "parameters")]
        add(400, "invalid_cursor")
        add(422, "validation_error")
    if auth:
        refs["401"] = "Unauthorized"
    else:
        op["security"] = []
    if store:
        refs["503"] = "ServiceUnavailable"
    responses: dict[str, Schema] = dict(ok)
    responses.update({str(s): problem(s, *c, headers=("Retry-After",) if s == 429 else ())
                      for s, c in codes.items()})
    responses.update({s: ref(name, "responses") for s, name in refs.items()
                      if s not in responses})
    op["parameters"] = parameters
    op["responses"] = dict(sorted(responses.items()))
    if description:
        op["description"] = description
    return op


# -- the paths --------------------------------------------------------------------------
def paths() -> dict[str, Schema]:
    wallet_id, request_id = path_id("wallet_id", "wallet"), path_id("request_id", "request")
    accepted = {"202": success("Accepted: the pending request, durably recorded.", ref("Request"),
                               REQUEST, headers=("Location", "Idempotent-Replayed"))}
    money_errors = {404: ("wallet_not_found",), 422: ("invalid_amount",)}
    no_content = {"204": success("Done; no body.")}
    return {
        "/v1/users": {"post": operation(
            "sign_up", "Create a user", "users", {"201": success(
                "The new user.", ref("User"), USER, headers=("Location",))},
            body=("SignUp", {"email": "ada@example.com", "username": "ada",
                             "password": "correct horse battery"}),
            auth=False, errors={409: ("email_taken", "username_taken"), 422: ("validation_error",),
                                429: ("too_many_attempts",)},
            description="Emails are compared in lower case; a deleted user's email and username "
                        "may be taken again. Sign-ups are limited per client address "
                        "(SIGNUP_MAX_PER_IP within SIGNUP_WINDOW_S): 429 `too_many_attempts`.")},
        "/v1/auth/token": {"post": operation(
            "issue_token", "Log in: exchange email and password for a token", "auth",
            {"200": success("An access token.", ref("Token"), {
                "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3In0.sig",
                "token_type": "Bearer", "expires_in": 3600}, headers=("Cache-Control",))},
            body=("TokenRequest", {"email": "ada@example.com",
                                   "password": "correct horse battery"}),
            auth=False, errors={401: ("invalid_credentials",), 422: ("validation_error",),
                                429: ("too_many_attempts",)},
            description="Every attempt is recorded, a throttled one too. Failures are counted "
                        "per email and client address (default 5), per address (default 100) "
                        "and per email from anywhere (default 1000) within LOGIN_WINDOW_S "
                        "(default 15 minutes); while a limit holds, even the right password "
                        "gets 429 `too_many_attempts` with Retry-After.")},
        "/v1/auth/logout": {"post": operation(
            "log_out", "Log out: end every token issued so far", "auth", no_content,
            description="Every token of the caller issued before this call gets 401 "
                        "afterwards; a token issued after it works, even within the same "
                        "second.")},
        "/v1/me": {
            "get": operation("get_me", "The caller's profile", "users",
                             {"200": success("The caller.", ref("User"), USER)}),
            "patch": operation("update_me", "Change username and/or password", "users",
                               {"200": success("The updated user.", ref("User"), USER)},
                               body=("ProfileUpdate", {
                                   "password": "a new long password",
                                   "current_password": "correct horse battery"}),
                               errors={403: ("invalid_credentials",), 409: ("username_taken",),
                                       422: ("validation_error",), 429: ("too_many_attempts",)},
                               description="Only the fields sent change. A `current_password` "
                                           "sent is checked (and counted against the login "
                                           "limits of the caller's email); a password change "
                                           "needs it, and ends every token issued before it, "
                                           "this one included: log in again."),
            "delete": operation("delete_me", "Delete the caller (soft delete)", "users",
                                no_content, errors={409: ("wallet_not_empty",)}),
        },
        "/v1/me/logins": {"get": operation(
            "list_logins", "The caller's login attempts", "users",
            {"200": success("A page of login attempts.", ref("LoginPage"),
                            {"items": [LOGIN], "next_cursor": None})}, paged=True)},
        "/v1/wallets": {
            "post": operation("create_wallet", "Open a wallet in a currency", "wallets",
                              {"201": success("The new wallet.", ref("Wallet"),
                                              {**WALLET, "balance": "0.00", "version": 0,
                                               "updated_at": T0},
                                              headers=("Location", "Idempotent-Replayed"))},
                              body=("WalletCreate", {"currency": "USD"}), idempotent=True,
                              errors={409: ("wallet_exists",), 422: ("unsupported_currency",)}),
            "get": operation("list_wallets", "The caller's live wallets", "wallets",
                             {"200": success("All live wallets.", ref("WalletList"),
                                             {"items": [WALLET]})}),
        },
        "/v1/wallets/{wallet_id}": {
            "get": operation("get_wallet", "One of the caller's wallets", "wallets",
                             {"200": success("The wallet.", ref("Wallet"), WALLET)},
                             params=(wallet_id,), errors={404: ("wallet_not_found",)}),
            "delete": operation("delete_wallet", "Close an empty wallet (soft delete)",
                                "wallets", no_content, params=(wallet_id,),
                                errors={404: ("wallet_not_found",), 409: ("wallet_not_empty",)}),
        },
        "/v1/wallets/{wallet_id}/transactions": {"get": operation(
            "list_wallet_transactions", "The wallet's ledger entries", "wallets",
            {"200": success("A page of transactions.", ref("TransactionPage"),
                            {"items": [TRANSACTION], "next_cursor": CURSOR})},
            params=(wallet_id,), paged=True, errors={404: ("wallet_not_found",)})},
        "/v1/wallets/{wallet_id}/deposits": {"post": operation(
            "create_deposit", "Deposit money into a wallet", "money", accepted,
            body=("AmountBody", {"amount": "100.00"}), params=(wallet_id,), idempotent=True,
            errors=money_errors, description="The fee (by default 50 bp, rounded half up in minor "
                                             "units) is paid from the moved amount.")},
        "/v1/wallets/{wallet_id}/withdrawals": {"post": operation(
            "create_withdrawal", "Withdraw money from a wallet", "money", accepted,
            body=("AmountBody", {"amount": "25.00"}), params=(wallet_id,), idempotent=True,
            errors=money_errors)},
        "/v1/transfers": {"post": operation(
            "create_transfer", "Transfer money to another wallet", "money", accepted,
            body=("TransferCreate", {"from_wallet_id": 12, "to_wallet_id": 13, "amount": "10.00"}),
            idempotent=True, errors={404: ("wallet_not_found",), 422: (
                "currency_mismatch", "same_wallet", "invalid_amount", "validation_error")},
            description="The sender's wallet must be the caller's; the recipient's may be "
                        "anyone's live wallet in the same currency.")},
        "/v1/requests/{request_id}": {"get": operation(
            "get_request", "One of the caller's requests", "requests",
            {"200": success("The request. A poll that asked to wait but found no place to "
                            "wait (too many polls at once) answers at once with the request "
                            "as it stands and `Retry-After`.", ref("Request"), DONE,
                            headers=("Retry-After",))},
            params=(request_id, param("wait", "query", {"type": "integer", "minimum": 0,
                                                        "maximum": 30, "default": 0},
                                      "Seconds to wait for the request to leave `pending`.")),
            errors={404: ("request_not_found",), 422: ("validation_error",)})},
        "/v1/requests": {"get": operation(
            "list_requests", "The caller's requests", "requests",
            {"200": success("A page of requests.", ref("RequestPage"),
                            {"items": [DONE], "next_cursor": None})},
            params=(param("status", "query", {"type": "string", "enum": [
                "pending", "succeeded", "failed"]}, "Only requests in this status."),),
            paged=True)},
        "/v1/notifications": {"get": operation(
            "list_notifications", "The caller's notifications", "notifications",
            {"200": success("A page of notifications.", ref("NotificationPage"),
                            {"items": [NOTE], "next_cursor": None})},
            params=(param("unread", "query", {"type": "string", "enum": ["true", "false"]},
                          "`true`: only unread ones; `false`: only read ones."),), paged=True)},
        "/v1/notifications/{notification_id}/read": {"post": operation(
            "mark_notification_read", "Mark a notification read", "notifications", no_content,
            params=(path_id("notification_id", "notification"),),
            errors={404: ("notification_not_found",)})},
        "/healthz": {"get": operation(
            "get_healthz", "Liveness", "service", {"200": success(
                "The process runs.", ref("Health"), {"status": "ok"})}, auth=False, store=False)},
        "/readyz": {"get": operation(
            "get_readyz", "Readiness of database, Redis and broker", "service", {
                "200": success("All three answer.", ref("Readiness"),
                               {"database": "ok", "redis": "ok", "broker": "ok"}),
                "503": success("At least one does not.", ref("Readiness"),
                               {"database": "ok", "redis": "error", "broker": "ok"})},
            auth=False, store=False)},
        "/openapi.json": {"get": operation(
            "get_openapi", "This OpenAPI 3.1 document", "service",
            {"200": success("The document.", {"type": "object"},
                            {"openapi": "3.1.0", "info": {"title": "Wallet service API"}})},
            auth=False, store=False)},
        "/docs": {"get": operation(
            "get_docs", "Readable API documentation (works offline)", "service",
            {"200": success("An HTML page.", {"type": "string"}, "<!doctype html><title>Wallet "
                            "service API</title>...", media="text/html")},
            auth=False, store=False)},
        "/docs/redoc.standalone.js": {"get": operation(
            "get_docs_script", "The Redoc script the /docs page loads", "service",
            {"200": success("JavaScript, from the openapi-ui-bundles package.",
                            {"type": "string"}, "/* redoc */", media="text/javascript")},
            auth=False, store=False)},
        "/metrics": {"get": operation(
            "get_metrics", "Prometheus metrics", "service",
            {"200": success("Prometheus text exposition format.", {"type": "string"},
                            "# TYPE http_requests_total counter\n"
                            'http_requests_total{method="GET",route="/healthz",status="200"} 42\n',
                            media="text/plain")},
            auth=False, store=False)},
    }


TAGS = {"users": "Sign-up and the caller's profile", "auth": "Access tokens and sessions",
        "wallets": "Wallets and their ledgers", "money": "Deposits, withdrawals, transfers",
        "requests": "Money movement requests", "notifications": "The caller's notifications",
        "service": "Health, readiness, documentation and metrics"}


def assemble(*, title: str, description: str, paths_: dict, tags: dict[str, str],
             schemes: dict, headers: dict | None = None) -> dict:
    """An OpenAPI 3.1 document over `paths_` with the shared components."""
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0", "description": description},
        "servers": [{"url": "/"}],
        "tags": [{"name": n, "description": d} for n, d in tags.items()],
        "security": [{name: []} for name in schemes][:1],
        "paths": paths_,
        "components": {"securitySchemes": schemes, "schemas": SCHEMAS,
                       "headers": {**HEADERS, **(headers or {})}, "parameters": PARAMETERS,
                       "responses": RESPONSES},
    }


def build() -> dict:
    """Assemble the public document (fresh every call); the ops page has its own, for
    operators only (see openapi_ops.py)."""
    return assemble(title="Wallet service API", description=DESCRIPTION, paths_=paths(),
                    tags=TAGS, schemes={"bearerAuth": {
                        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                        "description": "An HS256 JWT from POST /v1/auth/token."}})


def document() -> dict:
    """The OpenAPI document, built on first use and cached for the process."""
    global _document
    if _document is None:
        _document = build()
    return _document
