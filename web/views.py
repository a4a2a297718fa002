"""JSON shapes of the API's resources, from model rows. Pure functions."""
from datetime import datetime

from models import (
    PENDING,
    Hold,
    LoginLog,
    Notification,
    Transaction,
    TransactionRequest,
    User,
    Wallet,
)
from money import format_amount


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 UTC with microseconds, or None."""
    return None if moment is None else moment.isoformat(timespec="microseconds") + "Z"


def user(row: User) -> dict:
    return {"id": row.id, "email": row.email, "username": row.username,
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


def wallet(state: dict) -> dict:
    """A wallet from its state (see wallet_cache.state_of), cached or freshly read."""
    currency, held = state["currency"], state.get("held", 0)
    return {"id": state["id"], "currency": currency,
            "balance": format_amount(state["balance"], currency),
            "held_balance": format_amount(held, currency),
            "available_balance": format_amount(max(state["balance"] - held, 0), currency),
            "version": state["version"], "created_at": iso(state["created_at"]),
            "updated_at": iso(state["updated_at"])}


def wallet_as_created(row: Wallet) -> dict:
    """The wallet exactly as the 201 that created it showed it (for idempotent replays)."""
    zero = format_amount(0, row.currency)
    return {"id": row.id, "currency": row.currency, "balance": zero, "held_balance": zero,
            "available_balance": zero, "version": 0, "created_at": iso(row.created_at),
            "updated_at": iso(row.created_at)}


def _refunded(row: TransactionRequest, refunded: int) -> str | None:
    """A transfer's or capture-with-recipient's total refunded; None for the others."""
    if row.type == "transfer" or (row.type == "capture" and row.to_wallet_id is not None):
        return format_amount(refunded, row.currency)
    return None


def request(row: TransactionRequest) -> dict:
    return {"id": row.id, "type": row.type, "status": row.status, "currency": row.currency,
            "amount": format_amount(row.amount, row.currency),
            "fee": format_amount(row.fee, row.currency), "wallet_id": row.wallet_id,
            "to_wallet_id": row.to_wallet_id, "hold_id": row.hold_id,
            "refund_of": row.refund_of, "refunded": _refunded(row, row.refunded or 0),
            "description": row.description, "metadata": row.metadata or {},
            "failure_code": row.failure_code, "failure_detail": row.failure_detail,
            "created_at": iso(row.created_at), "completed_at": iso(row.completed_at)}


def request_as_accepted(row: TransactionRequest) -> dict:
    """The request exactly as the 202 that accepted it showed it (for idempotent replays)."""
    return {**request(row), "status": PENDING, "refunded": _refunded(row, 0),
            "failure_code": None, "failure_detail": None, "completed_at": None}


def hold(row: Hold) -> dict:
    ended = row.status not in (PENDING, "active")
    return {"id": row.id, "wallet_id": row.wallet_id, "to_wallet_id": row.to_wallet_id,
            "currency": row.currency, "amount": format_amount(row.amount, row.currency),
            "captured": format_amount(row.captured, row.currency),
            "remaining": format_amount(0 if ended else row.amount - row.captured, row.currency),
            "status": row.status, "expires_at": iso(row.expires_at),
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
            "request_id": row.request_id, "description": row.description,
            "metadata": row.metadata or {}}


def transaction(row: Transaction, currency: str) -> dict:
    return {"id": row.id, "request_id": row.request_id, "type": row.type,
            "amount": format_amount(row.amount, currency), "fee": format_amount(row.fee, currency),
            "balance_after": format_amount(row.balance_after, currency),
            "counterparty_wallet_id": row.counterparty_wallet_id, "created_at": iso(row.created_at)}


def notification(row: Notification) -> dict:
    return {"id": row.id, "type": row.type, "title": row.title, "body": row.body,
            "read": bool(row.is_read), "request_id": row.request_id,
            "created_at": iso(row.created_at)}


def login(row: LoginLog) -> dict:
    return {"id": row.id, "ip_address": row.ip_address, "user_agent": row.user_agent,
            "success": bool(row.success), "created_at": iso(row.created_at)}
