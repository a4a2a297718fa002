"""The posting rules, pure: requests and wallet snapshots in, outcomes and balances out.

Examples pin each rule; Hypothesis then throws random ordered lists of deposits,
withdrawals and transfers (with random fees) at random wallets and checks what must hold
for any of them: entries sum to zero, no wallet goes negative, fees are exact, balances
are the sum of what happened, and one request's failure changes nobody else's outcome.
"""
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from errors import InsufficientFunds, WalletClosed, WalletGone
from ledger.posting import (
    DEPOSIT,
    TRANSFER,
    WITHDRAWAL,
    Account,
    Entry,
    Order,
    SystemAccounts,
    World,
    post,
)
from money import fee_for

SYSTEM = {"USD": SystemAccounts(external=1, fees=2)}
ADA, BOB = Account(10, 100, "USD", 5_000), Account(11, 101, "USD", 0)
ACCOUNTS = {a.id: a for a in (ADA, BOB)}


def order(n: int, kind: str, amount: int, *, fee: int = 0, wallet: Account = ADA,
          to: Account | None = None) -> Order:
    return Order(n, wallet.user_id, kind, "USD", amount, fee, wallet.id,
                 to.id if to is not None else None)


# -- the rules, one example each ----------------------------------------------------------------
def test_a_deposit_credits_the_amount_net_of_its_fee_and_books_the_fee():
    result = post([order(1, DEPOSIT, 10_000, fee=50)], World(ACCOUNTS, SYSTEM))
    [outcome] = result.outcomes
    assert outcome.succeeded and result.balances == {ADA.id: 14_950}
    assert outcome.entries == (Entry(ADA.id, DEPOSIT, 9_950, 50, 14_950),
                               Entry(1, DEPOSIT, -10_000, counterparty_wallet_id=ADA.id),
                               Entry(2, "fee", 50, counterparty_wallet_id=ADA.id))


def test_a_withdrawal_debits_the_whole_amount_and_the_outside_gets_it_net_of_the_fee():
    result = post([order(1, WITHDRAWAL, 1_000, fee=10)], World(ACCOUNTS, SYSTEM))
    [outcome] = result.outcomes
    assert result.balances == {ADA.id: 4_000}
    assert outcome.entries == (Entry(ADA.id, WITHDRAWAL, -1_000, 10, 4_000),
                               Entry(1, WITHDRAWAL, 990, counterparty_wallet_id=ADA.id),
                               Entry(2, "fee", 10, counterparty_wallet_id=ADA.id))


def test_a_transfers_fee_comes_out_of_what_arrives():
    result = post([order(1, TRANSFER, 1_000, fee=30, to=BOB)], World(ACCOUNTS, SYSTEM))
    [outcome] = result.outcomes
    assert result.balances == {ADA.id: 4_000, BOB.id: 970}
    assert outcome.counterpart_user_id == BOB.user_id
    assert outcome.entries[:2] == (
        Entry(ADA.id, "transfer_out", -1_000, 30, 4_000, counterparty_wallet_id=BOB.id),
        Entry(BOB.id, "transfer_in", 970, 0, 970, counterparty_wallet_id=ADA.id))


def test_paying_more_than_the_balance_fails_with_insufficient_funds_and_changes_nothing():
    result = post([order(1, WITHDRAWAL, 5_001)], World(ACCOUNTS, SYSTEM))
    [outcome] = result.outcomes
    assert isinstance(outcome.failure, InsufficientFunds) and outcome.entries == ()
    assert result.balances == {} and result.deltas(ACCOUNTS) == {}


def test_a_wallet_that_is_gone_or_closed_fails_the_request():
    closed = {**ACCOUNTS, BOB.id: Account(BOB.id, BOB.user_id, "USD", 0, closed=True)}
    gone = post([order(1, TRANSFER, 10, to=Account(99, 1, "USD", 0))],
                World(ACCOUNTS, SYSTEM)).outcomes[0]
    shut = post([order(2, TRANSFER, 10, to=BOB)], World(closed, SYSTEM)).outcomes[0]
    assert isinstance(gone.failure, WalletGone) and gone.failure.code == "wallet_not_found"
    assert isinstance(shut.failure, WalletClosed) and shut.failure.code == "wallet_closed"


