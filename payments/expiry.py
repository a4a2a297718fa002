"""Expiring holds whose time is up: what the `expire_holds` actor calls.

`expire_due()` finds active holds past their `expires_at` and releases what they still
hold, EXPIRY_BATCH_HOLDS at a time, each batch in one transaction: the wallets' held
amounts (version-checked, as a settlement writes them), the holds' status (guarded by what
was read) and the notifications. It is safe to run twice, and from several workers at once:
a racing capture, void or expiry makes the attempt roll back whole and read again, and a
hold that is no longer active then simply drops out. The posting rules also refuse to
capture or void a hold whose time is up, so exactly one of them wins.
"""
import logging
from collections.abc import Iterator

import settings
from errors import VersionConflict
from infra import settled
from ledger import posting
from locking import WalletState, read_wallets
from locking.batch import run
from models import db, utcnow
from payments import holds
from payments.outcomes import cached, writes
from payments.settle import accounts_of

log = logging.getLogger(__name__)

EXPIRY_BATCH_HOLDS = 64
EXPIRY_ROUND_HOLDS = 1000
EXPIRY_MAX_ROUNDS = 20


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), EXPIRY_BATCH_HOLDS):
        yield ids[start:start + EXPIRY_BATCH_HOLDS]


def _decide_and_write(hold_ids: list[int], *, own_transaction: bool) -> tuple[int, list[dict]]:
    hold_rows, wallet_rows = holds.for_expiry(hold_ids)
    now = utcnow()
    states = {row[0]: WalletState(*row) for row in wallet_rows}
    world = posting.World(accounts_of(states), {},
                          holds={row[0]: holds.as_rule_sees(row, now=now) for row in hold_rows})
    orders = [posting.Order(row[10], hold.user_id, posting.EXPIRE, hold.currency,
                            hold.remaining, 0, hold.wallet_id, hold.to_wallet_id, hold.id)
              for row in hold_rows for hold in [world.holds[row[0]]]]
    result = posting.post(orders, world)
    if not result.holds:
        return 0, []  # all of them captured, voided or expired meanwhile
    run(*writes(result, world, states, facts={}, hold_rows={row[0]: row for row in hold_rows},
                now=now), own_transaction=own_transaction)
    return len(result.holds), cached(states, result, world, now)


def expire(hold_ids: list[int]) -> int:
    """Expire these holds, those still active and due; tries optimistically
    OPTIMISTIC_TRIES times, then with the wallets locked FOR UPDATE.

    Returns:
      How many this call expired.

    Raises:
      VersionConflict, or a database error: transient; the next round tries again.
    """
    for tries in range(settings.OPTIMISTIC_TRIES + 1):
        try:
            if tries < settings.OPTIMISTIC_TRIES:
                count, rows = _decide_and_write(hold_ids, own_transaction=True)
            else:
                with db.atomic():
                    _, wallet_rows = holds.for_expiry(hold_ids)
                    read_wallets([row[0] for row in wallet_rows], for_update=True)
                    count, rows = _decide_and_write(hold_ids, own_transaction=False)
        except VersionConflict:
            if tries >= settings.OPTIMISTIC_TRIES:
                raise
            continue
        if rows:
            settled.announce([], rows)
        return count
    return 0


def expire_due(*, round_size: int = EXPIRY_ROUND_HOLDS) -> int:
    """Expire the holds whose time is up, `round_size` at a time, while full rounds come
    back (at most EXPIRY_MAX_ROUNDS: the next call takes the rest).

    Returns:
      How many this call expired.
    """
    count = 0
    for _ in range(EXPIRY_MAX_ROUNDS):
        due = holds.due(now=utcnow(), limit=round_size)
        count += sum(expire(chunk) for chunk in _chunks(due))
        if len(due) < round_size:
            break
    if count:
        log.info("Expired %s holds.", count, extra={"expired_holds": count})
    return count
