"""The parts both OpenAPI documents are built from: schema and response helpers, the
resources' schemas (after web/views.py), problem codes and titles (from web/problems.py),
examples, and `assemble`, which puts a document together.
"""
from typing import Any

from models import STATUSES
from web.openapi.accepted import AMOUNT_IN, CURRENCY_IN, DETAILS_IN, PAGE_CURSOR, PASSWORD
from web.problems import INTERNAL, PROBLEMS

Schema = dict[str, Any]
JSON, PROBLEM_JSON = "application/json", "application/problem+json"
TITLES: dict[tuple[int, str], str] = {(s, c): t for s, c, t in [*PROBLEMS.values(), INTERNAL]}


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
                "next_cursor": nullable({**PAGE_CURSOR, "description":
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
FAILURE_CODES = ["insufficient_funds", "wallet_not_found", "wallet_closed", "retries_exhausted",
                 "exceeds_hold", "hold_not_active", "refund_exceeds_original"]
REQUEST_TYPES = ["deposit", "withdrawal", "transfer", "hold", "capture", "void", "refund"]
NOTIFICATION_TYPES = ("wallet_created; {type}_succeeded and {type}_failed for every request "
                      "type (to its maker); transfer_received, refund_received, hold_received "
                      "(a hold placed for the caller's wallet), hold_captured and hold_voided "
                      "(to a hold's payer), hold_expired (to both parties).")
METADATA: Schema = {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "The request's metadata; {} when none."}

SCHEMAS: dict[str, Schema] = {
    "User": obj({"id": ID, "email": {"type": "string", "format": "email"},
                 "username": {"type": "string"}, "created_at": TIME, "updated_at": TIME}),
    "Token": obj({"access_token": {"type": "string", "description": "An HS256 JWT."},
                  "token_type": {"type": "string", "enum": ["Bearer"]},
                  "expires_in": {"type": "integer", "minimum": 1, "description": "Seconds."}}),
    "Login": obj({"id": ID, "ip_address": {"type": "string"}, "user_agent": {"type": "string"},
                  "success": {"type": "boolean"}, "created_at": TIME}),
    "Wallet": obj({"id": ID, "currency": CURRENCY,
                   "balance": {**MONEY, "description": "The ledger balance: the sum of the "
                                                       "wallet's entries."},
                   "held_balance": {**MONEY, "description": "What active holds still reserve."},
                   "available_balance": {**MONEY, "description": "balance - held_balance: what "
                                         "withdrawals, transfers, refunds and holds may use."},
                   "version": {"type": "integer", "minimum": 0}, "created_at": TIME,
                   "updated_at": TIME}),
    "Transaction": obj({
        "id": ID, "request_id": ID,
        "type": {"type": "string",
                 "enum": ["deposit", "withdrawal", "transfer_out", "transfer_in", "refund_out",
                          "refund_in"]},
        "amount": {**SIGNED_MONEY, "description": "Signed and net of fees: a wallet's balance "
                                                  "is the sum of its entries' amounts."},
        "fee": MONEY, "balance_after": MONEY, "counterparty_wallet_id": nullable(ID),
        "created_at": TIME,
        "description": {**nullable({"type": "string"}), "description": "Its request's "
                        "description (both sides of a transfer show the sender's)."}},
        description="One ledger entry of a wallet."),
    "Request": obj({
        "id": ID, "type": {"type": "string", "enum": REQUEST_TYPES},
        "status": {"type": "string", "enum": list(STATUSES)},
        "currency": CURRENCY, "amount": MONEY, "fee": MONEY, "wallet_id": ID,
        "to_wallet_id": nullable(ID),
        "hold_id": {**nullable(ID), "description": "The hold of a hold, capture or void."},
        "refund_of": {**nullable(ID), "description": "The request a refund gives back."},
        "refunded": {**nullable(MONEY), "description": "A transfer's, or a capture's with a "
                     "recipient: the total refunded so far; null for the other types."},
        "description": nullable({"type": "string"}), "metadata": METADATA,
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
                   "password": PASSWORD}, closed=True),
    "TokenRequest": obj({"email": {"type": "string"}, "password": {"type": "string"}},
                        closed=True),
    "ProfileUpdate": obj({"username": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{3,32}$"},
                          "password": PASSWORD,
                          "current_password": {"type": "string"}}, [], closed=True,
                         description="Changing the password needs the right current_password."),
    "WalletCreate": obj({"currency": CURRENCY_IN}, closed=True),
    "AmountBody": obj({"amount": AMOUNT_IN, **DETAILS_IN}, ["amount"], closed=True),
    "TransferCreate": obj({"from_wallet_id": {**ID, "description": "One of the caller's wallets."},
                           "to_wallet_id": {**ID, "description": "Any live wallet, same currency."},
                           "amount": AMOUNT_IN, **DETAILS_IN},
                          ["from_wallet_id", "to_wallet_id", "amount"], closed=True),
    "Health": obj({"status": {"type": "string", "enum": ["ok"]}}),
    "Readiness": obj({name: {"type": "string", "enum": ["ok", "error"]}
                      for name in ("database", "redis", "broker")}),
}

# -- examples ---------------------------------------------------------------------------
T0, T1 = "2024-05-01T12:00:00.000000Z", "2024-05-01T12:00:01.250000Z"
USER = {"id": 7, "email": "ada@example.com", "username": "ada", "created_at": T0,
        "updated_at": T0}
WALLET = {"id": 12, "currency": "USD", "balance": "99.50", "held_balance": "0.00",
          "available_balance": "99.50", "version": 1, "created_at": T0, "updated_at": T1}
REQUEST = {"id": 345, "type": "deposit", "status": "pending", "currency": "USD",
           "amount": "100.00", "fee": "0.50", "wallet_id": 12, "to_wallet_id": None,
           "hold_id": None, "refund_of": None, "refunded": None, "description": None,
           "metadata": {}, "failure_code": None, "failure_detail": None, "created_at": T0,
           "completed_at": None}
DONE = {**REQUEST, "status": "succeeded", "completed_at": T1}
TRANSACTION = {"id": 901, "request_id": 345, "type": "deposit", "amount": "99.50",
               "fee": "0.50", "balance_after": "99.50", "counterparty_wallet_id": None,
               "created_at": T1, "description": None}
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
                "currency_mismatch": ("to_wallet_id", "currency differs"),
                "exceeds_hold": ("amount", "exceeds what the hold still reserves"),
                "refund_exceeds_original": ("amount", "exceeds what is left to refund")}
CURSOR = "AAAAAAAAA4WfOsHSfksI9abD4dA"  # after entry 901, with its MAC


def problem_example(status: int, code: str) -> Schema:
    title = TITLES[(status, code)]
    value = {"type": f"urn:wallet:problem:{code}", "title": title, "status": status,
             "detail": title + ".", "code": code, "request_id": "4f1c2b7e9d0a4c6b8e1f2a3b4c5d6e7f"}
    if code in FIELD_ERRORS:
        value["errors"] = [dict(zip(("field", "message"), FIELD_ERRORS[code], strict=True))]
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
    "Cursor": param("cursor", "query", PAGE_CURSOR,
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


def assemble(*, title: str, description: str, paths_: dict, tags: dict[str, str],
             schemes: dict, headers: dict | None = None, schemas: dict | None = None) -> dict:
    """An OpenAPI 3.1 document over `paths_` with the shared components."""
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0", "description": description},
        "servers": [{"url": "/"}],
        "tags": [{"name": n, "description": d} for n, d in tags.items()],
        "security": [{name: []} for name in schemes][:1],
        "paths": paths_,
        "components": {"securitySchemes": schemes, "schemas": {**SCHEMAS, **(schemas or {})},
                       "headers": {**HEADERS, **(headers or {})}, "parameters": PARAMETERS,
                       "responses": RESPONSES},
    }
