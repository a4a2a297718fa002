"""History over HTTP (API.md 1.1, "Metadata, filters, statements, balance at a time"):
filters on the request list and on a wallet's transactions, the balance at a moment,
statements in JSON and streamed CSV; owner-only, bad parameters refused as problems.
"""
import csv
import io
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest

from tests.helpers import Client, is_problem, unique

FAR_PAST, FAR_FUTURE = "2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"
CSV_HEADER = ["id", "created_at", "type", "amount", "fee", "balance_after", "request_id",
              "counterparty_wallet_id", "description"]


def moved(client: Client, path: str, body: dict) -> dict:
    done = client.settled(client.move(path, body)["id"])
    assert done["status"] == "succeeded", done
    return done


def shifted(moment: str, **delta: float) -> str:
    """An RFC 3339 moment `delta` away from one the API gave (…Z, microseconds)."""
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return (parsed + timedelta(**delta)).isoformat(timespec="microseconds").replace(
        "+00:00", "Z")


def q(moment: str) -> str:
    return quote(moment, safe="")


@pytest.fixture
def ledger(client, other) -> dict:
    """A USD wallet with a deposit, a described transfer out and one in, and a withdrawal,
    settled one after another; the other user's wallet the transfers go to and come from."""
    wallet, theirs = client.open_wallet("USD"), other.open_wallet("USD")
    moved(other, f"/v1/wallets/{theirs['id']}/deposits", {"amount": "50.00"})
    done = [moved(client, f"/v1/wallets/{wallet['id']}/deposits",
                  {"amount": "100.00", "description": "salary", "metadata": {"month": "03"}}),
            moved(client, "/v1/transfers", {
                "from_wallet_id": wallet["id"], "to_wallet_id": theirs["id"], "amount": "30.00",
                "description": '=HYPERLINK("http://x"), rent "march"',
                "metadata": {"order": "17"}}),
            moved(other, "/v1/transfers", {"from_wallet_id": theirs["id"],
                                           "to_wallet_id": wallet["id"], "amount": "5.00",
                                           "description": "pizza"}),
            moved(client, f"/v1/wallets/{wallet['id']}/withdrawals", {"amount": "1.00"})]
    entries = client.call("GET", f"/v1/wallets/{wallet['id']}/transactions").json()["items"]
    return {"wallet": wallet, "theirs": theirs, "requests": done,
            "entries": list(reversed(entries))}  # oldest first


def balance(client: Client, wallet_id: int, at: str):
    return client.call("GET", f"/v1/wallets/{wallet_id}/balance?at={q(at)}")


def statement(client: Client, wallet_id: int, start: str, end: str, extra: str = "", **kw):
    return client.call("GET", f"/v1/wallets/{wallet_id}/statement?from={q(start)}&to={q(end)}"
                              f"{extra}", **kw)


# -- balance at a moment ---------------------------------------------------------------------
def test_the_balance_at_a_moment_is_zero_before_the_first_entry_then_the_last_entrys(
        client, ledger):
    wallet_id, entries = ledger["wallet"]["id"], ledger["entries"]
    first, second = entries[0], entries[1]
    # Before the first entry: zero, with the currency's decimals
    res = balance(client, wallet_id, shifted(first["created_at"], microseconds=-1))
    assert res.status_code == 200, res.text
    assert res.json() == {"wallet_id": wallet_id, "currency": "USD", "balance": "0.00",
                          "at": shifted(first["created_at"], microseconds=-1)}
    # At an entry's own moment it counts, and it holds until the next entry
    assert balance(client, wallet_id, first["created_at"]).json()["balance"] == "99.50"
    between = shifted(second["created_at"], microseconds=-1)
    assert balance(client, wallet_id, between).json()["balance"] == "99.50"
    assert balance(client, wallet_id, second["created_at"]).json()["balance"] == "69.50"
    # In the future it is the balance of today
    assert balance(client, wallet_id, FAR_FUTURE).json()["balance"] == \
        client.wallet(wallet_id)["balance"] == "73.50"
    # And an offset is read as the moment it names
    plus_two = datetime.fromisoformat(first["created_at"].replace("Z", "+00:00")).astimezone(
        datetime.now().astimezone().tzinfo.__class__(timedelta(hours=2)))
    res = balance(client, wallet_id, plus_two.isoformat())
    assert res.json()["at"] == first["created_at"] and res.json()["balance"] == "99.50"


