"""Notifications: what users are told, worded and written in this one place.

A notification carries a dedupe key, unique in the table, so writing one is safe to
repeat: one per event and recipient. Those of a settlement are written in its
transaction (see payments/settle.py), as one INSERT built here.
"""
from dataclasses import dataclass
from datetime import datetime

from peewee import fn

from errors import NotificationNotFound
from ledger import posting
from ledger.posting import Outcome
from locking.batch import Statement
from models import Notification, newest_first
from money import format_amount


@dataclass(frozen=True)
class Note:
    """One notification, before it is written."""

    user_id: int
    type: str
    title: str
    body: str
    request_id: int | None
    dedupe_key: str


def sender_key(request_id: int) -> str:
    return f"request:{request_id}:sender"


def _money(amount: int, currency: str) -> str:
    return f"{format_amount(amount, currency)} {currency}"


def _counterpart(outcome: Outcome) -> Note | None:
    """What the other party of a success is told (see Outcome.counterpart_user_id)."""
    order, hold, user_id = outcome.order, outcome.hold, outcome.counterpart_user_id
    if user_id is None or user_id == order.user_id:
        return None
    key = f"request:{order.id}:recipient"
    if order.type == posting.TRANSFER:
        return Note(user_id, "transfer_received",
                    f"You received {_money(order.amount - order.fee, order.currency)}",
                    f"Transfer from wallet {order.wallet_id} to wallet {order.to_wallet_id}.",
                    order.id, key)
    if order.type == posting.REFUND:
        return Note(user_id, "refund_received",
                    f"You were refunded {_money(order.amount, order.currency)}",
                    f"Refund of request {order.refund_of} from wallet {order.wallet_id} to "
                    f"wallet {order.to_wallet_id}.", order.id, key)
    assert hold is not None
    if order.type == posting.HOLD:
        return Note(user_id, "hold_received", f"{_money(hold.amount, order.currency)} held "
                    "for you", f"Hold {hold.id} on wallet {hold.wallet_id} reserves "
                    f"{_money(hold.amount, order.currency)} for wallet {hold.to_wallet_id}.",
                    order.id, key)
    if order.type == posting.CAPTURE:
        return Note(user_id, "hold_captured",
                    f"{_money(order.amount, order.currency)} captured from your hold",
                    f"Hold {hold.id} on wallet {hold.wallet_id}: "
                    f"{_money(hold.captured, order.currency)} of "
                    f"{_money(hold.amount, order.currency)} captured, now {hold.status}.",
                    order.id, key)
    return Note(user_id, "hold_voided", f"Your hold of {_money(hold.amount, order.currency)} "
                "was voided", f"Hold {hold.id} on wallet {hold.wallet_id} was voided; "
                "what it still held is available again.", order.id, key)


def _expired(outcome: Outcome) -> list[Note]:
    """Both parties of an expired hold are told (an expiry has no maker)."""
    order, hold = outcome.order, outcome.hold
    assert hold is not None
    what = (f"Hold {hold.id} on wallet {hold.wallet_id} expired; "
            f"{_money(order.amount, order.currency)} it still held was released.")
    return [Note(user_id, "hold_expired", f"Hold of {_money(hold.amount, order.currency)} "
                 "expired", what, order.id, f"hold:{hold.id}:expired:{side}")
            for user_id, side in ((hold.user_id, "payer"), (hold.to_user_id, "recipient"))
            if user_id is not None]


def for_outcome(outcome: Outcome) -> list[Note]:
    """What a settled or failed request tells its maker, and a success its other party
    (a transfer's or capture's recipient, a refund's original sender, a hold's parties)."""
    order, status = outcome.order, "succeeded" if outcome.succeeded else "failed"
    if order.type == posting.EXPIRE:
        return _expired(outcome) if outcome.succeeded else []
    what = f"{order.type.capitalize()} of {_money(order.amount, order.currency)}"
    detail = outcome.failure.detail if outcome.failure is not None else ""
    notes = [Note(order.user_id, f"{order.type}_{status}", f"{what} {status}",
                  detail or f"{what} {status}.", order.id, sender_key(order.id))]
    other = _counterpart(outcome) if outcome.succeeded else None
    return notes + ([other] if other is not None else [])


def insert(notes: list[Note], *, now: datetime) -> Statement:
    """The one INSERT of `notes` (for a settlement's compound statement)."""
    return Statement(
        "INSERT INTO notifications (user_id, type, title, body, request_id, is_read, "
        "dedupe_key, created_at) VALUES " + ", ".join("(%s, %s, %s, %s, %s, 0, %s, %s)"
                                                       for _ in notes),
        tuple(x for n in notes for x in (n.user_id, n.type, n.title, n.body, n.request_id,
                                         n.dedupe_key, now)))


def wallet_opened(*, user_id: int, wallet_id: int, currency: str) -> None:
    """Tell a user its new wallet is ready (inside the wallet's transaction)."""
    Notification.create(user=user_id, type="wallet_created", title="Wallet opened",
                        body=f"Your {currency} wallet is ready.",
                        dedupe_key=f"wallet_created:{wallet_id}")


def keep_as_history(request_id: int) -> None:
    """Free a request's sender dedupe key (a re-run request writes its new outcome's
    notification): the old one stays, under a key of its own."""
    (Notification.update(dedupe_key=fn.CONCAT(Notification.dedupe_key, ":", Notification.id))
     .where(Notification.dedupe_key == sender_key(request_id)).execute())


def of_user(user_id: int, *, unread: bool | None, limit: int,
            after: int | None) -> list[Notification]:
    """A page of the user's notifications, all or only the (un)read ones, newest first."""
    query = Notification.select().where(Notification.user == user_id)
    if unread is None:
        index = "notifications_user_id"
    else:
        query, index = query.where(Notification.is_read == (not unread)), \
            "notifications_user_read"
    return newest_first(query, Notification.id, index=index, limit=limit, after=after)


def mark_read(user_id: int, notification_id: int) -> None:
    """Mark one of the user's notifications read (repeating it is harmless).

    Raises:
      NotificationNotFound: also for someone else's notification.
    """
    mine = Notification.select(Notification.id).where(
        (Notification.id == notification_id) & (Notification.user == user_id))
    if not mine.exists():
        raise NotificationNotFound(f"No notification {notification_id}.")
    Notification.update(is_read=True).where(Notification.id == notification_id).execute()
