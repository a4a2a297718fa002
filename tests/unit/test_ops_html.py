"""The ops page's HTML: every value escaped, missing sources shown as unavailable."""
from datetime import datetime, timedelta
from types import SimpleNamespace

from infra.broker import DeadMessage, QueueCounts
from payments.requests import Stats as RequestStats
from web.ops import html as ops_html

NOW = datetime(2026, 1, 2, 3, 4, 5)
HOSTILE = '<script>alert("x")</script>'


def failure(**fields) -> SimpleNamespace:
    row = {"id": 7, "type": "deposit", "amount": 1050, "currency": "USD",
           "created_at": NOW - timedelta(minutes=3), "failure_code": "retries_exhausted",
           "failure_detail": "Gave up after 20 retries."}
    return SimpleNamespace(**{**row, **fields})


def view(**fields) -> ops_html.OpsView:
    parts = {"broker": "RabbitMQ",
             "counts": [QueueCounts("deposits", 1, 2, 3, 4)],
             "stats": RequestStats({"pending": 5, "succeeded": 6, "failed": 7},
                                   NOW - timedelta(seconds=125)),
             "failures": [failure()], "audit": None, "dead": {"deposits": []},
             "dashboard": False, "now": NOW}
    return ops_html.OpsView(**{**parts, **fields})


def test_the_page_shows_counts_statuses_the_oldest_pending_age_and_failures():
    page = ops_html.ops_page(view(), csrf="c5rf", notice=None)
    assert '<td class="n" id="requests-pending">5</td>' in page
    assert '<td class="n" id="requests-failed">7</td>' in page
    assert '<tr id="queue-deposits"><td>deposits</td><td class="n">1</td><td class="n">2</td>' \
           '<td class="n">3</td><td class="n">4</td></tr>' in page
    assert "2 min 5 s" in page and "10.50 USD" in page
    assert 'action="/ops/requests/7/rerun"' in page


def test_every_form_of_a_session_carries_its_csrf_token_and_a_bearers_none():
    page = ops_html.ops_page(view(), csrf="c5rf-token", notice=None)
    assert page.count("<form") == page.count('name="csrf_token" value="c5rf-token"') >= 3
    assert "csrf_token" not in ops_html.ops_page(view(), csrf=None, notice=None)


def test_only_a_retries_exhausted_failure_gets_a_re_run_button():
    page = ops_html.ops_page(view(failures=[failure(id=8, failure_code="insufficient_funds")]),
                             csrf="t", notice=None)
    assert "failure-8" in page and "/ops/requests/8/rerun" not in page


def test_every_value_is_escaped():
    # Given hostile text wherever the page shows stored or broker data
    hostile_view = view(
        failures=[failure(failure_detail=HOSTILE, type=HOSTILE)],
        audit=SimpleNamespace(findings=1, report=HOSTILE, started_at=NOW, finished_at=NOW),
        dead={"deposits": [DeadMessage("deposits", "k", HOSTILE, HOSTILE, (HOSTILE,), 3,
                                       1_700_000_000_000)]})
    # When it is rendered
    page = ops_html.ops_page(hostile_view, csrf='"><b>', notice=HOSTILE)
    # Then no markup got through, only its escaped text
    assert "<script>" not in page and '"><b>' not in page
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 6


def test_counts_the_broker_did_not_give_read_unavailable():
    page = ops_html.ops_page(view(counts=None, dead={"deposits": None}), csrf=None,
                             notice=None)
    assert 'id="counts-unavailable"' in page and "RabbitMQ did not answer" in page
    assert "<h3>deposits.XQ</h3><p class=\"muted\">unavailable</p>" in page


def test_ages_read_in_the_largest_sensible_units():
    assert [ops_html.age(s) for s in (0, 59, 61, 3600 + 120, 2 * 86400 + 3 * 3600)] == \
        ["0 s", "59 s", "1 min 1 s", "1 h 2 min", "2 d 3 h"]
