"""When a failed webhook delivery is tried again: doubling gaps with +-20 % jitter, capped,
for three days. Pure."""
import random
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from webhooks import schedule

T0 = datetime(2026, 11, 30, 12, 0)
DAYS_3_S = 3 * 24 * 3600


def test_the_gaps_double_from_five_seconds_to_an_hour_each_within_twenty_percent():
    rng = random.Random(1)
    for attempts, base in [(1, 5), (2, 10), (3, 20), (4, 40), (10, 2560), (11, 3600), (30, 3600)]:
        gaps = [schedule.gap_s(attempts, first_s=5, max_s=3600, rng=rng) for _ in range(200)]
        assert all(base * 0.8 <= g <= base * 1.2 for g in gaps)
        # jittered: the retries of many failures do not come back in step
        assert max(gaps) - min(gaps) > base * 0.2


@given(st.integers(1, 60), st.integers(0, DAYS_3_S * 2))
def test_retries_end_once_the_next_would_come_after_three_days(attempts, age_s):
    now = T0 + timedelta(seconds=age_s)
    due = schedule.next_attempt(attempts, now=now, made_at=T0, first_s=5, max_s=3600,
                                retry_for_s=DAYS_3_S, rng=random.Random(attempts))
    if due is None:
        assert age_s + schedule.gap_s(attempts, first_s=5, max_s=3600,
                                      rng=random.Random(attempts)) > DAYS_3_S
    else:
        assert now < due and (due - T0).total_seconds() <= DAYS_3_S


def test_a_receiver_down_from_the_start_is_tried_about_eighty_times_in_three_days():
    rng, now, attempts = random.Random(3), T0, 1
    while (due := schedule.next_attempt(attempts, now=now, made_at=T0, first_s=5, max_s=3600,
                                        retry_for_s=DAYS_3_S, rng=rng)) is not None:
        now, attempts = due, attempts + 1
    assert 70 <= attempts <= 90 and (now - T0) > timedelta(days=2, hours=22)
