"""The order in which settlements take wallets (pure: no database is touched)."""
from hypothesis import given
from hypothesis import strategies as st

from locking import lock_order


def test_lock_order_sorts_wallet_ids_ascending():
    # Given ids in no particular order
    ids = [42, 7, 19, 3]

    # When they are put in lock order
    ordered = lock_order(ids)

    # Then they ascend
    assert ordered == [3, 7, 19, 42]


def test_lock_order_takes_each_wallet_once():
    # Given ids with repeats (a wallet named twice in one settlement)
    ids = [5, 2, 5, 9, 2, 2]

    # When they are put in lock order
    ordered = lock_order(ids)

    # Then each appears once
    assert ordered == [2, 5, 9]


def test_lock_order_accepts_any_iterable_and_returns_a_list():
    # Given ids from a generator and from the keys of a dict of deltas
    deltas = {11: -100, 4: 100}

    # When they are put in lock order, Then each gives a plain ascending list
    assert lock_order(i for i in (3, 1, 2)) == [1, 2, 3]
    assert lock_order(deltas) == [4, 11]
    assert lock_order([]) == []


@given(st.lists(st.integers(min_value=1, max_value=2**63 - 1)))
def test_lock_order_is_the_sorted_set_of_its_input_for_any_ids(ids):
    # Given any list of wallet ids
    # When they are put in lock order
    ordered = lock_order(ids)

    # Then the result is strictly ascending and holds exactly the distinct ids
    assert all(a < b for a, b in zip(ordered, ordered[1:], strict=False))
    assert set(ordered) == set(ids) and len(ordered) == len(set(ids))
