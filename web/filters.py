"""The query parameters of history: moments (RFC 3339), the filters of the request list and
of a wallet's entries, a statement's period and format. Each parser checks and refuses
with a 422 `validation_error` naming the parameter; none reaches past the edge but to ask
whether a wallet is the caller's.
"""
import re
from datetime import datetime, timedelta

import bottle

from accounts import wallets
from errors import WalletNotFound
from ledger.history import EntryFilters
from models import STATUSES, User
from payments.details import MAX_METADATA_VALUE_CHARS, METADATA_KEY
from payments.history import RequestFilters
from web.http import check_query
from web.inputs import field_error, query_choice
from web.pages import PAGE_PARAMS

# RFC 3339 date-time: a date, `T` (or `t`), a time with an optional fraction, and `Z` (or
# `z`) or an offset; nothing else (no week dates, no missing offset, no space for the `T`).
RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,30}))?"
                     r"(?:[Zz]|([+-])(\d{2}):(\d{2}))", re.ASCII)
REQUEST_TYPES = ("deposit", "withdrawal", "transfer", "hold", "capture", "void", "refund")
ENTRY_TYPES = ("deposit", "withdrawal", "transfer_out", "transfer_in", "refund_out", "refund_in")
REQUEST_PARAMS = PAGE_PARAMS | {"status", "type", "wallet_id", "created_from", "created_to"}
ENTRY_PARAMS = PAGE_PARAMS | {"type", "created_from", "created_to"}
ID_TEXT, MAX_ID = re.compile(r"[0-9]{1,19}", re.ASCII), 2**63 - 1
METADATA_PARAM = re.compile(r"metadata\[(.*)\]", re.ASCII | re.DOTALL)
MAX_STATEMENT_DAYS = 366
TEXT_CSV, APPLICATION_JSON = "text/csv", "application/json"


def parse_moment(name: str, raw: str, *, round_up: bool = False) -> datetime:
    """An RFC 3339 date-time as naive UTC (how the columns hold time), to the microsecond.
    A leap second (`:60`) is the first moment of the next minute; a moment that an offset
    takes past year 1 or 9999 is the first or last moment there is.

    Parameters:
      round_up: a finer fraction rounds up (for bounds of a period, which are compared to
        microsecond timestamps), else it is cut (for "at or before").

    Raises:
      ValidationError: naming `name`, for anything else.
    """
    match = RFC3339.fullmatch(raw)
    if match is None:
        raise field_error(name, "must be an RFC 3339 date-time, such as 2024-05-01T12:00:00Z")
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    fraction = fraction or ""
    leap = second == "60"
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute),
                          59 if leap else int(second), int((fraction + "000000")[:6]))
        offset = timedelta(hours=int(off_h), minutes=int(off_m)) if sign else timedelta(0)
    except ValueError:
        raise field_error(name, "is not a valid date-time") from None
    if sign and (int(off_h) > 23 or int(off_m) > 59):
        raise field_error(name, "has an offset outside -23:59 to +23:59")
    extra = timedelta(seconds=1 if leap else 0,
                      microseconds=1 if round_up and fraction[6:].strip("0") else 0)
    if leap:
        extra -= timedelta(microseconds=moment.microsecond)
    try:
        return moment + extra - (offset if sign == "+" else -offset)
    except OverflowError:
        return datetime.min if sign == "+" else datetime.max


def _moment(name: str, *, round_up: bool = False, required: bool = False) -> datetime | None:
    raw = bottle.request.query.get(name)
    if raw is None:
        if required:
            raise field_error(name, "is required (an RFC 3339 date-time)")
        return None
    return parse_moment(name, raw, round_up=round_up)


