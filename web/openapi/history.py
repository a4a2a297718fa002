"""The public document's history (API.md 1.1, "Metadata, filters, statements, balance at a
time"): the filters of the request list and of a wallet's transactions, the balance at a
moment and statements (JSON, or CSV streamed), joined to the rest by web/openapi/public.py.
"""
from payments.details import MAX_METADATA_VALUE_CHARS
from web.filters import ENTRY_TYPES, MAX_STATEMENT_DAYS, REQUEST_TYPES
from web.openapi.parts import (
    CURRENCY,
    ID,
    MONEY,
    SIGNED_MONEY,
    T0,
    T1,
    TIME,
    TRANSACTION,
    Schema,
    obj,
    operation,
    param,
    path_id,
    ref,
)

MOMENT: Schema = {**TIME, "description": "RFC 3339 with `Z` or an offset (`2024-05-01T12:00:00Z`, "
                  "`2024-05-01T14:00:00+02:00`); finer than microseconds is rounded."}
SCHEMAS: dict[str, Schema] = {
    "BalanceAt": obj({"wallet_id": ID, "currency": CURRENCY,
                      "at": {**TIME, "description": "The moment asked for, in UTC."},
                      "balance": {**MONEY, "description": "The ledger balance after every "
                                  "entry created at or before `at`; 0 before the first."}},
                     description="A wallet's ledger balance at a moment."),
    "Statement": obj({
        "wallet_id": ID, "currency": CURRENCY, "from": TIME, "to": TIME,
        "opening_balance": {**MONEY, "description": "The balance just before `from`."},
        "closing_balance": {**MONEY, "description": "`opening_balance` + the sum of the "
                            "entries' amounts: the balance just before `to`."},
        "entries": {"type": "array", "items": ref("Transaction"),
                    "description": "Every entry created in [from, to), oldest first."}},
        description="A wallet's statement over a period."),
}
STATEMENT_CSV = ("id,created_at,type,amount,fee,balance_after,request_id,"
                 "counterparty_wallet_id,description\r\n"
                 "901,2024-05-01T12:00:01.250000Z,deposit,99.50,0.50,99.50,345,,salary\r\n")
MONEY_HEADER = {"schema": SIGNED_MONEY}
HEADERS: dict[str, Schema] = {
    "Statement-Opening-Balance": {**MONEY_HEADER, "description":
                                  "The CSV statement's opening balance."},
    "Statement-Closing-Balance": {**MONEY_HEADER, "description": "The CSV statement's "
                                  "closing balance: the opening plus the rows' amounts."},
    "Content-Disposition": {"schema": {"type": "string"}, "description":
                            "`attachment; filename=\"statement-<wallet>-<from>-<to>.csv\"`."},
}


def _moment(name: str, description: str, *, required: bool = False) -> Schema:
    return param(name, "query", MOMENT, description, required=required)


CREATED_FILTERS = (_moment("created_from", "Only those created at or after this moment."),
                   _moment("created_to", "Only those created before this moment."))
METADATA_FILTER: Schema = {
    **param("metadata", "query", {
        "type": "object", "maxProperties": 1,
        "propertyNames": {"pattern": "^[A-Za-z0-9_.-]{1,40}$"},
        "additionalProperties": {"type": "string", "maxLength": MAX_METADATA_VALUE_CHARS}},
        "`metadata[KEY]=VALUE`: only requests whose metadata has KEY with exactly VALUE "
        "(byte for byte; `metadata[KEY]=` matches an empty value). At most one per call."),
    "style": "deepObject", "explode": True}


def request_filters(status: Schema) -> tuple[Schema, ...]:
    """The parameters of `GET /v1/requests` (`status` as the list had it)."""
    return (status, param("type", "query", {"type": "string", "enum": list(REQUEST_TYPES)},
                          "Only requests of this type."),
            param("wallet_id", "query", ID, "Only requests naming this wallet of the caller's "
                  "(open or closed) as `wallet_id` or `to_wallet_id`; another's is 404 "
                  "`wallet_not_found`."),
            *CREATED_FILTERS, METADATA_FILTER)


