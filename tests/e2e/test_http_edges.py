"""The edges of HTTP: headers on every answer, bodies over the limit, query strings.

Against the shared `stack` (a real waitress process).
"""
import json
import re
import socket
import uuid
from urllib.parse import urlsplit

import pytest
import redis

import settings
from tests.helpers import Client, is_problem


def raw_exchange(base: str, head: str, body: bytes = b"", *, timeout_s: float = 10) -> bytes:
    """Send `head` and `body` on a socket of its own; return all the server answered."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout_s) as sock:
        sock.sendall(head.encode() + body)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


# -- headers ----------------------------------------------------------------------------------
def test_every_answer_says_nosniff(stack, client):
    wallet = client.open_wallet("USD")
    answers = [
        client.call("GET", f"/v1/wallets/{wallet['id']}"),
        client.call("GET", "/v1/nowhere"),
        client.call("PUT", "/v1/me"),
        Client(stack).call("GET", "/v1/me"),
        client.call("GET", "/healthz"), client.call("GET", "/docs"),
        client.call("GET", "/metrics"), client.call("GET", "/openapi.json"),
        client.call("GET", "/ops", headers={"Accept": "text/html"}),
    ]
    for res in answers:
        assert res.headers.get("X-Content-Type-Options") == "nosniff", (res.url, res.headers)


def test_everything_private_says_no_store(client):
    wallet = client.open_wallet("USD")
    private = [
        client.call("GET", f"/v1/wallets/{wallet['id']}"),
        client.call("GET", "/v1/wallets"),
        client.call("GET", f"/v1/wallets/{wallet['id']}/transactions"),
        client.call("GET", "/v1/me"), client.call("GET", "/v1/me/logins"),
        client.call("GET", "/v1/requests"), client.call("GET", "/v1/notifications"),
        client.call("POST", "/v1/auth/token", json={"email": client.email,
                                                     "password": "wrong password"}),
        client.call("GET", f"/v1/wallets/{wallet['id'] + 10**9}"),
    ]
    for res in private:
        assert "no-store" in res.headers.get("Cache-Control", ""), (res.url, res.headers)


# -- bodies over the limit ---------------------------------------------------------------------
def test_a_body_announced_over_the_limit_is_refused_before_it_is_sent(stack, client):
    # Given a request that announces 16 MiB and sends 10 bytes of it
    rid = f"big-{uuid.uuid4().hex[:8]}"
    head = (f"POST /v1/wallets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {client.token}\r\nIdempotency-Key: k1\r\n"
            f"X-Request-Id: {rid}\r\nContent-Length: {16 * 1024 * 1024}\r\n\r\n")
    # When it is sent (the server would wait forever for the rest if it buffered first)
    status, headers, body = parse(raw_exchange(stack, head, b'{"currency"'))
    # Then the answer is our 413 problem, with our request id, and the connection closes
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-request-id"] == rid and headers["x-content-type-options"] == "nosniff"
    problem = json.loads(body)
    assert problem["code"] == "payload_too_large" and problem["request_id"] == rid


def test_a_chunked_body_that_grows_over_the_limit_is_refused(stack, client):
    chunk = b"x" * 32768
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
    head = (f"POST /v1/wallets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {client.token}\r\nIdempotency-Key: k2\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n")
    status, headers, body = parse(raw_exchange(stack, head, body))
    assert status == 413 and json.loads(body)["code"] == "payload_too_large"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])


def test_a_body_of_exactly_the_limit_reaches_the_api(client):
    # 64 KiB of JSON: not refused by size, so the API judges it (an unknown field)
    padding = settings.MAX_BODY_BYTES - len('{"currency": "USD", "x": ""}')
    body = json.dumps({"currency": "USD", "x": "p" * padding}).encode()
    assert len(body) == settings.MAX_BODY_BYTES
    res = client.call("POST", "/v1/wallets", data=body, key="exact",
                      headers={"Content-Type": "application/json"})
    assert is_problem(res, 422, "unknown_field")


def test_a_malformed_request_line_is_a_400_problem(stack):
    status, headers, body = parse(raw_exchange(stack, "GARBAGE\r\n\r\n"))
    assert status == 400 and headers["content-type"] == "application/problem+json"
    assert json.loads(body)["code"] == "bad_request"


# -- query strings ------------------------------------------------------------------------------
GET_PATHS = ["/v1/me", "/v1/me/logins", "/v1/wallets", "/v1/wallets/{w}",
             "/v1/wallets/{w}/transactions", "/v1/requests", "/v1/requests/{r}",
             "/v1/notifications", "/healthz", "/readyz", "/openapi.json", "/docs", "/metrics"]


@pytest.mark.parametrize("path", GET_PATHS)
def test_an_unknown_query_parameter_is_a_validation_error_everywhere(client, path):
    wallet = client.open_wallet("USD")
    request = client.deposit(wallet["id"], "1.00")
    url = path.format(w=wallet["id"], r=request["id"])
    res = client.call("GET", f"{url}?junk{uuid.uuid4().hex[:6]}=1")
    assert is_problem(res, 422, "validation_error")
    assert res.json()["errors"][0]["message"] == "unknown query parameter"


@pytest.mark.parametrize("method, path", [("POST", "/v1/wallets"),
                                          ("POST", "/v1/auth/token"),
                                          ("DELETE", "/v1/me")])
def test_writes_take_no_query_parameters_either(client, method, path):
    res = client.call(method, f"{path}?x=1", json={"currency": "USD"}, key="q")
    assert is_problem(res, 422, "validation_error")
    assert client.call("GET", "/v1/me").status_code == 200


def test_a_known_query_parameter_given_twice_is_a_validation_error(client):
    res = client.call("GET", "/v1/requests?limit=1&limit=2")
    assert is_problem(res, 422, "validation_error")
    assert res.json()["errors"] == [{"field": "limit", "message": "given more than once"}]


def test_history_pages_are_cached_under_parsed_values_only(client):
    # Given a wallet with some history, read twice with two spellings of one page
    wallet = client.open_wallet("USD")
    client.settled(client.deposit(wallet["id"], "3.00")["id"])
    for query in ("limit=5", "limit=005"):
        assert client.call("GET", f"/v1/wallets/{wallet['id']}/transactions?{query}") \
            .status_code == 200
    # Then one cache entry holds both (and junk never reaches a key: it is a 422)
    cache = redis.Redis.from_url(settings.REDIS_URL)
    assert len(cache.keys(f"history:{wallet['id']}:*")) == 1
    # And a filtered page is never cached: its moments could mint keys without end
    for moment in ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000001Z"):
        assert client.call("GET", f"/v1/wallets/{wallet['id']}/transactions?created_from="
                                  f"{moment}&type=deposit").status_code == 200
    assert len(cache.keys(f"history:{wallet['id']}:*")) == 1
