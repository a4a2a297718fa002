"""JSON shapes of the API's resources, from model rows. Pure functions. Wallets, requests
and holds have the shapes events carry too: accounts/resources.py."""
from accounts.events import shown as event
from accounts.resources import hold, iso, refunded, request, wallet
from models import (
    PENDING,
    LoginLog,
    Notification,
    Transaction,
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
