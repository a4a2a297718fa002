"""The posting rules of two-phase money and refunds, pure.

Examples pin each rule; Hypothesis then throws random ordered lists of holds, captures,
voids, expiries, refunds and transfers at random wallets, holds and refundable requests,
and checks what must hold for any of them: a hold moves no money, entries sum to zero, a
wallet's held amount is what its active holds still reserve and never more than its
balance, captures never exceed their hold, refunds never exceed what was received, a hold
only moves forward through its statuses, and one request's failure changes nothing.
"""
from dataclasses import replace

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from errors import ExceedsHold, HoldNotActive, InsufficientFunds, RefundExceedsOriginal
from ledger.posting import (
    ACTIVE,
    CAPTURE,
    CAPTURED,
    EXPIRE,
    EXPIRED,
    FAILED,
    HOLD,
    PENDING,
    REFUND,
    TRANSFER,
    VOID,
    VOIDED,
    Account,
    Entry,
    Hold,
    Order,
    Original,
    SystemAccounts,
    World,
    post,
)

SYSTEM = {"USD": SystemAccounts(external=1, fees=2)}
ADA, BOB = Account(10, 100, "USD", 5_000), Account(11, 101, "USD", 0)


def world(*holds: Hold, ada: Account = ADA, originals=()) -> World:
    held = sum(h.amount - h.captured for h in holds if h.status == ACTIVE)
    accounts = {ADA.id: replace(ada, held=held), BOB.id: BOB}
    return World(accounts, SYSTEM, {h.id: h for h in holds}, {o.id: o for o in originals})


def hold(status: str = ACTIVE, amount: int = 3_000, *, to: Account | None = BOB,
         captured: int = 0, expired: bool = False) -> Hold:
    return Hold(7, ADA.user_id, ADA.id, to.id if to else None, "USD", amount, captured, status,
                to.user_id if to else None, expired=expired)


def order(n: int, kind: str, amount: int, *, fee: int = 0, final: bool = False,
          hold_id: int | None = 7, refund_of: int | None = None) -> Order:
    if kind == REFUND:
        return Order(n, BOB.user_id, REFUND, "USD", amount, 0, BOB.id, ADA.id,
                     refund_of=refund_of)
    return Order(n, BOB.user_id, kind, "USD", amount, fee, ADA.id, BOB.id, hold_id,
                 final=final)


# -- the rules, one example each ----------------------------------------------------------------
def test_a_hold_reserves_available_money_and_writes_no_entry():
    result = post([order(1, HOLD, 3_000)], world(hold(PENDING)))
    [outcome] = result.outcomes
    assert outcome.succeeded and outcome.entries == ()
    assert result.held == {ADA.id: 3_000} and result.balances == {}
    assert result.holds[7].status == ACTIVE and outcome.counterpart_user_id == BOB.user_id


def test_a_hold_for_more_than_is_available_fails_and_the_hold_with_it():
    # Ada's 50.00 with 30.00 already held: a new hold of 20.01 does not fit
    result = post([order(1, HOLD, 2_001, hold_id=8)],
                  World({ADA.id: replace(ADA, held=3_000), BOB.id: BOB}, SYSTEM,
                        {8: replace(hold(PENDING, 2_001), id=8)}))
    [outcome] = result.outcomes
    assert isinstance(outcome.failure, InsufficientFunds)
    assert result.holds[8].status == FAILED and result.held == {}


def test_a_capture_moves_held_money_as_a_transfer_and_a_final_one_releases_the_rest():
    result = post([order(1, CAPTURE, 1_000, fee=10), order(2, CAPTURE, 500, final=True)],
                  world(hold()))
    first, second = result.outcomes
    assert first.entries == (
        Entry(ADA.id, "transfer_out", -1_000, 10, 4_000, counterparty_wallet_id=BOB.id),
        Entry(BOB.id, "transfer_in", 990, counterparty_wallet_id=ADA.id, balance_after=990),
        Entry(2, "fee", 10, counterparty_wallet_id=ADA.id))
    assert first.counterpart_user_id == ADA.user_id
    assert second.hold == replace(hold(), captured=1_500, status=CAPTURED)
    assert result.balances == {ADA.id: 3_500, BOB.id: 1_490} and result.held == {ADA.id: 0}


