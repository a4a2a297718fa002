"""Users and authentication over real HTTP: sign-up, login, throttling, profile, deletion."""
import base64
import hashlib
import hmac
import json
import time

import pytest

import settings
from accounts import auth
from tests.helpers import PASSWORD, Client, is_problem, unique

USER_FIELDS = {"id", "email", "username", "created_at", "updated_at"}


def new_identity() -> dict:
    username = unique("user_")
    return {"email": f"{username}@example.com", "username": username, "password": PASSWORD}


def log_in(client: Client, email: str, password: str, **headers):
    return client.call("POST", "/v1/auth/token", json={"email": email, "password": password},
                       headers=headers)


def without_request_id(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "request_id"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_made_token(claims: dict, *, alg: str = "HS256", key: str | None = None) -> str:
    """A JWT built by hand; alg "none" leaves the signature empty."""
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    signing_input = f"{head}.{b64url(json.dumps(claims).encode())}"
    if alg == "none":
        return signing_input + "."
    mac = hmac.new((key or settings.JWT_KEY).encode(), signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{b64url(mac.digest())}"


# -- sign-up ----------------------------------------------------------------------------
def test_signing_up_returns_the_user_and_never_its_password(stack):
    # Given a new identity with a mixed-case email
    anon = Client(stack)
    identity = new_identity()
    identity["email"] = identity["email"].replace("user_", "User_")
    # When it signs up
    res = anon.call("POST", "/v1/users", json=identity)
    # Then it gets 201 with exactly the User fields, the email in lower case
    assert res.status_code == 201, res.text
    body = res.json()
    assert set(body) == USER_FIELDS
    assert body["email"] == identity["email"].lower() and body["username"] == identity["username"]
    assert isinstance(body["id"], int) and body["created_at"].endswith("Z")
    assert res.headers["Location"] == "/v1/me"
    # And neither the password nor any hash appears anywhere in the response
    assert PASSWORD not in res.text and "argon2" not in res.text and "hash" not in res.text


def test_an_email_already_registered_is_taken_whatever_its_case(client):
    # Given a registered user
    for email in (client.email, client.email.upper()):
        # When someone signs up with its email (as registered, then in upper case)
        res = client.call("POST", "/v1/users", json={**new_identity(), "email": email})
        # Then it is 409 email_taken
        assert is_problem(res, 409, "email_taken")


def test_a_username_already_taken_is_refused(client):
    res = client.call("POST", "/v1/users", json={**new_identity(), "username": client.username})
    assert is_problem(res, 409, "username_taken")


@pytest.mark.parametrize("field, value", [
    ("email", "not-an-email"),
    ("email", "two@@example.com"),
    ("email", "spaces in@example.com"),
    ("email", "nul\u0000@example.com"),
    ("email", "nodomain@example"),
    ("email", ""),
    ("username", "ab"),
    ("username", "x" * 33),
    ("username", "nul\u0000byte"),
    ("username", "bell\u0007name"),
    ("username", "new\nline"),
    ("username", "with space"),
    ("username", "\u00e9l\u00e8ve"),
    ("password", "short"),
    ("password", "1234567"),
    ("password", "p" * 129),
])
def test_a_bad_field_at_sign_up_is_a_validation_error_naming_it(stack, field, value):
    # Given an otherwise good sign-up with one bad field
    res = Client(stack).call("POST", "/v1/users", json={**new_identity(), field: value})
    # Then it is 422 validation_error with an entry for exactly that field
    assert is_problem(res, 422, "validation_error")
    assert [e["field"] for e in res.json()["errors"]] == [field]


def test_every_bad_field_is_reported_at_once(stack):
    res = Client(stack).call("POST", "/v1/users", json={"email": "nope", "username": "a",
                                                        "password": "short"})
    assert is_problem(res, 422, "validation_error")
    assert {e["field"] for e in res.json()["errors"]} == {"email", "username", "password"}


@pytest.mark.parametrize("body", [
    {"username": "someone_ok", "password": PASSWORD},
    {"email": "x@example.com", "username": 12345, "password": PASSWORD},
    {"email": "x@example.com", "username": "someone_ok", "password": None},
])
def test_a_missing_or_non_string_field_is_a_validation_error(stack, body):
    assert is_problem(Client(stack).call("POST", "/v1/users", json=body), 422, "validation_error")


# -- log in -----------------------------------------------------------------------------
def test_logging_in_returns_a_bearer_token_that_works(stack):
    # Given a registered user
    anon = Client(stack)
    identity = new_identity()
    assert anon.call("POST", "/v1/users", json=identity).status_code == 201
    # When it logs in (with its email in another case)
    res = log_in(anon, identity["email"].upper(), PASSWORD)
    # Then it gets a Bearer token with its lifetime, not to be cached
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == settings.TOKEN_TTL_S
    assert res.headers["Cache-Control"] == "no-store"
    # And the token opens /v1/me
    me = anon.call("GET", "/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == identity["username"]


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client):
    # Given a registered user
    # When one login has a wrong password and another an unknown email
    wrong = log_in(client, client.email, "not the password")
    unknown = log_in(client, f"{unique('nobody')}@example.com", PASSWORD)
    # Then both are 401 invalid_credentials, identical apart from the request id
    assert is_problem(wrong, 401, "invalid_credentials")
    assert is_problem(unknown, 401, "invalid_credentials")
    assert without_request_id(wrong.json()) == without_request_id(unknown.json())
    assert wrong.json()["request_id"] != unknown.json()["request_id"]


def test_after_five_failed_logins_the_email_is_locked_out_even_for_the_right_password(client):
    # Given five failed logins for one email
    for _ in range(settings.LOGIN_MAX_FAILURES_PER_EMAIL_IP):
        assert is_problem(log_in(client, client.email, "not the password"), 401,
                          "invalid_credentials")
    # When it tries again, this time with the right password
    res = log_in(client, client.email, PASSWORD)
    # Then it gets 429 too_many_attempts, told when to come back
    assert is_problem(res, 429, "too_many_attempts")
    assert 1 <= int(res.headers["Retry-After"]) <= settings.LOGIN_WINDOW_S
    # And another email from the same address can still log in
    assert log_in(client, *other_user(client.base)).status_code == 200


def other_user(base: str) -> tuple[str, str]:
    identity = new_identity()
    assert Client(base).call("POST", "/v1/users", json=identity).status_code == 201
    return identity["email"], PASSWORD


def test_a_successful_login_clears_the_failures_of_its_email(client):
    # Given four failures, then a success
    for _ in range(settings.LOGIN_MAX_FAILURES_PER_EMAIL_IP - 1):
        assert log_in(client, client.email, "not the password").status_code == 401
    assert log_in(client, client.email, PASSWORD).status_code == 200
    # When it fails four more times / Then it is still not locked out
    for _ in range(settings.LOGIN_MAX_FAILURES_PER_EMAIL_IP - 1):
        assert log_in(client, client.email, "not the password").status_code == 401
    assert log_in(client, client.email, PASSWORD).status_code == 200


def test_every_login_attempt_is_recorded_with_its_address_and_user_agent(client):
    # Given a failed and then a successful login, from two user agents
    assert log_in(client, client.email, "not the password",
                  **{"User-Agent": "failing-agent/1.0"}).status_code == 401
    assert log_in(client, client.email, PASSWORD,
                  **{"User-Agent": "working-agent/2.0"}).status_code == 200
    # When the user lists its logins
    res = client.call("GET", "/v1/me/logins")
    # Then both attempts are there, newest first, after the sign-up's own login
    assert res.status_code == 200, res.text
    items = res.json()["items"]
    assert [(i["success"], i["user_agent"]) for i in items[:2]] == [
        (True, "working-agent/2.0"), (False, "failing-agent/1.0")]
    assert len(items) == 3 and items[2]["success"] is True
    assert all(i["ip_address"] == "127.0.0.1" and i["created_at"] for i in items)
    assert set(items[0]) == {"id", "ip_address", "user_agent", "success", "created_at"}
    assert res.json()["next_cursor"] is None


def test_the_login_list_shows_only_the_callers_own_attempts(client, other):
    # Given another user failing to log in
    assert log_in(other, other.email, "not the password").status_code == 401
    # Then the caller's list holds only its own (one) login
    assert len(client.call("GET", "/v1/me/logins").json()["items"]) == 1


# -- profile ----------------------------------------------------------------------------
def test_me_is_the_callers_user(client):
    res = client.call("GET", "/v1/me")
    assert res.status_code == 200
    assert res.json()["id"] == client.user_id and res.json()["email"] == client.email
    assert set(res.json()) == USER_FIELDS


def test_a_user_can_change_its_username(client):
    # Given a user / When it changes its username
    new_name = unique("renamed_")
    res = client.call("PATCH", "/v1/me", json={"username": new_name})
    # Then the new name is returned and kept
    assert res.status_code == 200, res.text
    assert res.json()["username"] == new_name
    assert res.json()["updated_at"] > res.json()["created_at"]
    assert client.call("GET", "/v1/me").json()["username"] == new_name


def test_a_username_cannot_be_changed_to_one_already_taken(client, other):
    res = client.call("PATCH", "/v1/me", json={"username": other.username})
    assert is_problem(res, 409, "username_taken")
    assert client.call("GET", "/v1/me").json()["username"] == client.username


@pytest.mark.parametrize("body", [
    {"password": "a brand new password"},
    {"password": "a brand new password", "current_password": "not the password"},
])
def test_changing_the_password_needs_the_right_current_password(client, body):
    # When the password change comes without the right current password
    res = client.call("PATCH", "/v1/me", json=body)
    # Then it is 403 invalid_credentials and the old password still works
    assert is_problem(res, 403, "invalid_credentials")
    assert log_in(client, client.email, PASSWORD).status_code == 200


def test_after_a_password_change_only_the_new_password_logs_in(client):
    # Given a password change with the right current password
    res = client.call("PATCH", "/v1/me", json={"password": "a brand new password",
                                               "current_password": PASSWORD})
    assert res.status_code == 200, res.text
    # Then the old password fails and the new one works
    assert is_problem(log_in(client, client.email, PASSWORD), 401, "invalid_credentials")
    assert log_in(client, client.email, "a brand new password").status_code == 200


def test_a_profile_change_with_an_unknown_field_is_refused(client):
    res = client.call("PATCH", "/v1/me", json={"email": "new@example.com"})
    assert is_problem(res, 422, "unknown_field")
    assert client.call("GET", "/v1/me").json()["email"] == client.email


# -- deletion ---------------------------------------------------------------------------
def test_a_deleted_user_loses_its_token_its_login_and_its_names(client):
    # Given a user with an empty wallet
    client.open_wallet("USD")
    # When it deletes itself
    res = client.call("DELETE", "/v1/me")
    # Then it is 204 and its token no longer works
    assert res.status_code == 204 and res.content == b""
    assert is_problem(client.call("GET", "/v1/me"), 401, "unauthorized")
    assert is_problem(client.call("GET", "/v1/wallets"), 401, "unauthorized")
    # And it cannot log in
    assert is_problem(log_in(client, client.email, PASSWORD), 401, "invalid_credentials")
    # And its email and username can be registered again, by a new user
    again = Client(client.base).call("POST", "/v1/users", json={
        "email": client.email, "username": client.username, "password": PASSWORD})
    assert again.status_code == 201, again.text
    assert again.json()["id"] != client.user_id


def test_a_user_whose_wallet_holds_money_cannot_be_deleted(client):
    # Given a wallet holding a settled deposit
    wallet = client.open_wallet("USD")
    assert client.settled(client.deposit(wallet["id"], "10.00")["id"])["status"] == "succeeded"
    # When the user tries to delete itself
    res = client.call("DELETE", "/v1/me")
    # Then it is 409 wallet_not_empty and the user is still there
    assert is_problem(res, 409, "wallet_not_empty")
    assert client.call("GET", "/v1/me").status_code == 200
    assert client.wallet(wallet["id"])["balance"] == "9.95"


# -- tokens over HTTP -------------------------------------------------------------------
def _tokens(user_id: int) -> dict[str, dict]:
    """Authorization headers that must all be refused for this user."""
    now = int(time.time())
    good = auth.issue_token(user_id, 0)[0]
    head, payload, signature = good.split(".")
    other_payload = b64url(json.dumps({"sub": str(user_id + 1), "iat": now,
                                       "exp": now + 600, "gen": 0}).encode())
    claims = {"sub": str(user_id), "iat": now, "exp": now + 600, "gen": 0}
    return {
        "expired": {"Authorization": "Bearer " + auth.issue_token(
            user_id, 0, now=now - settings.TOKEN_TTL_S - 10)[0]},
        "tampered": {"Authorization": f"Bearer {head}.{other_payload}.{signature}"},
        "bad signature": {"Authorization": f"Bearer {head}.{payload}.{signature[::-1]}"},
        "wrong key": {"Authorization": "Bearer " + hand_made_token(
            claims, key="some-other-key-0123456789abcdef0123456789")},
        "alg none": {"Authorization": "Bearer " + hand_made_token(claims, alg="none")},
        "alg HS512 header": {"Authorization": "Bearer " + hand_made_token(claims, alg="HS512")},
        "garbage": {"Authorization": "Bearer garbage"},
        "three garbage parts": {"Authorization": "Bearer a.b.c"},
        "missing Bearer": {"Authorization": good},
        "Basic scheme": {"Authorization": f"Basic {good}"},
        "Bearer without token": {"Authorization": "Bearer "},
        "no header": {},
        "user that never existed": {"Authorization": "Bearer " + auth.issue_token(10**15, 0)[0]},
    }


@pytest.mark.parametrize("case", ["expired", "tampered", "bad signature", "wrong key",
                                  "alg none", "alg HS512 header", "garbage",
                                  "three garbage parts", "missing Bearer", "Basic scheme",
                                  "Bearer without token", "no header",
                                  "user that never existed"])
def test_a_bad_token_is_401_unauthorized(stack, client, case):
    # Given a request whose Authorization is bad in one way
    headers = _tokens(client.user_id)[case]
    # When it asks for /v1/me (with no token of its own attached)
    res = Client(stack).call("GET", "/v1/me", headers=headers)
    # Then it is 401 unauthorized, as problem+json
    assert is_problem(res, 401, "unauthorized")


def test_the_hand_made_tokens_are_faithful(stack, client):
    # The forger used above, given the real key and HS256, makes a token the API accepts,
    # so the refusals above are about what was changed and nothing else.
    now = int(time.time())
    token = hand_made_token({"sub": str(client.user_id), "iat": now, "exp": now + 600,
                             "gen": 0})
    res = Client(stack).call("GET", "/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 200 and res.json()["id"] == client.user_id
