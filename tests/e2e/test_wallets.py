"""Wallets over real HTTP: creation, reads, deletion, idempotency, concurrency, history pages."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.helpers import Client, is_problem, unique

WALLET_FIELDS = {"id", "currency", "balance", "held_balance", "available_balance", "version",
                 "created_at", "updated_at"}
THREADS = 20


def create(client: Client, currency: str, key: str | None = None) -> requests.Response:
    return client.call("POST", "/v1/wallets", json={"currency": currency},
                       key=unique("w") if key is None else key)


def in_parallel(client: Client, calls: list[dict]) -> list[requests.Response]:
    """Send each call at once from its own thread, each with its own HTTP session."""
    def send(call: dict) -> requests.Response:
        with requests.Session() as http:
            headers = {"Authorization": f"Bearer {client.token}", **call.get("headers", {})}
            return http.request(call["method"], client.base + call["path"], json=call.get("json"),
                                headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(send, calls))


def settled_deposit(client: Client, wallet_id: int, amount: str) -> dict:
    done = client.settled(client.deposit(wallet_id, amount)["id"])
    assert done["status"] == "succeeded", done
    return done


# -- create, read, list -----------------------------------------------------------------
@pytest.mark.parametrize("currency, balance", [("USD", "0.00"), ("JPY", "0"), ("KWD", "0.000")])
def test_a_new_wallet_is_empty_in_its_currencys_decimals(client, currency, balance):
    # Given a user / When it opens a wallet
    res = create(client, currency)
    # Then it is 201 with the wallet, at its Location, holding zero in the currency's decimals
    assert res.status_code == 201, res.text
    body = res.json()
    assert set(body) == WALLET_FIELDS
    assert body["currency"] == currency and body["balance"] == balance and body["version"] == 0
    assert body["held_balance"] == body["available_balance"] == balance
    assert res.headers["Location"] == f"/v1/wallets/{body['id']}"
    assert "Idempotent-Replayed" not in res.headers
    # And reading it back gives the same wallet
    assert client.call("GET", res.headers["Location"]).json() == body


@pytest.mark.parametrize("currency", ["usd", "XXX", "XAU", "ABC", "", "US", 840, None, ["USD"]])
def test_a_currency_that_is_not_an_active_iso_code_is_unsupported(client, currency):
    res = create(client, currency)
    assert is_problem(res, 422, "unsupported_currency")
    assert res.json()["errors"][0]["field"] == "currency"
    assert client.call("GET", "/v1/wallets").json()["items"] == []


def test_the_wallet_list_holds_only_the_callers_live_wallets(client, other):
    # Given the caller's USD and EUR wallets (EUR then closed) and someone else's USD wallet
    usd = client.open_wallet("USD")
    eur = client.open_wallet("EUR")
    other.open_wallet("USD")
    assert client.call("DELETE", f"/v1/wallets/{eur['id']}").status_code == 204
    # When the caller lists its wallets
    res = client.call("GET", "/v1/wallets")
    # Then it sees only its live USD wallet
    assert res.status_code == 200
    assert res.json() == {"items": [client.wallet(usd["id"])]}


def test_someone_elses_wallet_is_not_found_whatever_is_asked(client, other):
    # Given a wallet of another user
    theirs = other.open_wallet("USD")
    base = f"/v1/wallets/{theirs['id']}"
    # When the caller reads, deletes, lists or deposits into it
    answers = [client.call("GET", base), client.call("DELETE", base),
               client.call("GET", base + "/transactions"),
               client.call("POST", base + "/deposits", json={"amount": "1.00"}, key=unique())]
    # Then every answer is 404 wallet_not_found, and the wallet is untouched
    assert all(is_problem(res, 404, "wallet_not_found") for res in answers)
    still = other.wallet(theirs["id"])
    assert (still["balance"], still["version"]) == ("0.00", 0)
    assert other.call("GET", "/v1/requests").json()["items"] == []


@pytest.mark.parametrize("wallet_id", ["999999999999", "0", "abc", "1.5", "-1",
                                       "1" * 19, "%C3%A9"])
def test_a_wallet_id_that_names_no_wallet_is_not_found(client, wallet_id):
    assert is_problem(client.call("GET", f"/v1/wallets/{wallet_id}"), 404, "wallet_not_found")


# -- delete -----------------------------------------------------------------------------
def test_a_deleted_wallet_is_gone_and_its_currency_can_be_opened_again(client):
    # Given an empty wallet
    wallet = client.open_wallet("GBP")
    # When it is deleted
    res = client.call("DELETE", f"/v1/wallets/{wallet['id']}")
    # Then it is 204, reads and deletes of it are 404, and a new GBP wallet can be opened
    assert res.status_code == 204 and res.content == b""
    assert is_problem(client.call("GET", f"/v1/wallets/{wallet['id']}"), 404, "wallet_not_found")
    assert is_problem(client.call("DELETE", f"/v1/wallets/{wallet['id']}"), 404,
                      "wallet_not_found")
    again = create(client, "GBP")
    assert again.status_code == 201 and again.json()["id"] != wallet["id"]


def test_a_wallet_holding_money_cannot_be_deleted(client):
    # Given a wallet holding a settled deposit
    wallet = client.open_wallet("USD")
    settled_deposit(client, wallet["id"], "1.00")
    # When it is deleted / Then it is 409 wallet_not_empty and still there
    assert is_problem(client.call("DELETE", f"/v1/wallets/{wallet['id']}"), 409,
                      "wallet_not_empty")
    assert client.wallet(wallet["id"])["balance"] == "0.99"


# -- idempotency ------------------------------------------------------------------------
def test_a_replayed_key_returns_the_first_response(client):
    # Given a wallet created with a key
    key = unique("k")
    first = create(client, "USD", key)
    assert first.status_code == 201
    # When the same call is sent again with the same key
    again = create(client, "USD", key)
    # Then the answer is the same status and the same body, marked as a replay
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    # And there is still one wallet
    assert len(client.call("GET", "/v1/wallets").json()["items"]) == 1


def test_a_replay_shows_the_wallet_as_it_was_created_even_after_it_changed(client):
    # Given a wallet created with a key, that has since received money
    key = unique("k")
    first = create(client, "USD", key)
    settled_deposit(client, first.json()["id"], "2.00")
    # When the creation is replayed / Then the first answer comes back unchanged
    again = create(client, "USD", key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.json()["balance"] == "0.00"


def test_a_key_reused_with_another_body_is_refused(client):
    # Given a USD wallet created with a key
    key = unique("k")
    assert create(client, "USD", key).status_code == 201
    # When the key comes back asking for EUR
    res = create(client, "EUR", key)
    # Then it is 422 idempotency_key_reused and no EUR wallet exists
    assert is_problem(res, 422, "idempotency_key_reused")
    assert [w["currency"] for w in client.call("GET", "/v1/wallets").json()["items"]] == ["USD"]


def test_a_key_used_on_a_deposit_cannot_create_a_wallet(client):
    # Given a deposit made with a key
    wallet = client.open_wallet("USD")
    key = unique("k")
    res = client.call("POST", f"/v1/wallets/{wallet['id']}/deposits", json={"amount": "1.00"},
                      key=key)
    assert res.status_code == 202
    # When the same key is used to open a wallet / Then it is 422 idempotency_key_reused
    assert is_problem(create(client, "EUR", key), 422, "idempotency_key_reused")
    assert len(client.call("GET", "/v1/wallets").json()["items"]) == 1


def test_a_key_used_to_create_a_wallet_cannot_make_a_deposit(client):
    key = unique("k")
    wallet = create(client, "USD", key).json()
    res = client.call("POST", f"/v1/wallets/{wallet['id']}/deposits", json={"amount": "1.00"},
                      key=key)
    assert is_problem(res, 422, "idempotency_key_reused")
    assert client.call("GET", "/v1/requests").json()["items"] == []


def test_keys_are_scoped_per_user(client, other):
    # Given a key one user used / When another user uses it / Then it is a new call for them
    key = unique("k")
    mine, theirs = create(client, "USD", key), create(other, "USD", key)
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_write_without_an_idempotency_key_is_refused(client):
    res = client.call("POST", "/v1/wallets", json={"currency": "USD"})
    assert is_problem(res, 400, "idempotency_key_required")
    assert client.call("GET", "/v1/wallets").json()["items"] == []


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "two words", "tab\there"])
def test_a_key_that_is_not_1_to_255_visible_ascii_characters_is_invalid(client, key):
    # requests sends str headers as latin-1, so the non-ASCII key reaches the server as-is
    res = client.call("POST", "/v1/wallets", json={"currency": "USD"}, key=key)
    assert is_problem(res, 400, "invalid_idempotency_key")
    assert client.call("GET", "/v1/wallets").json()["items"] == []


def test_a_key_of_255_visible_ascii_characters_is_accepted(client):
    key = ("!~" + unique("k") + "x" * 255)[:255]
    first, again = create(client, "USD", key), create(client, "USD", key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_call_refused_with_a_4xx_consumed_nothing_and_its_key_can_be_used_again(client):
    # Given a key whose first call was refused (unsupported currency)
    key = unique("k")
    assert create(client, "XXX", key).status_code == 422
    # When the key is used again for a good call / Then it creates the wallet
    res = create(client, "USD", key)
    assert res.status_code == 201 and "Idempotent-Replayed" not in res.headers


# -- concurrency ------------------------------------------------------------------------
@pytest.mark.slow
def test_concurrent_creates_with_one_key_make_one_wallet_and_one_answer(client):
    # Given one key sent by 20 callers at once
    key = unique("k")
    calls = [{"method": "POST", "path": "/v1/wallets", "json": {"currency": "CHF"},
              "headers": {"Idempotency-Key": key}}] * THREADS
    # When they all land together
    answers = in_parallel(client, calls)
    # Then all 20 got the same 201 body, one of them the original
    assert [res.status_code for res in answers] == [201] * THREADS, [r.text for r in answers]
    assert len({res.content for res in answers}) == 1
    assert sum("Idempotent-Replayed" not in res.headers for res in answers) == 1
    # And exactly one wallet exists
    assert len(client.call("GET", "/v1/wallets").json()["items"]) == 1


@pytest.mark.slow
def test_concurrent_creates_of_one_currency_with_different_keys_make_one_wallet(client):
    # Given 20 callers opening a CHF wallet at once, each with its own key
    calls = [{"method": "POST", "path": "/v1/wallets", "json": {"currency": "CHF"},
              "headers": {"Idempotency-Key": unique("k")}} for _ in range(THREADS)]
    # When they all land together
    answers = in_parallel(client, calls)
    # Then exactly one got 201 and the other 19 got 409 wallet_exists
    created = [res for res in answers if res.status_code == 201]
    refused = [res for res in answers if res.status_code != 201]
    assert len(created) == 1, [r.text for r in answers]
    assert len(refused) == THREADS - 1
    assert all(is_problem(res, 409, "wallet_exists") for res in refused)
    # And the list holds that one CHF wallet
    items = client.call("GET", "/v1/wallets").json()["items"]
    assert [(w["id"], w["currency"]) for w in items] == [(created[0].json()["id"], "CHF")]


@pytest.mark.slow
def test_one_key_sent_to_two_endpoints_at_once_makes_one_thing(client):
    # Fifteen trials: each sends one fresh key to POST /v1/wallets and to a deposit at the
    # same moment. The key used to be reserved once per endpoint, and both calls could win.
    wallet = client.open_wallet("USD")
    currencies = ["EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN",
                  "CZK", "HUF", "KWD", "NGN"]
    deposits_made = 0
    for currency in currencies:
        key = unique("k")
        calls = [{"method": "POST", "path": "/v1/wallets", "json": {"currency": currency},
                  "headers": {"Idempotency-Key": key}},
                 {"method": "POST", "path": f"/v1/wallets/{wallet['id']}/deposits",
                  "json": {"amount": "1.00"}, "headers": {"Idempotency-Key": key}}]
        # When both land together
        created, deposited = in_parallel(client, calls)
        # Then exactly one made something; the other was refused as a reused key
        codes = sorted([created.status_code, deposited.status_code])
        assert codes in ([201, 422], [202, 422]), (created.text, deposited.text)
        refused = created if created.status_code == 422 else deposited
        assert is_problem(refused, 422, "idempotency_key_reused")
        deposits_made += deposited.status_code == 202
        # And the API agrees: a wallet in that currency, or a deposit, never both
        opened = {w["currency"] for w in client.call("GET", "/v1/wallets").json()["items"]}
        assert (currency in opened) == (created.status_code == 201)
        requests_made = client.call("GET", "/v1/requests?limit=100").json()["items"]
        assert len(requests_made) == deposits_made


# -- the transactions page --------------------------------------------------------------
@pytest.fixture
def three_deposits(client) -> tuple[dict, list[dict]]:
    """A USD wallet with three settled deposits of 100.00, settled one after another."""
    wallet = client.open_wallet("USD")
    return wallet, [settled_deposit(client, wallet["id"], "100.00") for _ in range(3)]


def transactions(client: Client, wallet_id: int, query: str = "") -> requests.Response:
    return client.call("GET", f"/v1/wallets/{wallet_id}/transactions{query}")


def test_the_transactions_page_lists_deposits_newest_first_net_of_fee(client, three_deposits):
    wallet, deposits = three_deposits
    # When the wallet's transactions are listed
    res = transactions(client, wallet["id"])
    # Then the three deposits are there, newest first, each 99.50 net with a 0.50 fee
    assert res.status_code == 200, res.text
    page = res.json()
    assert page["next_cursor"] is None
    items = page["items"]
    assert [i["request_id"] for i in items] == [d["id"] for d in reversed(deposits)]
    assert [(i["type"], i["amount"], i["fee"]) for i in items] == [("deposit", "99.50", "0.50")] * 3
    assert [i["balance_after"] for i in items] == ["298.50", "199.00", "99.50"]
    assert items[0]["id"] > items[1]["id"] > items[2]["id"]
    assert set(items[0]) == {"id", "request_id", "type", "amount", "fee", "balance_after",
                             "counterparty_wallet_id", "created_at", "description"}
    # And the balance is the sum of the entries
    assert client.wallet(wallet["id"])["balance"] == "298.50"


def test_a_limited_page_gives_a_cursor_to_the_rest(client, three_deposits):
    wallet, _ = three_deposits
    full = transactions(client, wallet["id"]).json()["items"]
    # When the first page is limited to 2
    first = transactions(client, wallet["id"], "?limit=2").json()
    # Then it holds the 2 newest and a cursor
    assert first["items"] == full[:2] and isinstance(first["next_cursor"], str)
    # And the cursor yields the remaining one, and no further cursor
    second = transactions(client, wallet["id"], f"?limit=2&cursor={first['next_cursor']}").json()
    assert second == {"items": full[2:], "next_cursor": None}


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", ""])
def test_a_limit_outside_1_to_100_is_a_validation_error(client, limit):
    wallet = client.open_wallet("USD")
    res = transactions(client, wallet["id"], f"?limit={limit}")
    assert is_problem(res, 422, "validation_error")
    assert res.json()["errors"][0]["field"] == "limit"


@pytest.mark.parametrize("limit, count", [("1", 1), ("100", 3)])
def test_a_limit_from_1_to_100_is_accepted(client, three_deposits, limit, count):
    wallet, _ = three_deposits
    res = transactions(client, wallet["id"], f"?limit={limit}")
    assert res.status_code == 200 and len(res.json()["items"]) == count


def test_a_forged_truncated_or_foreign_cursor_is_refused(client, three_deposits):
    # Given a genuine cursor of this wallet's list, and a second wallet of the same user
    wallet, _ = three_deposits
    genuine = transactions(client, wallet["id"], "?limit=1").json()["next_cursor"]
    second = client.open_wallet("EUR")
    client.log_in()  # a second login, so the login list has a next page
    logins_cursor = client.call("GET", "/v1/me/logins?limit=1").json()["next_cursor"]
    assert genuine and logins_cursor
    # When cursors that are not this list's own are used on it
    attempts = [
        (wallet["id"], "AAAAAAAAAAAAAAAAAAAAAAAAAAA"),   # forged
        (wallet["id"], "not-a-cursor"),                  # random
        (wallet["id"], genuine[:-3]),                     # truncated
        (second["id"], genuine),                          # another wallet's
        (wallet["id"], logins_cursor),                    # another list's
    ]
    # Then each is 400 invalid_cursor
    for wallet_id, bad in attempts:
        assert is_problem(transactions(client, wallet_id, f"?cursor={bad}"), 400,
                          "invalid_cursor"), bad
    # While the genuine one still works where it belongs
    assert transactions(client, wallet["id"], f"?cursor={genuine}").status_code == 200


def test_another_users_cursor_is_refused_on_the_callers_own_list(client, other):
    # Given another user with two logins, and so a login-list cursor
    other.log_in()
    theirs = other.call("GET", "/v1/me/logins?limit=1").json()["next_cursor"]
    assert theirs
    # When the caller uses it on its own login list / Then it is 400 invalid_cursor
    assert is_problem(client.call("GET", f"/v1/me/logins?cursor={theirs}"), 400,
                      "invalid_cursor")