def test_a_later_request_sees_the_effect_of_an_earlier_one_in_the_same_list():
    # Given Bob with nothing, a transfer to him, then his own withdrawal of what arrived
    result = post([order(1, TRANSFER, 2_000, to=BOB),
                   order(2, WITHDRAWAL, 2_000, wallet=BOB),
                   order(3, WITHDRAWAL, 1, wallet=BOB)], World(ACCOUNTS, SYSTEM))
    # Then the withdrawal is covered by the transfer, and the next one is not
    assert [o.succeeded for o in result.outcomes] == [True, True, False]
    assert result.balances == {ADA.id: 3_000, BOB.id: 0}
    # And each entry shows the balance right after its own request
    assert [e.balance_after for e in result.outcomes[1].entries[:1]] == [0]
    assert result.deltas(ACCOUNTS) == {ADA.id: -2_000}


# -- what holds for any list of requests ------------------------------------------------------
KINDS = [DEPOSIT, WITHDRAWAL, TRANSFER]


@st.composite
def worlds(draw):
    """Some wallets (a few closed), a list of requests over them (some naming a wallet that
    does not exist), and fee rates."""
    n = draw(st.integers(1, 5))
    accounts = {10 + i: Account(10 + i, 100 + i, "USD", draw(st.integers(0, 10_000)),
                                closed=draw(st.booleans()) and draw(st.booleans()))
                for i in range(n)}
    ids = list(accounts) + [99]  # 99: gone
    orders = []
    for k in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(KINDS))
        amount = draw(st.integers(1, 12_000))
        fee = fee_for(amount, draw(st.integers(0, 10_000)))
        wallet = draw(st.sampled_from(ids))
        to = draw(st.sampled_from([i for i in ids if i != wallet] or [99])) \
            if kind == TRANSFER else None
        orders.append(Order(k + 1, 1, kind, "USD", amount, fee, wallet, to))
    return accounts, orders


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_no_list_of_requests_breaks_the_ledger(world):
    accounts, orders = world
    result = post(orders, World(accounts, SYSTEM))
    assert [o.order for o in result.outcomes] == orders
    moved = dict.fromkeys(accounts, 0)
    for outcome in result.outcomes:
        # Each succeeded request's entries sum to zero; a failed one has none
        assert sum(e.amount for e in outcome.entries) == 0
        assert outcome.succeeded or outcome.entries == ()
        # The fee entry is the request's fee, exactly, when there is one
        fees = [e.amount for e in outcome.entries if e.type == "fee"]
        assert fees == ([outcome.order.fee] if outcome.succeeded and outcome.order.fee else [])
        for entry in outcome.entries:
            if entry.wallet_id in accounts:
                moved[entry.wallet_id] += entry.amount
                assert entry.balance_after is not None and entry.balance_after >= 0
            else:
                assert entry.wallet_id in (1, 2) and entry.balance_after is None
    # No wallet ends negative, and every balance is the start plus what its entries moved
    for wid, account in accounts.items():
        assert result.balances.get(wid, account.balance) == account.balance + moved[wid] >= 0
    # Closed and missing wallets were never touched
    assert all(not accounts[wid].closed for wid in result.balances)


@settings(max_examples=200, deadline=None)
@given(worlds(), st.integers(0, 12))
def test_a_request_that_fails_leaves_every_other_outcome_as_it_would_be_without_it(world, k):
    accounts, orders = world
    result = post(orders, World(accounts, SYSTEM))
    failed = [o.order for o in result.outcomes if not o.succeeded]
    assume(failed)
    # Taking a failed request out of the list changes no other request's outcome
    dropped = failed[k % len(failed)]
    without = post([o for o in orders if o != dropped], World(accounts, SYSTEM))
    assert [(o.order, o.entries, type(o.failure)) for o in without.outcomes] == \
        [(o.order, o.entries, type(o.failure)) for o in result.outcomes if o.order != dropped]
    assert without.balances == result.balances
