"""Log lines that come by the hundred a second are thinned to one a second (infra/logs.py)."""
import logging

from infra.logs import OncePerSecond


def a_record(created: float) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "waitress.queue", "levelno": logging.WARNING,
                                    "msg": "Task queue depth is %d", "args": (3,)})
    record.created = created
    return record


def test_one_line_a_second_goes_through_and_says_how_many_were_held_back():
    thinned = OncePerSecond()
    # Given the first warning of a second goes through, saying none was held back
    first = a_record(100.0)
    assert thinned.filter(first) and first.suppressed == 0
    # When three more come within that second
    assert [thinned.filter(a_record(t)) for t in (100.2, 100.5, 100.99)] == [False] * 3
    # Then the first of the next second goes through and counts those three
    later = a_record(101.01)
    assert thinned.filter(later) and later.suppressed == 3
    # And a quiet gap changes nothing: the next one after it goes through, none held back
    after_gap = a_record(250.0)
    assert thinned.filter(after_gap) and after_gap.suppressed == 0