def _metadata_filter() -> tuple[str, str] | None:
    """The one `metadata[KEY]=VALUE` of the query, if any."""
    found = [(name, match.group(1)) for name in bottle.request.query.keys()
             if (match := METADATA_PARAM.fullmatch(name))]
    if not found:
        return None
    if len(found) > 1:
        raise field_error("metadata", "at most one metadata[KEY] filter per call")
    name, key = found[0]
    if not METADATA_KEY.fullmatch(key):
        raise field_error(name[:60], "KEY must be 1 to 40 characters of A-Z, a-z, 0-9, "
                                     "'_', '.' or '-'")
    value = bottle.request.query.getunicode(name)
    if value is None or len(value) > MAX_METADATA_VALUE_CHARS:
        raise field_error(name, f"must be UTF-8 text of at most {MAX_METADATA_VALUE_CHARS} "
                                "characters")
    return key, value


def request_filters(user: User) -> RequestFilters:
    """The filters of `GET /v1/requests`; any other parameter is refused.

    Raises:
      ValidationError: an unknown, repeated or malformed parameter.
      WalletNotFound: `wallet_id` names no wallet of the caller's (a closed one is).
    """
    metadata = _metadata_filter()
    check_query(REQUEST_PARAMS | ({f"metadata[{metadata[0]}]"} if metadata else set()))
    status = query_choice("status", STATUSES)
    kind = query_choice("type", REQUEST_TYPES)
    wallet_id = None
    raw = bottle.request.query.get("wallet_id")
    if raw is not None:
        if not ID_TEXT.fullmatch(raw) or not 0 < int(raw) <= MAX_ID:
            raise field_error("wallet_id", "must be a positive integer id")
        wallet_id = int(raw)
        if not wallets.owned(user, wallet_id):
            raise WalletNotFound(f"No wallet {wallet_id}.")
    return RequestFilters(status=status, type=kind, wallet_id=wallet_id,
                          created_from=_moment("created_from", round_up=True),
                          created_to=_moment("created_to", round_up=True), metadata=metadata)


def entry_filters() -> EntryFilters:
    """The filters of `GET /v1/wallets/{id}/transactions` (its route refuses the rest)."""
    return EntryFilters(type=query_choice("type", ENTRY_TYPES),
                        created_from=_moment("created_from", round_up=True),
                        created_to=_moment("created_to", round_up=True))


def balance_moment() -> datetime:
    """The `?at=` of a balance: required."""
    at = _moment("at", required=True)
    assert at is not None
    return at


def statement_period() -> tuple[datetime, datetime]:
    """The `?from=` (inclusive) and `?to=` (exclusive) of a statement: both required,
    `from` before `to`, at most MAX_STATEMENT_DAYS apart."""
    start = _moment("from", round_up=True, required=True)
    end = _moment("to", round_up=True, required=True)
    assert start is not None and end is not None
    if start >= end:
        raise field_error("to", "must be after from")
    if end - start > timedelta(days=MAX_STATEMENT_DAYS):
        raise field_error("to", f"must be at most {MAX_STATEMENT_DAYS} days after from")
    return start, end


def _accepts_csv(accept: str) -> bool:
    """Whether an Accept header prefers text/csv to JSON (a q of 0 refuses a type)."""
    best: dict[str, float] = {}
    for part in accept.split(","):
        media, *options = [p.strip().lower() for p in part.split(";")]
        q = 1.0
        for option in options:
            if option.startswith("q="):
                try:
                    q = float(option[2:])
                except ValueError:
                    q = 0.0
        best[media] = max(best.get(media, 0.0), q)
    csv_q = best.get(TEXT_CSV, 0.0)
    json_q = max(best.get(APPLICATION_JSON, 0.0), best.get("application/*", 0.0))
    return csv_q > 0 and csv_q >= json_q


def statement_format() -> str:
    """`csv` or `json`: `?format=` when given, else what Accept prefers (JSON by default)."""
    chosen = query_choice("format", ("json", "csv"))
    if chosen is not None:
        return chosen
    return "csv" if _accepts_csv(bottle.request.environ.get("HTTP_ACCEPT", "")) else "json"
