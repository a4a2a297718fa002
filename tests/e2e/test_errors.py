"""The HTTP edge over real HTTP: problem+json for every error, strict bodies, request ids."""
import json
import re

import pytest
import requests

from tests.helpers import PASSWORD, Client, is_problem, unique

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def post_raw(stack: str, path: str, data: bytes, content_type: str | None = "application/json",
             **headers) -> requests.Response:
    if content_type is not None:
        headers["Content-Type"] = content_type
    return requests.post(stack + path, data=data, headers=headers, timeout=30)


def sign_up_body() -> dict:
    username = unique("user_")
    return {"email": f"{username}@example.com", "username": username, "password": PASSWORD}


# -- routing ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/nope", "/v1/nope", "/v1/wallets/1/nope", "/v2/wallets",
                                  "/v1/users/"])
def test_an_unknown_path_is_404_not_found(stack, path):
    res = requests.get(stack + path, timeout=30)
    assert is_problem(res, 404, "not_found")


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/v1/users", {"POST"}),
    ("GET", "/v1/auth/token", {"POST"}),
    ("PUT", "/v1/me", {"GET", "PATCH", "DELETE"}),
    ("POST", "/v1/wallets/1", {"GET", "DELETE"}),
    ("POST", "/healthz", {"GET"}),
])
def test_a_wrong_method_is_405_with_the_allowed_methods(stack, method, path, allowed):
    # Given a route that exists / When it is called with a method it does not take
    res = requests.request(method, stack + path, timeout=30)
    # Then it is 405 method_not_allowed, with an Allow header naming the methods it takes
    assert is_problem(res, 405, "method_not_allowed")
    named = {m.strip() for m in res.headers["Allow"].split(",")}
    assert allowed <= named and method not in named


# -- bodies -----------------------------------------------------------------------------
@pytest.mark.parametrize("data", [
    b'{"email": ',                                                  # malformed
    b"",                                                            # empty
    b"[]",                                                          # top-level array
    b'[{"email": "a@example.com"}]',
    b'"a string"',
    b"42",
    b"null",
    b'{"email": "a@example.com", "email": "b@example.com"}',       # duplicate keys
    b'{"password": "x", "username": "y", "password": "z"}',
    b'{"email": NaN}',
    b'{"email": Infinity}',
    b'{"email": "\xff\xfe"}',                                       # not UTF-8
    b"{'email': 'single quotes'}",
    b'{"email": "a@example.com",}',                                 # trailing comma
])
def test_a_body_that_is_not_one_strict_json_object_is_400_invalid_json(stack, data):
    res = post_raw(stack, "/v1/users", data)
    assert is_problem(res, 400, "invalid_json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/jsonp", None])
def test_a_body_in_another_media_type_is_415(stack, content_type):
    # Given a JSON text sent as something other than application/json
    data = json.dumps(sign_up_body()).encode()
    res = post_raw(stack, "/v1/users", data, content_type)
    # Then it is 415 unsupported_media_type
    assert is_problem(res, 415, "unsupported_media_type")
    # And no user was made: the same body as application/json still signs up
    assert post_raw(stack, "/v1/users", data).status_code == 201


def test_application_json_with_a_charset_parameter_is_accepted(stack):
    data = json.dumps(sign_up_body()).encode()
    res = post_raw(stack, "/v1/users", data, "application/json; charset=utf-8")
    assert res.status_code == 201, res.text


def test_a_body_over_64_kib_is_413(stack):
    # Given a well-formed JSON object of about 70 KB
    data = json.dumps({**sign_up_body(), "padding": "x" * 70_000}).encode()
    assert len(data) > 64 * 1024
    # When it is posted / Then it is 413 payload_too_large
    assert is_problem(post_raw(stack, "/v1/users", data), 413, "payload_too_large")


def test_a_chunked_body_over_64_kib_is_413_too(stack):
    # Given a 70 KB body sent in chunks, with no Content-Length to judge it by
    def chunks():
        yield b'{"padding": "'
        for _ in range(70):
            yield b"x" * 1000
        yield b'"}'
    res = requests.post(stack + "/v1/users", data=chunks(), timeout=30,
                        headers={"Content-Type": "application/json"})
    # Then it is still 413 payload_too_large
    assert is_problem(res, 413, "payload_too_large")


def test_an_unknown_field_is_422_naming_it(stack):
    res = Client(stack).call("POST", "/v1/users", json={**sign_up_body(), "is_admin": True})
    assert is_problem(res, 422, "unknown_field")
    assert res.json()["errors"] == [{"field": "is_admin", "message": "unknown field"}]


