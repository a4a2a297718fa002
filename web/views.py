"""JSON shapes of the API's resources, from model rows. Pure functions. Wallets, requests
and holds have the shapes events carry too: accounts/resources.py."""
from datetime import datetime

from accounts.events import shown as event
from accounts.resources import hold, iso, refunded, request, wallet
from ledger.history import Line, Period
from models import (
    PENDING,
    LoginLog,
    Notification,
    TransactionRequest,
    User,
    Wallet,
)
from money import format_amount

__all__ = ["event", "hold", "iso", "request", "wallet"]  # the shared shapes, as views


def user(row: User) -> dict:
    return {"id": row.id, "email": row.email, "username": row.username,
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


def wallet_as_created(row: Wallet) -> dict:
    """The wallet exactly as the 201 that created it showed it (for idempotent replays)."""
    zero = format_amount(0, row.currency)
    return {"id": row.id, "currency": row.currency, "balance": zero, "held_balance": zero,
            "available_balance": zero, "version": 0, "created_at": iso(row.created_at),
            "updated_at": iso(row.created_at)}


def request_as_accepted(row: TransactionRequest) -> dict:
    """The request exactly as the 202 that accepted it showed it (for idempotent replays)."""
    return {**request(row), "status": PENDING, "refunded": refunded(row, 0),
            "failure_code": None, "failure_detail": None, "completed_at": None}


def transaction(row: Line, currency: str) -> dict:
    """An entry as a Transaction, with its request's description."""
    return {"id": row.id, "request_id": row.request_id, "type": row.type,
            "amount": format_amount(row.amount, currency), "fee": format_amount(row.fee, currency),
            "balance_after": format_amount(row.balance_after, currency),
            "counterparty_wallet_id": row.counterparty_wallet_id, "created_at": iso(row.created_at),
            "description": row.description}


def balance_at(wallet_id: int, currency: str, at: datetime, balance: int) -> dict:
    return {"wallet_id": wallet_id, "currency": currency, "at": iso(at),
            "balance": format_amount(balance, currency)}


def statement_head(wallet_id: int, currency: str, span: Period) -> dict:
    """A statement without its entries (which are streamed after it)."""
    return {"wallet_id": wallet_id, "currency": currency, "from": iso(span.start),
            "to": iso(span.end), "opening_balance": format_amount(span.opening, currency),
            "closing_balance": format_amount(span.closing, currency)}


CSV_HEADER = ("id", "created_at", "type", "amount", "fee", "balance_after", "request_id",
              "counterparty_wallet_id", "description")
# A cell a spreadsheet would run as a formula. A description is written by whoever sent the
# money (a sender's text lands on the recipient's statement), so it is defused with a
# leading apostrophe, as OWASP advises for CSV injection.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str | None) -> str:
    if value is None:
        return ""
    return "'" + value if value.startswith(FORMULA_START) else value


def transaction_csv(row: Line, currency: str) -> tuple:
    """An entry as a row of a CSV statement, in CSV_HEADER's order."""
    return (row.id, iso(row.created_at), row.type, format_amount(row.amount, currency),
            format_amount(row.fee, currency), format_amount(row.balance_after, currency),
            row.request_id, "" if row.counterparty_wallet_id is None
            else row.counterparty_wallet_id, csv_text(row.description))


def notification(row: Notification) -> dict:
    return {"id": row.id, "type": row.type, "title": row.title, "body": row.body,
            "read": bool(row.is_read), "request_id": row.request_id,
            "created_at": iso(row.created_at)}


def login(row: LoginLog) -> dict:
    return {"id": row.id, "ip_address": row.ip_address, "user_agent": row.user_agent,
            "success": bool(row.success), "created_at": iso(row.created_at)}
