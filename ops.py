"""What the ops page says about money requests, and the repair it offers for them.

Plain functions over the database; `web/ops.py` renders them. The broker's side (queue
counts, dead-lettered messages) is in `queues/`, the ledger audit in `audit.py`.
"""
import logging
from dataclasses import dataclass
from datetime import datetime

from peewee import SQL, fn

import dispatch
from errors import NotRerunnable
from models import Notification, Transaction, TransactionRequest, db, utcnow

log = logging.getLogger(__name__)

STATUSES = ("pending", "succeeded", "failed")
FAILURES_SHOWN = 20
RERUNNABLE = "retries_exhausted"


@dataclass(frozen=True)
class RequestStats:
    """How many requests are in each status, and since when the oldest pending one waits."""

    by_status: dict[str, int]
    oldest_pending_at: datetime | None


def request_stats() -> RequestStats:
    """Counts per status (an index-only scan) and the oldest pending request's creation."""
    counts = dict.fromkeys(STATUSES, 0)
    query = (TransactionRequest.select(TransactionRequest.status, fn.COUNT(SQL("*")))
             .group_by(TransactionRequest.status).tuples())
    counts.update({status: n for status, n in query})
    oldest = (TransactionRequest.select(fn.MIN(TransactionRequest.created_at))
              .where(TransactionRequest.status == "pending").scalar())
    return RequestStats(counts, oldest)


def latest_failures(limit: int = FAILURES_SHOWN) -> list[TransactionRequest]:
    """The most recently created failed requests, newest first."""
    return list(TransactionRequest.select()
                .where(TransactionRequest.status == "failed")
                .order_by(TransactionRequest.created_at.desc(), TransactionRequest.id.desc())
                .limit(limit))


def rerun(request_id: int) -> TransactionRequest:
    """Put a request whose retries ran out back to `pending`, and send it to its actor.

    Only a request that is `failed` with `retries_exhausted` and has no ledger entries
    qualifies, checked in the same statement that changes it, so two operators pressing
    the button at once re-run it once. Settling then applies it at most once, as always.
    The failure's notification stays in the user's history under a new dedupe key, so
    the new outcome can write its own.

    Returns:
      The request, pending again (if the broker is down the sweeper sends it later).

    Raises:
      NotRerunnable: the request is unknown, not failed that way, or has entries.
    """
    now = utcnow()
    no_entries = ~fn.EXISTS(Transaction.select(SQL("1"))
                            .where(Transaction.request == request_id))
    with db.atomic():
        changed = (TransactionRequest
                   .update(status="pending", failure_code=None, failure_detail=None,
                           completed_at=None, sweeps=0, swept_at=now)
                   .where((TransactionRequest.id == request_id)
                          & (TransactionRequest.status == "failed")
                          & (TransactionRequest.failure_code == RERUNNABLE) & no_entries)
                   .execute())
        if changed != 1:
            raise NotRerunnable(f"Request {request_id} is not failed with {RERUNNABLE} "
                                "and free of ledger entries; only such a request is re-run.")
        (Notification
         .update(dedupe_key=fn.CONCAT(Notification.dedupe_key, ":", Notification.id))
         .where(Notification.dedupe_key == f"request:{request_id}:sender").execute())
    request = TransactionRequest.get_by_id(request_id)
    log.warning("Request %s re-run by an operator.", request_id)
    dispatch.send(request)
    return request