# -- statements ------------------------------------------------------------------------------
def test_a_json_statement_lists_the_periods_entries_oldest_first_and_its_balances_agree(
        client, ledger):
    wallet_id, entries = ledger["wallet"]["id"], ledger["entries"]
    # When the statement runs from the second entry (inclusive) to the fourth (exclusive)
    start, end = entries[1]["created_at"], entries[3]["created_at"]
    res = statement(client, wallet_id, start, end)
    # Then it lists the second and third entries, as Transactions, oldest first
    assert res.status_code == 200, res.text
    assert res.headers["Content-Type"].startswith("application/json")
    body = res.json()
    assert body["entries"] == entries[1:3]
    assert {k: v for k, v in body.items() if k != "entries"} == {
        "wallet_id": wallet_id, "currency": "USD", "from": start, "to": end,
        "opening_balance": "99.50", "closing_balance": "74.50"}
    # And opening + the entries' amounts = closing
    assert cents(body["opening_balance"]) + sum(cents(e["amount"]) for e in body["entries"]) \
        == cents(body["closing_balance"])
    # And both sides of the transfers show its description
    assert [e["description"] for e in body["entries"]] == [
        '=HYPERLINK("http://x"), rent "march"', "pizza"]
    # And a period with nothing in it opens and closes at the balance of its start
    empty = statement(client, wallet_id, FAR_PAST, shifted(FAR_PAST, days=366)).json()
    assert (empty["opening_balance"], empty["closing_balance"], empty["entries"]) == \
        ("0.00", "0.00", [])


def cents(amount: str) -> int:
    return round(float(amount) * 100)


def test_a_csv_statement_is_streamed_with_its_header_row_and_one_row_per_entry(client, ledger):
    wallet_id, entries = ledger["wallet"]["id"], ledger["entries"]
    start = shifted(entries[0]["created_at"], microseconds=-1)
    end = shifted(entries[-1]["created_at"], seconds=1)
    # When the statement is asked for as CSV, by Accept or by ?format=csv
    by_accept = statement(client, wallet_id, start, end, headers={"Accept": "text/csv"})
    by_format = statement(client, wallet_id, start, end, "&format=csv")
    # Then both are the same CSV, sent in chunks (no Content-Length: streamed)
    for res in (by_accept, by_format):
        assert res.status_code == 200, res.text
        assert res.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert res.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in res.headers
    assert by_accept.content == by_format.content
    # And the balances travel in headers, agreeing with the rows
    rows = list(csv.reader(io.StringIO(by_format.content.decode("utf-8"))))
    assert rows[0] == CSV_HEADER
    opening = by_format.headers["Statement-Opening-Balance"]
    closing = by_format.headers["Statement-Closing-Balance"]
    assert (opening, closing) == ("0.00", "73.50")
    assert cents(opening) + sum(cents(r[3]) for r in rows[1:]) == cents(closing)
    # And there is one row per entry, oldest first, no summary rows
    assert len(rows) == 1 + len(entries)
    for row, entry in zip(rows[1:], entries, strict=True):
        assert row[:8] == [str(entry["id"]), entry["created_at"], entry["type"],
                           entry["amount"], entry["fee"], entry["balance_after"],
                           str(entry["request_id"]),
                           str(entry["counterparty_wallet_id"] or "")]
    # And a description a spreadsheet would run as a formula is defused, commas and quotes kept
    assert [r[8] for r in rows[1:]] == ["salary", '\'=HYPERLINK("http://x"), rent "march"',
                                        "pizza", ""]
    # And JSON is still the default, and asked for by ?format=json over Accept
    assert statement(client, wallet_id, start, end).headers["Content-Type"] == "application/json"
    assert statement(client, wallet_id, start, end, "&format=json",
                     headers={"Accept": "text/csv"}).json()["closing_balance"] == "73.50"


def test_a_statements_csv_and_json_list_the_same_entries_and_close_at_the_wallets_balance(
        client):
    # Given a wallet with 12 deposits (reading in chunks: tests/integration/test_history.py)
    wallet = client.open_wallet("USD")
    for _ in range(12):
        moved(client, f"/v1/wallets/{wallet['id']}/deposits", {"amount": "1.00"})
    res = statement(client, wallet["id"], FAR_PAST, shifted(FAR_PAST, days=366))
    assert res.json()["entries"] == []
    now = datetime.utcnow()
    start = (now - timedelta(days=1)).isoformat() + "Z"
    end = (now + timedelta(days=1)).isoformat() + "Z"
    rows = list(csv.reader(io.StringIO(statement(client, wallet["id"], start, end,
                                                 "&format=csv").text)))
    assert len(rows) == 13 and rows[-1][5] == "11.88"
    body = statement(client, wallet["id"], start, end).json()
    assert [e["id"] for e in body["entries"]] == [int(r[0]) for r in rows[1:]]
    assert body["closing_balance"] == client.wallet(wallet["id"])["balance"] == "11.88"


