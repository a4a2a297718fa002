"""Waiting for a request to leave `pending` (`GET /v1/requests/{id}?wait=`).

A waiting read sleeps until its request's settlement is announced (infra/wake.py) or the
next recheck is due, then reads it again: the database stays the truth. Whether a caller
may wait at all (threads are few) is the web's to decide: see web/polls.py.
"""
import time

from errors import RequestNotFound
from infra import wake, wallet_cache
from models import PENDING, TransactionRequest, User
from payments import visible


def read(user: User, request_id: int,
         found: dict[int, visible.Seen] | None = None) -> TransactionRequest:
    """The caller's request, or one it received (a transfer or capture to its wallet).

    Parameters:
      found: visible.caller_and_request's answer, if the caller already has it.

    Raises:
      RequestNotFound: also for anyone else's request.
    """
    seen = visible.seen_by(user.id, request_id, found)
    if seen is None:
        raise RequestNotFound(f"No request {request_id}.")
    return seen.request


def until_settled(user: User, request_id: int, *, wait_s: float) -> TransactionRequest:
    """The request (see `read`), once it left `pending` or after `wait_s` seconds.

    Raises:
      RequestNotFound: also for anyone else's request.
    """
    deadline = time.monotonic() + wait_s
    event = wake.LISTENER.watch(request_id)  # before the read: no announcement slips by
    try:
        while True:
            request = read(user, request_id)
            left_s = deadline - time.monotonic()
            if request.status != PENDING or left_s <= 0:
                return request
            event.wait(min(left_s, wake.LISTENER.recheck_s()))
            event.clear()
    finally:
        wake.LISTENER.unwatch(request_id, event)


def settled_view(request: TransactionRequest) -> TransactionRequest:
    """Before anyone is told a request settled, make sure no older balance of its wallets
    can be served from the cache (a worker may have died between commit and its cache
    write)."""
    if request.status != PENDING:
        wallet_cache.refresh([request.wallet_id] + ([request.to_wallet_id]
                                                    if request.to_wallet_id else []))
    return request
