"""The sweeper: re-sends requests left pending, so no accepted request is ever stuck.

Run as a Procfile process (`python sweeper.py`). A request is re-sent once it has been
pending SWEEP_AFTER_S seconds, then again with doubling gaps (at most 5 minutes), so a
deep but healthy queue is not flooded with duplicates. Duplicates are harmless anyway:
settling is idempotent.
"""
import logging
import time

from peewee import SQL, NodeList, Value, fn

import dispatch
import logs
import settings
from models import TransactionRequest, db, utcnow

log = logging.getLogger("sweeper")
BATCH = 500
MAX_GAP_S = 300


def stale_requests(*, limit: int = BATCH) -> list[TransactionRequest]:
    """Pending requests whose last send is older than their backoff allows."""
    gap = fn.LEAST(settings.SWEEP_AFTER_S * fn.POW(2, TransactionRequest.sweeps), MAX_GAP_S)
    last = fn.COALESCE(TransactionRequest.swept_at, TransactionRequest.created_at)
    return list(TransactionRequest.select(TransactionRequest.id, TransactionRequest.type,
                                          TransactionRequest.sweeps)
                .where((TransactionRequest.status == "pending") &
                       # A NodeList, not SQL(..., [gap]): SQL params are values, and
                       # an expression passed as one was rendered after the text.
                       (last < NodeList((Value(utcnow()), SQL("- INTERVAL"), gap,
                                         SQL("SECOND")))))
                .order_by(TransactionRequest.id).limit(limit))


def sweep_once() -> int:
    """Re-send every stale pending request once.

    Returns:
      How many were handed to the broker.
    """
    sent = 0
    for request in stale_requests():
        if not dispatch.send(request):
            break  # the broker is down: try again on the next sweep
        TransactionRequest.update(sweeps=TransactionRequest.sweeps + 1, swept_at=utcnow()) \
            .where(TransactionRequest.id == request.id).execute()
        sent += 1
    if sent:
        log.info("Re-sent %s pending requests.", sent)
    return sent


def main() -> None:
    logs.configure("sweeper")
    log.info("Sweeping pending requests every %ss.", settings.SWEEP_EVERY_S)
    while True:
        try:
            sweep_once()
        except Exception:  # noqa: BLE001 - the database may be down; keep sweeping
            log.exception("Sweep failed; retrying.")
        finally:
            if not db.is_closed():
                db.close()
        time.sleep(settings.SWEEP_EVERY_S)


if __name__ == "__main__":
    main()