def test_a_capture_without_a_recipient_leaves_as_a_withdrawal():
    result = post([order(1, CAPTURE, 3_000, fee=30)], world(hold(to=None)))
    assert [(e.wallet_id, e.type, e.amount) for e in result.outcomes[0].entries] == [
        (ADA.id, "withdrawal", -3_000), (1, "withdrawal", 2_970), (2, "fee", 30)]
    assert result.holds[7].status == CAPTURED and result.held == {ADA.id: 0}


def test_capturing_more_than_remains_or_an_ended_hold_fails():
    over = post([order(1, CAPTURE, 2_001)], world(hold(captured=1_000)))
    assert isinstance(over.outcomes[0].failure, ExceedsHold) and over.held == {}
    for status in (PENDING, CAPTURED, VOIDED, EXPIRED, FAILED):
        ended = post([order(1, CAPTURE, 1), order(2, VOID, 1)], world(hold(status)))
        assert [type(o.failure) for o in ended.outcomes] == [HoldNotActive, HoldNotActive]


def test_a_hold_whose_time_is_up_can_only_expire():
    due = hold(expired=True, captured=500)
    result = post([order(1, CAPTURE, 1), order(2, VOID, 1), order(3, EXPIRE, 2_500)], world(due))
    assert [type(o.failure) for o in result.outcomes] == [HoldNotActive, HoldNotActive,
                                                           type(None)]
    assert result.holds[7].status == EXPIRED and result.held == {ADA.id: 0}
    # Both parties are told of an expiry: the payer is its order's user, the recipient its
    # counterpart; and a hold not yet due does not expire
    assert result.outcomes[2].counterpart_user_id == BOB.user_id
    early = post([order(1, EXPIRE, 3_000)], world(hold()))
    assert isinstance(early.outcomes[0].failure, HoldNotActive)


def test_a_refund_gives_back_without_a_fee_never_more_than_was_received():
    bob = replace(BOB, balance=2_000)
    original = Original(5, received=1_500, refunded=1_000)
    result = post([order(1, REFUND, 400, refund_of=5), order(2, REFUND, 101, refund_of=5),
                   order(3, REFUND, 100, refund_of=5)],
                  World({ADA.id: ADA, BOB.id: bob}, SYSTEM, originals={5: original}))
    assert [o.succeeded for o in result.outcomes] == [True, False, True]
    assert isinstance(result.outcomes[1].failure, RefundExceedsOriginal)
    assert result.refunded == {5: 1_500} and result.balances == {ADA.id: 5_500, BOB.id: 1_500}
    assert result.outcomes[0].entries == (
        Entry(BOB.id, "refund_out", -400, 0, 1_600, counterparty_wallet_id=ADA.id),
        Entry(ADA.id, "refund_in", 400, 0, 5_400, counterparty_wallet_id=BOB.id))


def test_a_refund_checks_the_recipients_available_balance():
    bob = replace(BOB, balance=1_000, held=700)
    result = post([order(1, REFUND, 301, refund_of=5)],
                  World({ADA.id: ADA, BOB.id: bob}, SYSTEM,
                        originals={5: Original(5, 1_000, 0)}))
    assert isinstance(result.outcomes[0].failure, InsufficientFunds)


# -- what holds for any list of requests ------------------------------------------------------
KINDS = [HOLD, CAPTURE, VOID, EXPIRE, REFUND, TRANSFER]
STATUSES = [PENDING, ACTIVE, ACTIVE, CAPTURED, VOIDED, EXPIRED, FAILED]
# The statuses one request may move a hold to, from each (an ended hold never moves).
STEPS = {PENDING: {ACTIVE, FAILED}, ACTIVE: {ACTIVE, CAPTURED, VOIDED, EXPIRED}}