ENTRY_FILTERS = (param("type", "query", {"type": "string", "enum": list(ENTRY_TYPES)},
                       "Only entries of this type."), *CREATED_FILTERS)
FILTERS_NOTE = ("Filters combine (all must hold) and page with the cursor like the whole "
                "list; a cursor pages only the list, filters included, that issued it. "
                "Unknown or repeated parameters: 422 `validation_error`.")


def paths() -> dict[str, Schema]:
    wallet_id = path_id("wallet_id", "wallet")
    not_found = {404: ("wallet_not_found",), 422: ("validation_error",)}
    statement_ok = {"description": "The statement: JSON (the default), or CSV when asked for "
                    "with `Accept: text/csv` or `?format=csv`, streamed.",
                    "headers": {h: ref(h, "headers") for h in (
                        "X-Request-Id", "Statement-Opening-Balance", "Statement-Closing-Balance",
                        "Content-Disposition")},
                    "content": {
                        "application/json": {"schema": ref("Statement"), "examples": {
                            "example": {"value": {
                                "wallet_id": 12, "currency": "USD", "from": T0,
                                "to": "2024-06-01T00:00:00.000000Z",
                                "opening_balance": "0.00", "closing_balance": "99.50",
                                "entries": [{**TRANSACTION, "description": "salary"}]}}}},
                        "text/csv": {"schema": {"type": "string"},
                                     "examples": {"example": {"value": STATEMENT_CSV}}}}}
    return {
        "/v1/wallets/{wallet_id}/balance": {"get": operation(
            "get_wallet_balance_at", "The wallet's balance at a moment", "wallets",
            {"200": {"description": "The ledger balance at `at`.",
                     "headers": {"X-Request-Id": ref("X-Request-Id", "headers")},
                     "content": {"application/json": {"schema": ref("BalanceAt"), "examples": {
                         "example": {"value": {"wallet_id": 12, "currency": "USD", "at": T1,
                                               "balance": "99.50"}}}}}}},
            params=(wallet_id, _moment("at", "The moment (required).", required=True)),
            errors=not_found,
            description="The balance after every entry created at or before `at`: `\"0.00\"` "
                        "before the first, today's balance for a moment in the future. One "
                        "index probe, however long the history. Only the owner's live "
                        "wallet: another's or a closed one is 404.")},
        "/v1/wallets/{wallet_id}/statement": {"get": operation(
            "get_wallet_statement", "The wallet's statement over a period (JSON or CSV)",
            "wallets", {"200": statement_ok},
            params=(wallet_id, _moment("from", "Start of the period, inclusive (required).",
                                       required=True),
                    _moment("to", "End of the period, exclusive (required); after `from`, "
                                  f"at most {MAX_STATEMENT_DAYS} days later.", required=True),
                    param("format", "query", {"type": "string", "enum": ["json", "csv"]},
                          "`csv` for CSV whatever Accept says, `json` for JSON; without "
                          "it, `Accept: text/csv` chooses CSV.")),
            errors=not_found,
            description="Every entry created in [from, to), oldest first, with the balance "
                        "before `from` (opening) and before `to` (closing = opening + the "
                        "sum of the entries' amounts). As CSV (`text/csv; charset=utf-8`): "
                        "the header row `id,created_at,type,amount,fee,balance_after,"
                        "request_id,counterparty_wallet_id,description`, one row per entry "
                        "and no summary rows; the balances are in the headers "
                        "`Statement-Opening-Balance` and `Statement-Closing-Balance`. A "
                        "description starting with `=`, `+`, `-`, `@`, a tab or a carriage "
                        "return gets a leading `'` in the CSV, so no spreadsheet runs it as "
                        "a formula (the JSON shows it as written). Both formats are streamed "
                        "as the entries are read (chunked), so a year of them never sits in "
                        "memory; the balances are computed first, over exactly the entries "
                        "that follow. A missing, malformed or reversed period, or one over "
                        f"{MAX_STATEMENT_DAYS} days: 422 `validation_error`. Only the owner's "
                        "live wallet: another's or a closed one is 404.")},
    }