def test_someone_elses_wallet_has_no_balance_statement_or_transactions_for_you(
        client, other, ledger):
    # Given another user's wallet, and a closed wallet of the caller's own
    theirs = ledger["theirs"]["id"]
    closed = client.open_wallet("EUR")
    assert client.call("DELETE", f"/v1/wallets/{closed['id']}").status_code == 204
    # Then every read of its history is 404 wallet_not_found, as reading it would be
    for wallet_id in (theirs, closed["id"], 999999999999):
        for path in (f"balance?at={q(FAR_FUTURE)}",
                     f"statement?from={q(FAR_PAST)}&to={q(shifted(FAR_PAST, days=10))}",
                     f"statement?from={q(FAR_PAST)}&to={q(shifted(FAR_PAST, days=10))}"
                     "&format=csv", "transactions?type=deposit"):
            res = client.call("GET", f"/v1/wallets/{wallet_id}/{path}")
            assert is_problem(res, 404, "wallet_not_found"), path
    # And filtering the request list by it is a 404 too
    assert is_problem(client.call("GET", f"/v1/requests?wallet_id={theirs}"), 404,
                      "wallet_not_found")


@pytest.mark.parametrize("query, field", [
    ("", "from"), ("?from=2026-01-01T00:00:00Z", "to"), ("?to=2026-01-01T00:00:00Z", "from"),
    ("?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
    ("?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
    ("?from=2026-01-01T00:00:00Z&to=2027-01-02T00:00:01Z", "to"),
    ("?from=2026-01-01&to=2026-02-01T00:00:00Z", "from"),
    ("?from=2026-01-01T00:00:00&to=2026-02-01T00:00:00Z", "from"),
    ("?from=2026-02-30T00:00:00Z&to=2026-03-01T00:00:00Z", "from"),
    ("?from=yesterday&to=2026-03-01T00:00:00Z", "from"),
    ("?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&format=xml", "format"),
    ("?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&page=2", "page"),
])
def test_a_statement_with_bad_parameters_is_a_validation_error(client, query, field):
    wallet = client.open_wallet("USD")
    res = client.call("GET", f"/v1/wallets/{wallet['id']}/statement{query}")
    assert is_problem(res, 422, "validation_error")
    assert res.json()["errors"][0]["field"] == field


def test_a_statement_of_366_days_is_allowed_and_a_balance_needs_a_valid_moment(client):
    wallet = client.open_wallet("USD")
    assert statement(client, wallet["id"], "2024-01-01T00:00:00Z",
                     "2025-01-01T00:00:00Z").status_code == 200  # 2024 is a leap year
    for query in ("", "?at=soon", "?at=2026-13-01T00:00:00Z", "?at=2026-01-01T00:00:00Z&x=1"):
        res = client.call("GET", f"/v1/wallets/{wallet['id']}/balance{query}")
        assert is_problem(res, 422, "validation_error"), query


# -- filters ---------------------------------------------------------------------------------
def test_request_filters_combine_and_page_stably_while_new_requests_arrive(client, other):
    # Given two wallets with deposits tagged by order, and a transfer between them
    usd, eur = client.open_wallet("USD"), client.open_wallet("EUR")
    tagged = [moved(client, f"/v1/wallets/{usd['id']}/deposits",
                    {"amount": "1.00", "metadata": {"order": "17"}}) for _ in range(3)]
    moved(client, f"/v1/wallets/{usd['id']}/deposits", {"amount": "1.00",
                                                          "metadata": {"order": "18"}})
    moved(client, f"/v1/wallets/{eur['id']}/deposits", {"amount": "1.00",
                                                          "metadata": {"order": "17"}})
    query = f"type=deposit&wallet_id={usd['id']}&metadata%5Border%5D=17&status=succeeded"
    # When the filtered list is read a page of one at a time, a new match arriving meanwhile
    seen, cursor = [], None
    while True:
        res = client.call("GET", f"/v1/requests?{query}&limit=1"
                                 + (f"&cursor={cursor}" if cursor else ""))
        assert res.status_code == 200, res.text
        seen += [r["id"] for r in res.json()["items"]]
        cursor = res.json()["next_cursor"]
        if len(seen) == 1:
            moved(client, f"/v1/wallets/{usd['id']}/deposits",
                  {"amount": "1.00", "metadata": {"order": "17"}})
        if cursor is None:
            break
    # Then it gave exactly the matching requests of when it began, newest first, once each
    assert seen == [r["id"] for r in reversed(tagged)]
    # And a cursor of this filtered list does not page another list
    first = client.call("GET", f"/v1/requests?{query}&limit=1").json()["next_cursor"]
    assert is_problem(client.call("GET", f"/v1/requests?limit=1&cursor={first}"), 400,
                      "invalid_cursor")
    # And the period filters take created_from inclusive, created_to exclusive
    pivot = tagged[1]["created_at"]
    after = client.call("GET", f"/v1/requests?{query}&created_from={q(pivot)}").json()["items"]
    before = client.call("GET", f"/v1/requests?{query}&created_to={q(pivot)}").json()["items"]
    assert tagged[1]["id"] in [r["id"] for r in after]
    assert [r["id"] for r in before] == [tagged[0]["id"]]
    # And the requests show their metadata
    assert after[-1]["metadata"] == {"order": "17"}


@pytest.mark.parametrize("query, field", [
    ("colour=red", "colour"), ("status=done", "status"), ("type=payment", "type"),
    ("wallet_id=abc", "wallet_id"), ("wallet_id=0", "wallet_id"),
    ("created_from=2026-01-01", "created_from"), ("created_to=now", "created_to"),
    ("metadata%5Ba%5D=1&metadata%5Bb%5D=2", "metadata"), ("metadata%5B%5D=1", "metadata[]"),
    ("metadata%5Bno%20spaces%5D=1", "metadata[no spaces]"),
    (f"metadata%5Bk%5D={'v' * 501}", "metadata[k]"), ("metadata=x", "metadata"),
    ("status=failed&status=pending", "status"),
])
def test_unknown_or_malformed_request_filters_are_validation_errors(client, query, field):
    res = client.call("GET", f"/v1/requests?{query}")
    assert is_problem(res, 422, "validation_error")
    assert res.json()["errors"][0]["field"] == field


def test_a_metadata_filter_matches_its_value_exactly_unicode_and_empty_included(client):
    wallet = client.open_wallet("USD")
    accent = moved(client, f"/v1/wallets/{wallet['id']}/deposits",
                   {"amount": "1.00", "metadata": {"city": "Zürich", "note": ""}})
    moved(client, f"/v1/wallets/{wallet['id']}/deposits",
          {"amount": "1.00", "metadata": {"city": "zurich"}})

    def found(key: str, value: str) -> list[int]:
        res = client.call("GET", f"/v1/requests?metadata%5B{key}%5D={quote(value)}")
        assert res.status_code == 200, res.text
        return [r["id"] for r in res.json()["items"]]

    assert found("city", "Zürich") == [accent["id"]]
    assert found("city", "Zurich") == []
    assert found("note", "") == [accent["id"]]
    assert found("missing", "") == []


def test_transaction_filters_combine_with_pagination(client, ledger):
    wallet_id, entries = ledger["wallet"]["id"], ledger["entries"]

    def listed(query: str) -> list[dict]:
        items, cursor = [], None
        while True:
            res = client.call("GET", f"/v1/wallets/{wallet_id}/transactions?{query}&limit=1"
                                     + (f"&cursor={cursor}" if cursor else ""))
            assert res.status_code == 200, res.text
            items += res.json()["items"]
            cursor = res.json()["next_cursor"]
            if cursor is None:
                return items

    newest_first = list(reversed(entries))
    assert listed("type=transfer_in") == [e for e in newest_first if e["type"] == "transfer_in"]
    since_second = f"created_from={q(entries[1]['created_at'])}"
    assert listed(since_second) == newest_first[:3]
    assert listed(f"{since_second}&created_to={q(entries[3]['created_at'])}") == \
        newest_first[1:3]
    assert listed(f"{since_second}&type=withdrawal") == newest_first[:1]
    assert listed("type=refund_in") == []
    for query in ("type=fee", "created_from=tomorrow", "status=succeeded",
                  "type=deposit&type=withdrawal"):
        res = client.call("GET", f"/v1/wallets/{wallet_id}/transactions?{query}")
        assert is_problem(res, 422, "validation_error"), query


def test_an_idempotent_replay_with_other_metadata_is_refused(client):
    # (metadata is part of the fingerprint: already built; checked here from the list's side)
    wallet = client.open_wallet("USD")
    key = unique("k")
    first = client.call("POST", f"/v1/wallets/{wallet['id']}/deposits", key=key,
                        json={"amount": "1.00", "metadata": {"order": "1"}})
    again = client.call("POST", f"/v1/wallets/{wallet['id']}/deposits", key=key,
                        json={"amount": "1.00", "metadata": {"order": "2"}})
    assert first.status_code == 202 and is_problem(again, 422, "idempotency_key_reused")
    listed = client.call("GET", "/v1/requests?metadata%5Border%5D=2").json()["items"]
    assert listed == []