@st.composite
def two_phase_worlds(draw):
    """Three wallets, holds on them in any status (the wallets' held amounts agreeing),
    refundable originals, and a list of requests over all of it (some naming a hold or
    original that does not exist)."""
    holds = {}
    for h in range(draw(st.integers(0, 5))):
        payer, to = draw(st.permutations([10, 11, 12]))[:2]
        amount = draw(st.integers(1, 5_000))
        status = draw(st.sampled_from(STATUSES))
        captured = draw(st.integers(0, amount)) if status != PENDING else 0
        if status == ACTIVE and captured == amount:
            captured -= 1
        holds[20 + h] = Hold(20 + h, payer, payer, draw(st.sampled_from([to, None])), "USD",
                             amount, captured, status, None,
                             expired=draw(st.booleans()) and draw(st.booleans()))
    accounts = {}
    for wid in (10, 11, 12):
        held = sum(h.amount - h.captured for h in holds.values()
                   if h.wallet_id == wid and h.status == ACTIVE)
        accounts[wid] = Account(wid, wid, "USD", held + draw(st.integers(0, 8_000)), held)
    holds = {i: replace(h, to_user_id=h.to_wallet_id) for i, h in holds.items()}
    originals = {30 + k: Original(30 + k, received, draw(st.integers(0, received)))
                 for k in range(draw(st.integers(0, 3)))
                 for received in [draw(st.integers(1, 5_000))]}
    orders = []
    for n in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(KINDS))
        amount, fee = draw(st.integers(1, 6_000)), 0
        payer, to = draw(st.permutations([10, 11, 12]))[:2]
        if kind == TRANSFER:
            fee = draw(st.integers(0, amount))
            orders.append(Order(n + 1, payer, kind, "USD", amount, fee, payer, to))
        elif kind == REFUND:
            orders.append(Order(n + 1, payer, kind, "USD", amount, 0, payer, to,
                                refund_of=draw(st.sampled_from([*originals, 99]))))
        else:
            hold_id = draw(st.sampled_from([*holds, 98]))
            target = holds.get(hold_id)
            fee = draw(st.integers(0, amount)) if kind == CAPTURE else 0
            orders.append(Order(n + 1, payer, kind, "USD", amount, fee,
                                target.wallet_id if target else payer,
                                target.to_wallet_id if target else None, hold_id,
                                final=draw(st.booleans())))
    return World(accounts, SYSTEM, holds, originals), orders


@settings(max_examples=400, deadline=None)
@given(two_phase_worlds())
def test_no_list_of_two_phase_requests_breaks_an_invariant(drawn):
    start, orders = drawn
    result = post(orders, start)
    moved = dict.fromkeys(start.accounts, 0)
    status = {i: h.status for i, h in start.holds.items()}
    for outcome in result.outcomes:
        assert sum(e.amount for e in outcome.entries) == 0
        # A hold only moves forward, one step per request that changes it
        if outcome.hold is not None:
            assert outcome.hold.status in STEPS[status[outcome.hold.id]]
            status[outcome.hold.id] = outcome.hold.status
        # A hold, a void and an expiry move no money; a failure writes nothing
        if outcome.order.type in (HOLD, VOID, EXPIRE) or not outcome.succeeded:
            assert outcome.entries == ()
        for entry in outcome.entries:
            if entry.wallet_id in start.accounts:
                moved[entry.wallet_id] += entry.amount
    holds = {**start.holds, **result.holds}
    for wid, account in start.accounts.items():
        balance = result.balances.get(wid, account.balance)
        held = result.held.get(wid, account.held)
        # The balance is the start plus what its entries moved; held is exactly what its
        # active holds still reserve; available never goes negative
        assert balance == account.balance + moved[wid]
        assert held == sum(h.amount - h.captured for h in holds.values()
                           if h.wallet_id == wid and h.status == ACTIVE)
        assert 0 <= held <= balance
    for hold_id, after in result.holds.items():
        before = start.holds[hold_id]
        # Captures never exceed the hold
        assert before.captured <= after.captured <= after.amount
        assert after.status == status[hold_id]
        captured = sum(o.order.amount for o in result.outcomes
                       if o.succeeded and o.order.type == CAPTURE and o.order.hold_id == hold_id)
        assert after.captured - before.captured == captured
    for original_id, refunded in result.refunded.items():
        original = start.originals[original_id]
        assert original.refunded < refunded <= original.received


@settings(max_examples=200, deadline=None)
@given(two_phase_worlds(), st.integers(0, 14))
def test_a_two_phase_request_that_fails_changes_nothing_the_others_do(drawn, k):
    start, orders = drawn
    result = post(orders, start)
    failed = [o.order for o in result.outcomes
              if not o.succeeded and o.order.type != HOLD]  # (a failed hold fails its hold)
    assume(failed)
    dropped = failed[k % len(failed)]
    without = post([o for o in orders if o != dropped], start)
    assert [(o.order, o.entries, type(o.failure), o.hold) for o in without.outcomes] == \
        [(o.order, o.entries, type(o.failure), o.hold) for o in result.outcomes
         if o.order != dropped]
    assert (without.balances, without.held, without.holds, without.refunded) == \
        (result.balances, result.held, result.holds, result.refunded)
