"""What a batch of outcomes writes, besides deciding it: the statements of one settlement
(or expiry round), and the wallets' new states for the cache.

One version-checked update of the wallets with their net balance and held changes, the
entries of those that succeeded, the guarded changes of requests, holds and refunded
totals, the notifications and the events: all in the one compound statement, so a
committed outcome always has its notifications and events, and a rolled-back one never.
"""
from collections.abc import Mapping
from datetime import datetime
from types import SimpleNamespace

import orjson

from accounts import events, notifications, resources
from ledger import posting
from ledger.entries import entries_insert
from locking import WalletState, balance_update
from locking.batch import Statement
from payments import holds, requests
from payments.requests import Facts


def request_after(facts: Facts, outcome: posting.Outcome, *, now: datetime) -> dict:
    """The Request as it stands once `outcome` is written (its events carry it)."""
    failure = outcome.failure
    return resources.request(SimpleNamespace(
        id=facts.id, type=facts.type, currency=facts.currency, amount=facts.amount,
        fee=facts.fee, wallet_id=facts.wallet_id, to_wallet_id=facts.to_wallet_id,
        hold_id=facts.hold_id, refund_of=facts.refund_of, refunded=facts.refunded,
        description=facts.description,
        metadata=orjson.loads(facts.metadata) if facts.metadata else None,
        status="succeeded" if outcome.succeeded else "failed",
        failure_code=failure.code if failure else None,
        failure_detail=failure.detail[:255] if failure and failure.detail else None,
        created_at=facts.created_at, completed_at=now))


def events_of(result: posting.Posting, *, facts: Mapping[int, Facts],
              hold_rows: Mapping[int, tuple], now: datetime) -> list[events.NewEvent]:
    """Every event of the outcomes: each request's, and each changed hold's."""
    found = []
    for outcome in result.outcomes:
        order, after = outcome.order, outcome.hold
        request = None if order.type == posting.EXPIRE else \
            request_after(facts[order.id], outcome, now=now)
        hold = holds.shown(hold_rows[after.id], after, now=now) if after is not None else None
        found += events.for_outcome(outcome, request=request, hold=hold)
    return found


def writes(result: posting.Posting, world: posting.World, states: dict[int, WalletState], *,
           facts: Mapping[int, Facts], hold_rows: Mapping[int, tuple],
           now: datetime) -> list[Statement]:
    """Everything the outcomes of `result` write (see the module's docstring).

    Parameters:
      facts: the requests decided, by id (an expiry has none).
      hold_rows: the holds read (HOLD_COLUMNS), by id.
    """
    out = []
    deltas, held = result.deltas(world.accounts), result.held_deltas(world.accounts)
    if deltas or held:
        out.append(balance_update(states, deltas, held=held, now=now))
    entries = [(o.order.id, o.entries) for o in result.outcomes if o.entries]
    if entries:
        out.append(entries_insert(entries, now=now))
    if any(o.order.type != posting.EXPIRE for o in result.outcomes):
        out.append(requests.finish(result.outcomes, now=now))
    if result.holds:
        out.append(holds.update(world.holds, result.holds, now=now))
    if result.refunded:
        out.append(requests.refunded_update(
            {i: world.originals[i].refunded for i in result.refunded}, result.refunded))
    notes = [note for o in result.outcomes for note in notifications.for_outcome(o)]
    if notes:
        out.append(notifications.insert(notes, now=now))
    told = events_of(result, facts=facts, hold_rows=hold_rows, now=now)
    if told:
        out.append(events.insert(told, now=now))
    return out


def cached(states: dict[int, WalletState], result: posting.Posting, world: posting.World,
           now: datetime) -> list[dict]:
    """The changed wallets' new states, for the versioned cache (one version bump each)."""
    changed = set(result.deltas(world.accounts)) | set(result.held_deltas(world.accounts))
    return [{"id": wid, "user_id": states[wid].user_id, "currency": states[wid].currency,
             "balance": result.balances.get(wid, states[wid].balance),
             "held": result.held.get(wid, states[wid].held),
             "version": states[wid].version + 1, "created_at": states[wid].created_at,
             "updated_at": now, "deleted": False} for wid in sorted(changed)]
