"""The public JSON shapes of wallets, requests and holds, as the API answers them and as an
event carries them (its `data`). Pure functions of a row, or of anything with the same
attributes (a settlement renders what it decided before it is written).
"""
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from money import format_amount

# The request types whose recipient sees a `refunded` total (a capture only with one).
REFUNDABLE_TYPES = ("transfer", "capture")
OPEN_HOLD_STATUSES = ("pending", "active")


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 UTC with microseconds, or None."""
    return None if moment is None else moment.isoformat(timespec="microseconds") + "Z"


def wallet(state: Mapping[str, Any]) -> dict:
    """A wallet from its state (see infra/wallet_cache.state_of), cached or freshly read."""
    currency, held = state["currency"], state.get("held", 0)
    return {"id": state["id"], "currency": currency,
            "balance": format_amount(state["balance"], currency),
            "held_balance": format_amount(held, currency),
            "available_balance": format_amount(max(state["balance"] - held, 0), currency),
            "version": state["version"], "created_at": iso(state["created_at"]),
            "updated_at": iso(state["updated_at"])}


def refunded(row: Any, total: int) -> str | None:
    """A transfer's, or capture-with-recipient's, total refunded; None for the others."""
    if row.type in REFUNDABLE_TYPES and row.to_wallet_id is not None:
        return format_amount(total, row.currency)
    return None


def request(row: Any) -> dict:
    """A request (a TransactionRequest, or what a settlement decided about one)."""
    return {"id": row.id, "type": row.type, "status": row.status, "currency": row.currency,
            "amount": format_amount(row.amount, row.currency),
            "fee": format_amount(row.fee, row.currency), "wallet_id": row.wallet_id,
            "to_wallet_id": row.to_wallet_id, "hold_id": row.hold_id,
            "refund_of": row.refund_of, "refunded": refunded(row, row.refunded or 0),
            "description": row.description, "metadata": row.metadata or {},
            "failure_code": row.failure_code, "failure_detail": row.failure_detail,
            "created_at": iso(row.created_at), "completed_at": iso(row.completed_at)}


def hold(row: Any) -> dict:
    """A hold (a models.Hold, or what a settlement or the expiry decided about one)."""
    ended = row.status not in OPEN_HOLD_STATUSES
    return {"id": row.id, "wallet_id": row.wallet_id, "to_wallet_id": row.to_wallet_id,
            "currency": row.currency, "amount": format_amount(row.amount, row.currency),
            "captured": format_amount(row.captured, row.currency),
            "remaining": format_amount(0 if ended else row.amount - row.captured, row.currency),
            "status": row.status, "expires_at": iso(row.expires_at),
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
            "request_id": row.request_id, "description": row.description,
            "metadata": row.metadata or {}}
