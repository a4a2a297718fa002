"""Sessions end when they should: logout, password changes, and profile edits that race.

Over real HTTP against the shared `stack`.
"""
import json
import threading

import jwt
import pytest

import settings
from tests.helpers import PASSWORD, Client, is_problem, unique

NEW_PASSWORD = "a much better passphrase"


def token_of(client: Client, password: str = PASSWORD) -> str:
    res = client.call("POST", "/v1/auth/token", json={"email": client.email,
                                                       "password": password})
    assert res.status_code == 200, res.text
    return res.json()["access_token"]


def me(base: str, token: str):
    return Client(base).call("GET", "/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_logging_out_ends_every_token_issued_before_and_a_login_right_after_works(client):
    # Given two tokens of one user, from two logins
    first, second = token_of(client), token_of(client)
    assert me(client.base, first).status_code == me(client.base, second).status_code == 200
    # When the user logs out with one of them
    res = client.call("POST", "/v1/auth/logout", headers={"Authorization": f"Bearer {first}"})
    # Then it is a 204, and both tokens are 401 from then on
    assert res.status_code == 204 and res.content == b""
    assert is_problem(me(client.base, first), 401, "unauthorized")
    assert is_problem(me(client.base, second), 401, "unauthorized")
    # And a token issued right after, within the same second, works
    assert me(client.base, token_of(client)).status_code == 200


def test_logging_out_without_a_valid_token_is_401_and_ends_nothing(client):
    res = Client(client.base).call("POST", "/v1/auth/logout")
    assert is_problem(res, 401, "unauthorized")
    assert client.call("GET", "/v1/me").status_code == 200


def test_a_password_change_ends_every_earlier_token_including_the_one_that_made_it(client):
    # Given a second token of the user, besides the one the client holds
    other = token_of(client)
    # When the password is changed with the client's token
    res = client.call("PATCH", "/v1/me", json={"password": NEW_PASSWORD,
                                               "current_password": PASSWORD})
    assert res.status_code == 200, res.text
    # Then both tokens are 401, the one that made the change too
    assert is_problem(client.call("GET", "/v1/me"), 401, "unauthorized")
    assert is_problem(me(client.base, other), 401, "unauthorized")
    # And the client logs in again with the new password, and only with it
    assert me(client.base, token_of(client, NEW_PASSWORD)).status_code == 200
    res = client.call("POST", "/v1/auth/token", json={"email": client.email,
                                                       "password": PASSWORD})
    assert is_problem(res, 401, "invalid_credentials")


def test_a_username_change_ends_no_session(client):
    res = client.call("PATCH", "/v1/me", json={"username": client.username + "x"})
    assert res.status_code == 200 and res.json()["username"] == client.username + "x"
    assert client.call("GET", "/v1/me").status_code == 200


def test_a_token_of_an_earlier_generation_made_with_the_real_key_is_refused(client):
    # Given a user who logged out once (its tokens are now of generation 1)
    assert client.call("POST", "/v1/auth/logout").status_code == 204
    fresh = token_of(client)
    assert jwt.decode(fresh, options={"verify_signature": False})["gen"] == 1
    # When someone holding the key mints a token of generation 0 for it
    claims = jwt.decode(fresh, options={"verify_signature": False})
    stale = jwt.encode({**claims, "gen": 0}, settings.JWT_KEY, algorithm="HS256")
    # Then it is 401, while the fresh one works
    assert is_problem(me(client.base, stale), 401, "unauthorized")
    assert me(client.base, fresh).status_code == 200


def keep_renaming(renamer: Client, changed: threading.Event, renames: list[int]) -> None:
    """Rename the user over and over until `changed`, and three times more."""
    n = 0
    while not changed.is_set() or n < 3:
        n += 1
        renames.append(renamer.call("PATCH", "/v1/me", json={
            "username": f"{renamer.username[:28]}r{n % 10}"}).status_code)


def test_username_edits_racing_a_password_change_never_restore_the_old_password(stack):
    # Eight trials: in each, one session renames the user over and over while another
    # changes its password. A rename that saved the whole row it had loaded before the
    # change committed used to write the old password hash back.
    for trial in range(8):
        # Given a user with two sessions
        renamer = Client(stack).sign_up()
        changer_token = token_of(renamer)
        changed = threading.Event()
        renames: list[int] = []

        # When the password changes while the renames run
        thread = threading.Thread(target=keep_renaming, args=(renamer, changed, renames))
        thread.start()
        change = Client(stack).call("PATCH", "/v1/me", json={
            "password": NEW_PASSWORD, "current_password": PASSWORD},
            headers={"Authorization": f"Bearer {changer_token}"})
        changed.set()
        thread.join()
        # Then the change held: only the new password logs in
        assert change.status_code == 200, change.text
        assert set(renames) <= {200, 401} and renames, renames
        res = Client(stack).call("POST", "/v1/auth/token", json={"email": renamer.email,
                                                                  "password": PASSWORD})
        assert is_problem(res, 401, "invalid_credentials"), f"trial {trial}: old password back"
        res = Client(stack).call("POST", "/v1/auth/token", json={"email": renamer.email,
                                                                  "password": NEW_PASSWORD})
        assert res.status_code == 200, f"trial {trial}: the new password was lost: {res.text}"


# Money requests, holds, captures, voids and refunds read their key and body before their
# caller (to read the caller and the wallets, hold or request they name in one query):
# whatever else is wrong, a logged-out token hears 401.
REFUSALS = {
    "nothing else": {},
    "no Idempotency-Key": {"key": None},
    "a body that is not JSON": {"data": b"{not json"},
    "an unknown field": {"extra": {"memo": "x"}},
    "an id that is no id (a string in the body, letters in the path)": {"ids_as_text": True},
    "a wallet that does not exist": {"missing_wallet": True},
}


@pytest.mark.parametrize("kind", ["transfer", "deposit", "withdrawal", "hold", "capture",
                                  "void", "refund"])
@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_logged_out_token_is_401_on_a_money_post_whatever_else_is_wrong(client, other, kind,
                                                                         refusal):
    # Given a wallet, a target, and a token that was logged out (unfunded: a transfer or a
    # withdrawal from it would still be accepted, and fail only when settled)
    source, target = client.open_wallet()["id"], other.open_wallet()["id"]
    token = token_of(client)
    assert Client(client.base).call("POST", "/v1/auth/logout", headers={
        "Authorization": f"Bearer {token}"}).status_code == 204
    client.log_in()
    # When it asks for a money request, with something else wrong or not
    case = REFUSALS[refusal]
    if case.get("missing_wallet"):
        source = target = source + 10**9
    ids = (str(source), str(target)) if case.get("ids_as_text") else (source, target)
    body = {"amount": "1.00", **case.get("extra", {})}
    if kind == "transfer":
        path, body = "/v1/transfers", {**body, "from_wallet_id": ids[0], "to_wallet_id": ids[1]}
    elif kind in ("capture", "void", "refund"):  # of an id that exists or not: 401 first
        letter, rest = {"capture": ("h", "/v1/holds/{}/captures"),
                        "void": ("h", "/v1/holds/{}/void"),
                        "refund": ("r", "/v1/requests/{}/refunds")}[kind]
        path = rest.format(f"{letter if case.get('ids_as_text') else ''}{ids[0]}")
        if kind == "void":
            body = case.get("extra", {})
    else:
        path = f"/v1/wallets/{'w' if case.get('ids_as_text') else ''}{ids[0]}/{kind}s"
        if kind == "hold":
            body = {**body, "to_wallet_id": ids[1]}
    key = case.get("key", unique("k"))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    res = Client(client.base).call("POST", path, key=key, headers=headers,
                                   data=case.get("data", json.dumps(body).encode()))
    # Then it is 401, and the user has no request
    assert is_problem(res, 401, "unauthorized"), res.text
    assert client.call("GET", "/v1/requests").json()["items"] == []


@pytest.mark.parametrize("path", ["/v1/holds/{hold}", "/v1/holds/h{hold}", "/v1/holds/{missing}",
                                  "/v1/requests/{request}", "/v1/requests/r{request}",
                                  "/v1/requests/{missing}?wait=1", "/v1/requests/{request}?wait=x"])
def test_a_logged_out_token_is_401_on_reading_a_hold_or_request_whatever_its_id(client, path):
    # Given a hold the user placed, and a token of theirs that was logged out
    wallet = client.open_wallet()["id"]
    client.deposit(wallet, "10.00")
    placed = client.move(f"/v1/wallets/{wallet}/holds", {"amount": "1.00"})
    token = token_of(client)
    assert Client(client.base).call("POST", "/v1/auth/logout", headers={
        "Authorization": f"Bearer {token}"}).status_code == 204
    # When that token reads the hold or its request: by its id, a malformed id, one that
    # does not exist, or with a malformed wait
    res = Client(client.base).call("GET", path.format(
        hold=placed["hold_id"], request=placed["id"], missing=placed["id"] + 10**9),
        headers={"Authorization": f"Bearer {token}"})
    # Then it is 401 every time, never a 404 or 422 that tells ids or inputs apart
    assert is_problem(res, 401, "unauthorized"), res.text
