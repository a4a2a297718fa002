"""Re-running a request whose retries ran out (the ops page's repair)."""
import logging

from accounts import notifications
from errors import NotRerunnable, RetriesExhausted
from models import TransactionRequest, db
from payments import requests
from payments.send import send

log = logging.getLogger(__name__)


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
    code = RetriesExhausted.code
    with db.atomic():
        if not requests.reopen(request_id, failure_code=code):
            raise NotRerunnable(f"Request {request_id} is not failed with {code} "
                                "and free of ledger entries; only such a request is re-run.")
        notifications.keep_as_history(request_id)
    request = requests.by_id(request_id)
    log.warning("Request %s re-run by an operator.", request_id)
    send(request)
    return request
