"""The public OpenAPI 3.1 document of the wallet service, served at /openapi.json.

It follows the HTTP contract (API.md) and the code; its parts (schemas, problems,
examples, helpers) are in `parts`. It is mostly data, built once per process. The ops
page has a document of its own, for operators only (see `ops`).
"""
from models import STATUSES
from web.openapi import events, history, two_phase
from web.openapi.accepted import WAIT
from web.openapi.links import with_links
from web.openapi.parts import (
    CURSOR,
    DONE,
    LOGIN,
    NOTE,
    REQUEST,
    T0,
    TRANSACTION,
    USER,
    WALLET,
    Schema,
    assemble,
    operation,
    param,
    path_id,
    ref,
    success,
)

_document: dict | None = None

DESCRIPTION = """The wallet service's HTTP API, version 1.

* **JSON** in and out (UTF-8). Bodies are one JSON object of at most 64 KiB sent as
  `application/json`; repeated keys, and a string holding a lone surrogate escape
  (`\\ud800` without its pair: no UTF-8 text holds one), are `invalid_json`, unknown
  fields `unknown_field`. Types are strict: ids are JSON integers written as such (`7`,
  never `7.0` or `"7"`), booleans are never numbers, and a string is never a number (`1.5`
  is not `"1.5"`).
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
            params=(wallet_id, *history.ENTRY_FILTERS), paged=True,
            errors={404: ("wallet_not_found",)}, description=history.FILTERS_NOTE)},
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
            "get_request", "One of the caller's requests, or one it received", "requests",
            {"200": success("The request. A poll that asked to wait but found no place to "
                            "wait (too many polls at once) answers at once with the request "
                            "as it stands and `Retry-After`.", ref("Request"), DONE,
                            headers=("Retry-After",))},
            params=(request_id, param("wait", "query", WAIT,
                                      "Seconds to wait for the request to leave `pending`.")),
            errors={404: ("request_not_found",), 422: ("validation_error",)})},
        "/v1/requests": {"get": operation(
            "list_requests", "The caller's requests", "requests",
            {"200": success("A page of requests.", ref("RequestPage"),
                            {"items": [DONE], "next_cursor": None})},
            params=history.request_filters(param(
                "status", "query", {"type": "string", "enum": list(STATUSES)},
                "Only requests in this status.")),
            paged=True, errors={404: ("wallet_not_found",)}, description=history.FILTERS_NOTE)},
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
                "200": success("The database and the broker are usable (Redis is only "
                               "an accelerator: without it the process still serves).",
                               ref("Readiness"),
                               {"database": "ok", "redis": "error", "broker": "ok"}),
                "503": success("The database (or, on Galera, this node is not synced in "
                               "the primary component) or the broker is not usable: send "
                               "this process no traffic.", ref("Readiness"),
                               {"database": "error", "redis": "ok", "broker": "ok"})},
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
        "wallets": "Wallets and their ledgers, balances held and available",
        "money": "Deposits, withdrawals, transfers",
        "holds": "Two-phase money: hold, capture, void; expiry by the service",
        "requests": "Money movement requests, and their refunds",
        "notifications": "The caller's notifications",
        "events": "Events: the feed, and webhooks that deliver them signed",
        "service": "Health, readiness, documentation and metrics"}


def build() -> dict:
    """Assemble the public document (fresh every call); the ops page has its own, for
    operators only (see web/openapi/ops.py)."""
    return assemble(title="Wallet service API", description=DESCRIPTION,
                    paths_=with_links({**paths(), **history.paths(), **two_phase.paths(),
                                       **events.paths()}),
                    tags=TAGS, schemas={**two_phase.SCHEMAS, **events.SCHEMAS,
                                        **history.SCHEMAS}, headers=history.HEADERS,
                    schemes={"bearerAuth": {
                        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                        "description": "An HS256 JWT from POST /v1/auth/token."}})


def document() -> dict:
    """The OpenAPI document, built on first use and cached for the process."""
    global _document
    if _document is None:
        _document = build()
    return _document
