"""Which wallet ids a money request's body names are read ahead, with its caller."""
import pytest

from payments import door


@pytest.mark.parametrize("values, ids", [
    ((5, 7), [5, 7]), ((5,), [5]), ((5, "7"), None), ((True, 7), None), ((5, 7.0), None),
    ((0, 7), None), ((5, None), None), ((5, 2**63), None)])
def test_only_positive_integer_ids_are_read_ahead(values, ids):
    assert door.door_ids(*values) == ids
