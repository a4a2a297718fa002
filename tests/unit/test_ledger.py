"""The ledger's one INSERT of a request's entries (pure: the statement is built, not run)."""
from datetime import datetime

import pytest

from ledger.entries import entries_insert
from ledger.posting import Entry

NOW = datetime(2026, 11, 30, 12, 0, 0)


def test_balanced_entries_become_one_multi_row_insert_with_every_field_as_a_parameter():
    # Given a deposit's three entries, which sum to zero
    entries = [Entry(7, "deposit", 9_950, 50, 9_950), Entry(1, "deposit", -10_000, 0, None, 7),
               Entry(2, "fee", 50, 0, None, 7)]

    # When the insert is built
    statement = entries_insert([(41, entries)], now=NOW)

    # Then it is one INSERT of three rows, every value a parameter, with no row count to hit
    assert statement.sql.startswith("INSERT INTO transactions (")
    assert statement.sql.count("(%s, %s, %s, %s, %s, %s, %s, %s)") == 3
    assert statement.params == (41, 7, "deposit", 9_950, 50, 9_950, None, NOW,
                                41, 1, "deposit", -10_000, 0, None, 7, NOW,
                                41, 2, "fee", 50, 0, None, 7, NOW)
    assert statement.rows is None


def test_a_batchs_entries_are_one_insert_each_row_naming_its_request():
    deposit = [Entry(7, "deposit", 100, 0, 100), Entry(1, "deposit", -100, 0, None, 7)]
    transfer = [Entry(7, "transfer_out", -40, 0, 60, 8), Entry(8, "transfer_in", 40, 0, 40, 7)]
    statement = entries_insert([(41, deposit), (42, transfer)], now=NOW)
    assert statement.sql.count("(%s, %s, %s, %s, %s, %s, %s, %s)") == 4
    assert statement.params[::8] == (41, 41, 42, 42)


def test_one_unbalanced_request_refuses_the_whole_batch():
    good = [Entry(7, "deposit", 100), Entry(1, "deposit", -100)]
    with pytest.raises(ValueError, match="request 42"):
        entries_insert([(41, good), (42, [Entry(7, "deposit", 5)])], now=NOW)


@pytest.mark.parametrize("amounts", [
    (9_950, -10_000),          # a deposit whose fee entry was forgotten
    (-3_000, 2_970),           # a transfer's fee taken from the recipient and booked nowhere
    (-3_000, 3_000, 30),       # a fee booked on top of a balanced pair
    (1,),                      # one entry alone
])
def test_entries_that_do_not_sum_to_zero_are_refused_before_any_sql_is_built(amounts):
    # Given entries that would create or destroy money
    entries = [Entry(index + 1, "transfer_out", amount) for index, amount in enumerate(amounts)]

    # When the insert is built, Then it is refused, naming the request
    with pytest.raises(ValueError, match="request 41"):
        entries_insert([(41, entries)], now=NOW)