@pytest.mark.parametrize("from_id, to_id", [
    ("string", "string"),
    ("string", "int"),
    ("int", "string"),
    ("true", "int"),
    ("float", "int"),
    ("int", "negative"),
])
def test_wallet_ids_that_are_not_json_integers_are_a_validation_error(client, from_id, to_id):
    # Given two wallets of the caller
    source, target = client.open_wallet("USD"), client.open_wallet("GBP")
    shapes = {"int": lambda w: w["id"], "string": lambda w: str(w["id"]), "true": lambda w: True,
              "float": lambda w: w["id"] + 0.0, "negative": lambda w: -w["id"]}
    # When a transfer names them in another JSON type than an integer
    res = client.call("POST", "/v1/transfers", key=unique(), json={
        "from_wallet_id": shapes[from_id](source), "to_wallet_id": shapes[to_id](target),
        "amount": "1.00"})
    # Then it is 422 validation_error naming each bad field, and nothing was accepted
    assert is_problem(res, 422, "validation_error")
    bad = {name for name, shape in (("from_wallet_id", from_id), ("to_wallet_id", to_id))
           if shape != "int"}
    assert {e["field"] for e in res.json()["errors"]} == bad
    assert client.call("GET", "/v1/requests").json()["items"] == []


def test_an_amount_sent_as_a_boolean_is_not_a_number(client):
    wallet = client.open_wallet("USD")
    res = client.call("POST", f"/v1/wallets/{wallet['id']}/deposits", json={"amount": True},
                      key=unique())
    assert is_problem(res, 422, "invalid_amount")


# -- request ids ------------------------------------------------------------------------
@pytest.mark.parametrize("path, status", [("/healthz", 200), ("/v1/nope", 404),
                                          ("/v1/me", 401)])
def test_a_sane_request_id_is_echoed_on_success_and_error(stack, path, status):
    # Given a caller that sends its own request id
    rid = "trace-" + unique("r") + ":1.a_b"
    # When it calls / Then the response carries the same id
    res = requests.get(stack + path, headers={"X-Request-Id": rid}, timeout=30)
    assert res.status_code == status
    assert res.headers["X-Request-Id"] == rid
    # And an error body quotes it too
    if status >= 400:
        assert is_problem(res, status, res.json()["code"]) and res.json()["request_id"] == rid


@pytest.mark.parametrize("sent", [None, "", "has space", "x" * 65, "semi;colon", "quote\"d",
                                  "caf\u00e9"])
@pytest.mark.parametrize("path, status", [("/healthz", 200), ("/v1/nope", 404)])
def test_a_missing_or_insane_request_id_is_replaced_by_a_generated_one(stack, path, status, sent):
    # Given no request id, or one the service will not echo
    headers = {} if sent is None else {"X-Request-Id": sent}
    # When the caller calls
    res = requests.get(stack + path, headers=headers, timeout=30)
    # Then the response carries a fresh generated id instead
    assert res.status_code == status
    rid = res.headers["X-Request-Id"]
    assert GENERATED_ID.fullmatch(rid) and rid != sent
    if status >= 400:
        assert res.json()["request_id"] == rid


def test_each_response_gets_its_own_generated_request_id(stack):
    ids = {requests.get(stack + "/healthz", timeout=30).headers["X-Request-Id"] for _ in range(5)}
    assert len(ids) == 5


# -- service endpoints ------------------------------------------------------------------
def test_healthz_says_ok(stack):
    res = requests.get(stack + "/healthz", timeout=30)
    assert res.status_code == 200 and res.json() == {"status": "ok"}
    assert res.headers["Content-Type"].startswith("application/json")


def test_readyz_says_every_service_is_ok(stack):
    res = requests.get(stack + "/readyz", timeout=30)
    assert res.status_code == 200, res.text
    assert res.json() == {"database": "ok", "redis": "ok", "broker": "ok"}


# -- problem documents ------------------------------------------------------------------
def test_every_error_body_is_an_rfc9457_problem_with_no_stack_trace(stack, client):
    # Given a sample of failures across the API
    wallet = client.open_wallet("USD")
    answers = {
        (400, "invalid_json"): post_raw(stack, "/v1/users", b"{"),
        (401, "unauthorized"): requests.get(stack + "/v1/wallets", timeout=30),
        (401, "invalid_credentials"): client.call("POST", "/v1/auth/token", json={
            "email": client.email, "password": "wrong password"}),
        (404, "not_found"): requests.get(stack + "/nowhere", timeout=30),
        (404, "wallet_not_found"): client.call("GET", "/v1/wallets/999999999999"),
        (404, "request_not_found"): client.call("GET", "/v1/requests/999999999999"),
        (405, "method_not_allowed"): requests.put(stack + "/healthz", timeout=30),
        (409, "wallet_exists"): client.call("POST", "/v1/wallets", json={"currency": "USD"},
                                            key=unique()),
        (413, "payload_too_large"): post_raw(stack, "/v1/users", b" " * 70_000),
        (415, "unsupported_media_type"): post_raw(stack, "/v1/users", b"{}", "text/plain"),
        (422, "invalid_amount"): client.call("POST", f"/v1/wallets/{wallet['id']}/deposits",
                                             json={"amount": "-1"}, key=unique()),
    }
    # Then each is problem+json with type, title, status, detail, code and request id
    for (status, code), res in answers.items():
        assert is_problem(res, status, code)
        body = res.json()
        assert body["type"] == f"urn:wallet:problem:{code}" and body["detail"]
        assert body["request_id"] == res.headers["X-Request-Id"]
        assert "Traceback" not in res.text
