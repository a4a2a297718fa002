"""Events: each change as each user it concerns sees it, written in the change's own
transaction (the outbox): a committed change always has its events, a rolled-back one never
does. They feed `GET /v1/events` and the webhooks (webhooks/).

Who gets what (API.md, "Events and webhooks"):
  request.succeeded / request.failed   the maker of every request (a failed hold included)
  transfer.received                    the recipient of a transfer, or of a capture
  refund.received                      the original sender a refund pays back
  hold.activated / .captured (each capture) / .voided / .expired
                                       both parties of the hold, each their own event
  wallet.created                       the owner
`data` is the Request, the Hold or the Wallet as it stood after the change.
"""
from dataclasses import dataclass
from datetime import datetime

import orjson

from accounts import resources
from ledger import posting
from ledger.posting import Outcome
from locking.batch import Statement
from models import Event

WALLET_CREATED = "wallet.created"
REQUEST_SUCCEEDED, REQUEST_FAILED = "request.succeeded", "request.failed"
TRANSFER_RECEIVED, REFUND_RECEIVED = "transfer.received", "refund.received"
HOLD_EVENTS = {posting.HOLD: "hold.activated", posting.CAPTURE: "hold.captured",
               posting.VOID: "hold.voided", posting.EXPIRE: "hold.expired"}
TYPES = (WALLET_CREATED, REQUEST_SUCCEEDED, REQUEST_FAILED, TRANSFER_RECEIVED,
         *HOLD_EVENTS.values(), REFUND_RECEIVED)
MAX_PAGE = 100


@dataclass(frozen=True)
class NewEvent:
    """An event before it is written."""

    user_id: int
    type: str
    data: dict


def _parties(hold: posting.Hold) -> list[int]:
    return [hold.user_id] + ([hold.to_user_id] if hold.to_user_id is not None else [])


def for_outcome(outcome: Outcome, *, request: dict | None, hold: dict | None) -> list[NewEvent]:
    """The events of one settled, failed or expired request or hold.

    Parameters:
      request: the Request as it stands after the outcome (None for an expiry: no request).
      hold: the Hold after it, when the outcome changed one.
    """
    order, after = outcome.order, outcome.hold
    found: list[NewEvent] = []
    if request is not None:
        found.append(NewEvent(order.user_id, REQUEST_SUCCEEDED if outcome.succeeded
                              else REQUEST_FAILED, request))
    if not outcome.succeeded:
        return found
    if order.type == posting.TRANSFER and outcome.counterpart_user_id is not None:
        found.append(NewEvent(outcome.counterpart_user_id, TRANSFER_RECEIVED, request or {}))
    if order.type == posting.CAPTURE and after is not None and after.to_user_id is not None:
        found.append(NewEvent(after.to_user_id, TRANSFER_RECEIVED, request or {}))
    if order.type == posting.REFUND and outcome.counterpart_user_id is not None:
        found.append(NewEvent(outcome.counterpart_user_id, REFUND_RECEIVED, request or {}))
    if order.type in HOLD_EVENTS and after is not None and hold is not None:
        found += [NewEvent(user_id, HOLD_EVENTS[order.type], hold) for user_id in _parties(after)]
    return found


def insert(events: list[NewEvent], *, now: datetime) -> Statement:
    """The one INSERT of `events` (for a settlement's compound statement)."""
    return Statement(
        "INSERT INTO events (user_id, type, data, dispatched, created_at) VALUES "
        + ", ".join("(%s, %s, %s, 0, %s)" for _ in events),
        tuple(x for e in events for x in (e.user_id, e.type, orjson.dumps(e.data).decode(),
                                          now)))


def shown(row: Event) -> dict:
    """An event as the feed lists it and a webhook delivers it (its body)."""
    return {"id": row.id, "type": row.type, "created_at": resources.iso(row.created_at),
            "data": row.data}


def record(user_id: int, type: str, data: dict) -> None:
    """Write one event now (inside the caller's transaction: a wallet's creation, say)."""
    Event.create(user_id=user_id, type=type, data=data)


def after(user_id: int, *, after_id: int, type: str | None, limit: int) -> list[Event]:
    """The user's events with ids above `after_id`, oldest first, all or of one type."""
    query = Event.select().where((Event.user_id == user_id) & (Event.id > after_id))
    if type is not None:
        query = query.where(Event.type == type)
    return list(query.order_by(Event.id).limit(min(limit, MAX_PAGE)))
