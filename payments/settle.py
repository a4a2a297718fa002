"""Carrying out money requests, several in one transaction: what every settling actor calls.

`settle_batch(request_ids)` is safe to run any number of times, concurrently or not. An
attempt reads the requests, their wallets, the holds they act on and the requests they
refund once, lets the posting rules (ledger/posting.py) decide each outcome in order (a
later request sees the earlier ones' effect; one failing leaves the others alone), and
writes everything decided in one all-or-nothing compound statement: one version-checked
UPDATE of every wallet with its net balance and held changes (ascending ids: a hot wallet
is written once per batch), the entries, the status changes (only while each request is
still `pending`), the hold changes and refunded totals (only while each is as read) and
the notifications. A racing attempt rolls back whole and is retried; after
OPTIMISTIC_TRIES conflicts the wallets are taken FOR UPDATE. `payments/batches.py` gathers
the requests a worker's threads hold.
"""
import logging
from dataclasses import replace
from datetime import datetime

import settings
from accounts import events, notifications
from errors import AlreadySettled, RetriesExhausted, RowChanged, VersionConflict
from infra import settled
from ledger import posting, system
from locking import WalletState, read_wallets
from locking.batch import run
from models import PENDING, db, utcnow
from payments import holds, requests
from payments.outcomes import cached, request_after, writes
from payments.requests import Facts, SettlementRead

log = logging.getLogger(__name__)

NOOP, SUCCEEDED, FAILED = "noop", "succeeded", "failed"


def order_of(facts: Facts) -> posting.Order:
    return posting.Order(facts.id, facts.user_id, facts.type, facts.currency, facts.amount,
                         facts.fee, facts.wallet_id, facts.to_wallet_id, facts.hold_id,
                         facts.refund_of, bool(facts.capture_final))


def accounts_of(states: dict[int, WalletState]) -> dict[int, posting.Account]:
    """The user wallets among `states`, as the posting rules see them."""
    return {s.id: posting.Account(s.id, s.user_id, s.currency, s.balance, s.held,
                                  closed=s.deleted_at is not None)
            for s in states.values() if s.user_id is not None}


def world_of(read: SettlementRead, states: dict[int, WalletState], *,
             now: datetime) -> posting.World:
    """What the posting rules act on: the wallets, holds and originals read, at `now`."""
    return posting.World(
        accounts_of(states), system.accounts_for({f.currency for f in read.facts}),
        holds={row[0]: holds.as_rule_sees(row, now=now) for row in read.holds},
        originals={row[0]: posting.Original(*row) for row in read.originals})


def _decide_and_write(read: SettlementRead, *, own_transaction: bool,
                      ) -> tuple[posting.Posting, list[dict], list[int]]:
    pending = [f for f in read.facts if f.status == PENDING]
    if not pending:
        return posting.Posting(), [], []
    now = utcnow()
    states = {row[0]: WalletState(*row) for row in read.wallets}
    world = world_of(read, states, now=now)
    result = posting.post([order_of(f) for f in pending], world)
    run(*writes(result, world, states, facts={f.id: f for f in pending},
                hold_rows={row[0]: row for row in read.holds}, now=now),
        own_transaction=own_transaction)
    return result, cached(states, result, world, now), [f.id for f in pending]


def attempt(request_ids: list[int], *, for_update: bool = False) -> dict[int, str]:
    """One attempt at a batch: one read, one all-or-nothing write.

    Returns:
      Each request's outcome: NOOP (unknown, or settled already), SUCCEEDED or FAILED.

    Raises:
      VersionConflict (RowChanged included), AlreadySettled: something changed under the
        attempt; nothing was written.
    """
    read = requests.for_settlement(request_ids)
    outcomes = dict.fromkeys(request_ids, NOOP)
    done = [f.id for f in read.facts if f.status != PENDING]
    if done:
        # Settled by an earlier delivery that may have died before announcing it.
        log.info("Requests %s were settled already (a message delivered again).", done,
                 extra={"money_request_ids": done})
        settled.announce(done, [])
    if len(done) == len(read.facts):
        return outcomes
    if for_update:
        with db.atomic():
            # Lock the wallets, then read everything again: every change to a hold or a
            # refunded total also changes one of these wallets, so nothing read now moves.
            read_wallets(read.wallet_ids(), for_update=True)
            result, rows, pending = _decide_and_write(requests.for_settlement(request_ids),
                                                      own_transaction=False)
    else:
        result, rows, pending = _decide_and_write(read, own_transaction=True)
    if not pending:
        return outcomes
    log.info("Settled a batch of %s requests (%s succeeded).", len(pending),
             sum(o.succeeded for o in result.outcomes),
             extra={"batch_size": len(pending), "pessimistic": for_update,
                    "money_request_ids": pending})
    settled.announce(pending, rows)
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
    """Mark a still-pending request failed with `retries_exhausted` (and its hold, if it
    places one), telling its maker; no money moves.

    Returns:
      Whether this call marked it (False when it had settled meanwhile).
    """
    read = requests.for_settlement([request_id])
    if not read.facts or read.facts[0].status != PENDING:
        return False
    now = utcnow()
    # A hold given up on fails, like its request, and never reserves anything.
    given_up = {row[0]: holds.as_rule_sees(row, now=now) for row in read.holds
                if read.facts[0].type == posting.HOLD and row[7] == posting.PENDING}
    failed = {i: replace(hold, status=posting.FAILED) for i, hold in given_up.items()}
    outcome = posting.Outcome(order_of(read.facts[0]), failure=RetriesExhausted(detail[:255]),
                              hold=next(iter(failed.values()), None))
    told = events.NewEvent(read.facts[0].user_id, events.REQUEST_FAILED,
                           request_after(read.facts[0], outcome, now=now))
    try:
        run(requests.finish([outcome], now=now),
            *([holds.update(given_up, failed, now=now)] if failed else []),
            notifications.insert(notifications.for_outcome(outcome), now=now),
            events.insert([told], now=now))
    except (AlreadySettled, RowChanged):
        return False
    settled.announce([request_id], [])
    return True
