"""The places `?wait=` polls take: bounded in total and per user, given back when done."""
from web.polls import Slots


def test_slots_are_bounded_in_total_and_per_user_and_given_back_when_done():
    # Given three places in all, two per user
    slots = Slots(total=3, per_user=2)
    # When a user takes two and asks for a third, and another user takes two
    with slots.take(1) as a, slots.take(1) as b, slots.take(1) as c:
        with slots.take(2) as d, slots.take(2) as e:
            # Then the first user's third and the other's second are refused, since all
            # three places are taken
            assert (a, b, c, d, e) == (True, True, False, True, False)
            assert slots.waiting() == 3
        assert slots.waiting() == 2
    # And every place is given back once the polls are done, refused ones included
    assert slots.waiting() == 0
    with slots.take(2) as again:
        assert again and slots.waiting() == 1
