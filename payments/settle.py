"""Carrying out a money request: the one function every settling actor calls.

`settle(request_id)` is safe to run any number of times, concurrently or not. An attempt
reads the request and its wallets once, lets the posting rules (ledger/posting.py) decide
the outcome, and writes everything it decided (balances, entries, status, notifications)
in one all-or-nothing compound statement: the balances only if no wallet changed since
they were read (version check), the status only while the request is still `pending`. A
racing attempt rolls back whole.
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


def writes(outcome: posting.Outcome, states: dict[int, WalletState], deltas: dict[int, int], *,
           now: datetime) -> list[Statement]:
    """Everything one outcome writes: balances (version-checked) and entries if it
    succeeded, then its status change (guarded) and its notifications."""
    out = []
    if outcome.succeeded and deltas:
        out.append(balance_update(states, deltas, now=now))
    if outcome.entries:
        out.append(entries_insert(outcome.order.id, outcome.entries, now=now))
    out.append(requests.finish(outcome, now=now))
    out.append(notifications.insert(notifications.for_outcome(outcome), now=now))
    return out


def _apply(facts: Facts, states: dict[int, WalletState], now: datetime, *,
           own_transaction: bool) -> tuple[posting.Outcome, dict[int, int]]:
    """Decide and write the request's outcome in one round trip.

    Returns:
      The outcome, and the new balance of each wallet it changed.
    """
    accounts = accounts_of(states)
    result = posting.post([order_of(facts)], accounts, system.accounts_for({facts.currency}))
    [outcome] = result.outcomes
    deltas = result.deltas(accounts)
    run(*writes(outcome, states, deltas, now=now), own_transaction=own_transaction)
    return outcome, {wid: result.balances[wid] for wid in deltas}


def settle_once(request_id: int, *, for_update: bool = False) -> str:
    """One attempt at a request: one read, one all-or-nothing write.

    Returns:
      NOOP when the request is unknown or already settled, else SUCCEEDED or FAILED.

    Raises:
      VersionConflict: a wallet changed under the attempt; nothing was written.
    """
    facts, rows = requests.for_settlement(request_id)
    if facts is None:
        return NOOP
    if facts.status != PENDING:
        # Settled by an earlier delivery that may have died before announcing it.
        settled.announce([request_id], [])
        return NOOP
    states = {row[0]: WalletState(*row) for row in rows}
    now = utcnow()
    try:
        if for_update:
            with db.atomic():
                states = read_wallets([facts.wallet_id, facts.to_wallet_id or facts.wallet_id],
                                      for_update=True)
                outcome, balances = _apply(facts, states, now, own_transaction=False)
        else:
            outcome, balances = _apply(facts, states, now, own_transaction=True)
    except AlreadySettled:
        return NOOP
    settled.announce([request_id], [
        {"id": wid, "user_id": states[wid].user_id, "currency": states[wid].currency,
         "balance": balance, "version": states[wid].version + 1,
         "created_at": states[wid].created_at, "updated_at": now, "deleted": False}
        for wid, balance in balances.items()])
    return SUCCEEDED if outcome.succeeded else FAILED


def settle(request_id: int) -> str:
    """Carry out a request exactly once, however often it is called.

    Tries optimistically (version-checked updates) OPTIMISTIC_TRIES times, then takes the
    wallets with SELECT ... FOR UPDATE in ascending id order, which cannot conflict.

    Raises:
      VersionConflict, or a database error: transient; the caller retries later.
    """
    for attempt in range(settings.OPTIMISTIC_TRIES + 1):
        pessimistic = attempt >= settings.OPTIMISTIC_TRIES
        try:
            return settle_once(request_id, for_update=pessimistic)
        except VersionConflict:
            log.info("Version conflict settling request %s (attempt %s).", request_id, attempt + 1)
            if pessimistic:
                raise
    raise AssertionError("unreachable")


def give_up(request_id: int, *, detail: str) -> bool:
    """Mark a still-pending request failed with `retries_exhausted`; nothing else is written.

    Returns:
      Whether this call marked it (False when it had settled meanwhile).
    """
    facts, _ = requests.for_settlement(request_id)
    if facts is None or facts.status != PENDING:
        return False
    outcome = posting.Outcome(order_of(facts), failure=RetriesExhausted(detail[:255]))
    try:
        run(requests.finish(outcome, now=utcnow()),
            notifications.insert(notifications.for_outcome(outcome), now=utcnow()))
    except AlreadySettled:
        return False
    settled.announce([request_id], [])
    return True
