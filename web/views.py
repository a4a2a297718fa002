"""JSON shapes of the API's resources, from model rows. Pure functions."""
from datetime import datetime

from models import PENDING, LoginLog, Notification, Transaction, TransactionRequest, User, Wallet
from money import format_amount


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 UTC with microseconds, or None."""
    return None if moment is None else moment.isoformat(timespec="microseconds") + "Z"


def user(row: User) -> dict:
    return {"id": row.id, "email": row.email, "username": row.username,
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


def wallet(state: dict) -> dict:
    """A wallet from its state (see wallet_cache.state_of), cached or freshly read."""
    return {"id": state["id"], "currency": state["currency"],
            "balance": format_amount(state["balance"], state["currency"]),
            "version": state["version"], "created_at": iso(state["created_at"]),
            "updated_at": iso(state["updated_at"])}


def wallet_as_created(row: Wallet) -> dict:
    """The wallet exactly as the 201 that created it showed it (for idempotent replays)."""
    return {"id": row.id, "currency": row.currency, "balance": format_amount(0, row.currency),
            "version": 0, "created_at": iso(row.created_at), "updated_at": iso(row.created_at)}


def request(row: TransactionRequest) -> dict:
    return {"id": row.id, "type": row.type, "status": row.status, "currency": row.currency,
            "amount": format_amount(row.amount, row.currency),
            "fee": format_amount(row.fee, row.currency), "wallet_id": row.wallet_id,
            "to_wallet_id": row.to_wallet_id, "failure_code": row.failure_code,
            "failure_detail": row.failure_detail, "created_at": iso(row.created_at),
            "completed_at": iso(row.completed_at)}


def request_as_accepted(row: TransactionRequest) -> dict:
    """The request exactly as the 202 that accepted it showed it (for idempotent replays)."""
    return {**request(row), "status": PENDING, "failure_code": None, "failure_detail": None,
            "completed_at": None}


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
