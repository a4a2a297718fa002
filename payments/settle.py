"""Carrying out money requests, several in one transaction: what every settling actor calls.

`settle_batch(request_ids)` is safe to run any number of times, concurrently or not. An
attempt reads the requests and their wallets once, lets the posting rules
(ledger/posting.py) decide each outcome in order (a later request sees the earlier ones'
effect; one failing leaves the others alone), and writes everything decided in one
all-or-nothing compound statement: one version-checked UPDATE of every wallet with its net
delta (ascending ids: a hot wallet is written once per batch), the entries, the status
changes (only while each request is still `pending`) and the notifications. A racing
attempt rolls back whole and is retried; after OPTIMISTIC_TRIES conflicts the wallets are
taken FOR UPDATE. `payments/batches.py` gathers the requests a worker's threads hold.
"""
import logging
from datetime import datetime

import settings
from accounts import notifications
from errors import AlreadySettled, RetriesExhausted, VersionConflict
from infra import settled
from ledger import posting, system
from ledger.entries import entries_insert
from locking import WalletState, balance_update, read_wallets
from locking.batch import Statement, run
from models import PENDING, db, utcnow
from payments import requests
from payments.requests import Facts

log = logging.getLogger(__name__)

NOOP, SUCCEEDED, FAILED = "noop", "succeeded", "failed"


def order_of(facts: Facts) -> posting.Order:
    return posting.Order(facts.id, facts.user_id, facts.type, facts.currency, facts.amount,
                         facts.fee, facts.wallet_id, facts.to_wallet_id)


def accounts_of(states: dict[int, WalletState]) -> dict[int, posting.Account]:
    """The user wallets among `states`, as the posting rules see them."""
    return {s.id: posting.Account(s.id, s.user_id, s.currency, s.balance,
                                  closed=s.deleted_at is not None)
            for s in states.values() if s.user_id is not None}


def writes(outcomes: list[posting.Outcome], states: dict[int, WalletState],
           deltas: dict[int, int], *, now: datetime) -> list[Statement]:
    """Everything a batch's outcomes write: one version-checked balance update with the net
    deltas, the entries of those that succeeded, the guarded status changes and the
    notifications."""
    out = []
    if deltas:
        out.append(balance_update(states, deltas, now=now))
    entries = [(o.order.id, o.entries) for o in outcomes if o.entries]
    if entries:
        out.append(entries_insert(entries, now=now))
    out.append(requests.finish(outcomes, now=now))
    out.append(notifications.insert([note for o in outcomes
                                     for note in notifications.for_outcome(o)], now=now))
    return out


def _cached(states: dict[int, WalletState], balances: dict[int, int], now: datetime) -> list:
    """The wallets' new states, for the versioned cache (one version bump per batch)."""
    return [{"id": wid, "user_id": states[wid].user_id, "currency": states[wid].currency,
             "balance": balance, "version": states[wid].version + 1,
             "created_at": states[wid].created_at, "updated_at": now, "deleted": False}
            for wid, balance in balances.items()]


def attempt(request_ids: list[int], *, for_update: bool = False) -> dict[int, str]:
    """One attempt at a batch: one read, one all-or-nothing write.

    Returns:
      Each request's outcome: NOOP (unknown, or settled already), SUCCEEDED or FAILED.

    Raises:
      VersionConflict, AlreadySettled: something changed under the attempt; nothing was
        written.
    """
    found, rows = requests.for_settlement(request_ids)
    outcomes = dict.fromkeys(request_ids, NOOP)
    done = [f.id for f in found if f.status != PENDING]
    if done:
        # Settled by an earlier delivery that may have died before announcing it.
        settled.announce(done, [])
    pending = [f for f in found if f.status == PENDING]
    if not pending:
        return outcomes
    states = {row[0]: WalletState(*row) for row in rows}
    now = utcnow()

    def decide_and_write(own_transaction: bool) -> tuple[posting.Posting, dict[int, int]]:
        accounts = accounts_of(states)
        result = posting.post([order_of(f) for f in pending], accounts,
                              system.accounts_for({f.currency for f in pending}))
        deltas = result.deltas(accounts)
        run(*writes(result.outcomes, states, deltas, now=now), own_transaction=own_transaction)
        return result, {wid: result.balances[wid] for wid in deltas}

    if for_update:
        with db.atomic():
            states = read_wallets({w for f in pending for w in (f.wallet_id, f.to_wallet_id)
                                   if w is not None}, for_update=True)
            result, changed = decide_and_write(own_transaction=False)
    else:
        result, changed = decide_and_write(own_transaction=True)
    log.info("Settled a batch of %s requests (%s succeeded).", len(pending),
             sum(o.succeeded for o in result.outcomes),
             extra={"batch_size": len(pending), "pessimistic": for_update})
    settled.announce([f.id for f in pending], _cached(states, changed, now))
    for outcome in result.outcomes:
        outcomes[outcome.order.id] = SUCCEEDED if outcome.succeeded else FAILED
    return outcomes


def settle_batch(request_ids: list[int]) -> dict[int, str]:
    """Carry out requests exactly once, however often and however batched they are.

    Tries optimistically (version-checked updates) OPTIMISTIC_TRIES times, then takes the
    wallets with SELECT ... FOR UPDATE in ascending id order, which cannot conflict. A
    request that something else settled meanwhile (AlreadySettled) drops out at the next
    attempt's read.

    Raises:
      VersionConflict, or a database error: transient; the caller retries later.
    """
    for tries in range(settings.OPTIMISTIC_TRIES + 1):
        pessimistic = tries >= settings.OPTIMISTIC_TRIES
        try:
            return attempt(request_ids, for_update=pessimistic)
        except (VersionConflict, AlreadySettled) as exc:
            log.info("Version conflict settling requests %s (attempt %s): %s",
                     request_ids, tries + 1, type(exc).__name__)
            if pessimistic and isinstance(exc, VersionConflict):
                raise
    return attempt(request_ids, for_update=True)


def settle(request_id: int) -> str:
    """Carry out one request exactly once (a batch of one); see `settle_batch`."""
    return settle_batch([request_id])[request_id]


def give_up(request_id: int, *, detail: str) -> bool:
    """Mark a still-pending request failed with `retries_exhausted`; nothing else is written.

    Returns:
      Whether this call marked it (False when it had settled meanwhile).
    """
    found, _ = requests.for_settlement([request_id])
    if not found or found[0].status != PENDING:
        return False
    outcome = posting.Outcome(order_of(found[0]), failure=RetriesExhausted(detail[:255]))
    try:
        run(requests.finish([outcome], now=utcnow()),
            notifications.insert(notifications.for_outcome(outcome), now=utcnow()))
    except AlreadySettled:
        return False
    settled.announce([request_id], [])
    return True
