"""The API as an attacker sees it, over real HTTP against real web and worker processes.

Four fronts: someone else's ids (and deleted ones: wallets, requests, notifications, and
since version 1.1 holds, refunds of requests and webhooks; events never cross from one
user's feed to another's) get 404 and change nothing; forged,
stale or confused tokens get 401; login neither gives way to a burst nor tells which
emails exist; and no secret ends up in a log line or a response body.
"""
import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from jwt.algorithms import HMACAlgorithm

import settings
from models import Event, Hold, Notification, Transaction, TransactionRequest, Wallet, Webhook, db
from tests.helpers import (
    PASSWORD,
    ROOT,
    Client,
    free_port,
    is_problem,
    process_env,
    start_web,
    start_worker,
    unique,
)

NEVER_EXISTED = 10**15


def without_request_id(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "request_id"}


def log_in(client: Client, email: str, password: str):
    return client.call("POST", "/v1/auth/token", json={"email": email, "password": password})


def footprint(*clients: Client) -> dict:
    """Everything these users own, read straight from the database (deleted wallets too)."""
    ids = [c.user_id for c in clients]
    try:
        wallets = sorted((w.id, w.balance, w.version, w.deleted_at, w.updated_at)
                         for w in Wallet.select().where(Wallet.user.in_(ids)))
        return {
            "wallets": wallets,
            "requests": sorted((r.id, r.status) for r in TransactionRequest.select().where(
                TransactionRequest.user.in_(ids))),
            "notifications": sorted((n.id, bool(n.is_read)) for n in Notification.select().where(
                Notification.user.in_(ids))),
            "entries": Transaction.select().where(
                Transaction.wallet.in_([w[0] for w in wallets])).count(),
            "holds": sorted((h.id, h.status, h.captured, h.updated_at) for h in Hold.select()
                            .where(Hold.user_id.in_(ids) | Hold.to_user_id.in_(ids))),
            "webhooks": sorted((w.id, w.url, w.deleted_at) for w in Webhook.select().where(
                Webhook.user_id.in_(ids))),
            "events": Event.select().where(Event.user_id.in_(ids)).count(),
        }
    finally:
        db.close()


def api_view(client: Client) -> dict:
    """What a user itself sees of its wallets, requests, notifications, holds, webhooks and
    events."""
    return {"wallets": client.call("GET", "/v1/wallets").json()["items"],
            "requests": client.call("GET", "/v1/requests?limit=100").json()["items"],
            "notifications": client.call("GET", "/v1/notifications?limit=100").json()["items"],
            "holds": client.call("GET", "/v1/holds?limit=100").json()["items"],
            "webhooks": client.call("GET", "/v1/webhooks").json()["items"],
            "events": client.call("GET", "/v1/events?limit=100").json()["items"]}


def placed(client: Client, wallet_id: int, amount: str) -> int:
    """The id of a hold `client` placed (naming no recipient) once it is active."""
    accepted = client.move(f"/v1/wallets/{wallet_id}/holds", {"amount": amount})
    assert client.settled(accepted["id"])["status"] == "succeeded", accepted
    return accepted["hold_id"]


def registered(client: Client) -> int:
    res = client.call("POST", "/v1/webhooks", key=unique("hook"),
                      json={"url": "http://127.0.0.1:9/attacked", "events": ["hold.expired"]})
    assert res.status_code == 201, res.text
    return res.json()["id"]


def system_account(kind: str, currency: str) -> int:
    try:
        return Wallet.get(Wallet.system_key == f"{kind}:{currency}").id
    finally:
        db.close()


# -- the scene: a victim with money, an attacker with its own wallet -------------------------
@pytest.fixture(scope="module")
def scene(stack):
    """A victim with a funded, an empty and a closed wallet, a hold, a transfer it received,
    a webhook and a deleted one, and an attacker with a funded and a closed wallet, a hold
    and a webhook and a deleted one of its own. Tests must leave all of it exactly as they
    found it. The webhooks are deleted on the way out."""
    victim, attacker = Client(stack).sign_up(), Client(stack).sign_up()
    funded = victim.open_wallet("USD")
    empty = victim.open_wallet("GBP")
    closed = victim.open_wallet("EUR")
    assert victim.call("DELETE", f"/v1/wallets/{closed['id']}").status_code == 204
    deposit = victim.deposit(funded["id"], "50.00")
    assert victim.settled(deposit["id"])["status"] == "succeeded"
    notes = victim.call("GET", "/v1/notifications").json()["items"]
    assert notes and not any(n["read"] for n in notes)
    own = attacker.open_wallet("USD")
    assert attacker.settled(attacker.deposit(own["id"], "20.00")["id"])["status"] == "succeeded"
    own_closed = attacker.open_wallet("CHF")
    assert attacker.call("DELETE", f"/v1/wallets/{own_closed['id']}").status_code == 204
    payer = Client(stack).sign_up()
    payer_wallet = payer.open_wallet("USD")["id"]
    assert payer.settled(payer.deposit(payer_wallet, "10.00")["id"])["status"] == "succeeded"
    received = payer.transfer(payer_wallet, funded["id"], "3.00")["id"]
    assert payer.settled(received)["status"] == "succeeded"
    deleted_hooks = {client: registered(client) for client in (victim, attacker)}
    for client, hook in deleted_hooks.items():
        assert client.call("DELETE", f"/v1/webhooks/{hook}").status_code == 204
    placed(attacker, own["id"], "1.00")
    registered(attacker)
    yield {"victim": victim, "attacker": attacker, "own": own["id"], "targets": {
        "the victim's funded wallet": funded["id"],
        "the victim's empty wallet": empty["id"],
        "the victim's closed wallet": closed["id"],
        "the attacker's own closed wallet": own_closed["id"],
        "the USD fee account": system_account("fees", "USD"),
        "the USD external account": system_account("external", "USD"),
        "a wallet id that never existed": NEVER_EXISTED,
        "the victim's request": deposit["id"],
        "a request id that never existed": NEVER_EXISTED,
        "the victim's notification": notes[0]["id"],
        "a notification id that never existed": NEVER_EXISTED,
        "the victim's hold": placed(victim, funded["id"], "5.00"),
        "a hold id that never existed": NEVER_EXISTED,
        "a transfer the victim received": received,
        "the victim's webhook": registered(victim),
        "the victim's deleted webhook": deleted_hooks[victim],
        "the attacker's own deleted webhook": deleted_hooks[attacker],
        "a webhook id that never existed": NEVER_EXISTED,
    }}
    for client in (victim, attacker):
        for hook in client.call("GET", "/v1/webhooks").json()["items"]:
            assert client.call("DELETE", f"/v1/webhooks/{hook['id']}").status_code == 204


WALLET_TARGETS = ["the victim's funded wallet", "the victim's empty wallet",
                  "the victim's closed wallet", "the attacker's own closed wallet",
                  "the USD fee account", "the USD external account",
                  "a wallet id that never existed"]
# endpoint name -> (method, path, body, code, targets); {id} is the id under attack, {own}
# the attacker's own funded wallet.
ENDPOINTS = {
    "read a wallet": ("GET", "/v1/wallets/{id}", None, "wallet_not_found", WALLET_TARGETS),
    "close a wallet": ("DELETE", "/v1/wallets/{id}", None, "wallet_not_found", WALLET_TARGETS),
    "list a wallet's transactions": ("GET", "/v1/wallets/{id}/transactions", None,
                                     "wallet_not_found", WALLET_TARGETS),
    "read a wallet's balance at a moment": ("GET", "/v1/wallets/{id}/balance"
                                            "?at=2999-01-01T00:00:00Z", None,
                                            "wallet_not_found", WALLET_TARGETS),
    "read a wallet's statement": ("GET", "/v1/wallets/{id}/statement?from=2026-01-01T00:00:00Z"
                                  "&to=2027-01-01T00:00:00Z", None, "wallet_not_found",
                                  WALLET_TARGETS),
    "read a wallet's statement as CSV": ("GET", "/v1/wallets/{id}/statement?format=csv"
                                         "&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z",
                                         None, "wallet_not_found", WALLET_TARGETS),
    "filter the requests by a wallet": ("GET", "/v1/requests?wallet_id={id}", None,
                                        "wallet_not_found",
                                        [t for t in WALLET_TARGETS
                                         if t != "the attacker's own closed wallet"]),
    "deposit into a wallet": ("POST", "/v1/wallets/{id}/deposits", {"amount": "1.00"},
                              "wallet_not_found", WALLET_TARGETS),
    "withdraw from a wallet": ("POST", "/v1/wallets/{id}/withdrawals", {"amount": "1.00"},
                               "wallet_not_found", WALLET_TARGETS),
    "transfer out of a wallet": ("POST", "/v1/transfers", {"from_wallet_id": "{id}",
                                                           "to_wallet_id": "{own}",
                                                           "amount": "1.00"},
                                 "wallet_not_found", WALLET_TARGETS),
    "read a request": ("GET", "/v1/requests/{id}", None, "request_not_found",
                       ["the victim's request", "a request id that never existed"]),
    "wait on a request": ("GET", "/v1/requests/{id}?wait=2", None, "request_not_found",
                          ["the victim's request", "a request id that never existed"]),
    "mark a notification read": ("POST", "/v1/notifications/{id}/read", None,
                                 "notification_not_found",
                                 ["the victim's notification",
                                  "a notification id that never existed"]),
}
HOLD_TARGETS = ["the victim's hold", "a hold id that never existed"]
REFUND_TARGETS = ["the victim's request", "a transfer the victim received",
                  "a request id that never existed"]
WEBHOOK_TARGETS = ["the victim's webhook", "the victim's deleted webhook",
                   "the attacker's own deleted webhook", "a webhook id that never existed"]
ENDPOINTS.update({
    # (The caller's own closed wallet is not a stranger's: its holds stay listed by it.)
    "list the holds of a wallet": ("GET", "/v1/holds?wallet_id={id}", None, "wallet_not_found",
                                   [t for t in WALLET_TARGETS
                                    if t != "the attacker's own closed wallet"]),
    "place a hold on a wallet": ("POST", "/v1/wallets/{id}/holds", {"amount": "1.00"},
                                 "wallet_not_found", WALLET_TARGETS),
    "read a hold": ("GET", "/v1/holds/{id}", None, "hold_not_found", HOLD_TARGETS),
    "capture part of a hold": ("POST", "/v1/holds/{id}/captures", {"amount": "1.00"},
                               "hold_not_found", HOLD_TARGETS),
    "capture all of a hold": ("POST", "/v1/holds/{id}/captures", {"final": True},
                              "hold_not_found", HOLD_TARGETS),
    "void a hold": ("POST", "/v1/holds/{id}/void", {}, "hold_not_found", HOLD_TARGETS),
    "refund part of a request": ("POST", "/v1/requests/{id}/refunds", {"amount": "1.00"},
                                 "request_not_found", REFUND_TARGETS),
    "refund all of a request": ("POST", "/v1/requests/{id}/refunds", {}, "request_not_found",
                                REFUND_TARGETS),
    "read a webhook": ("GET", "/v1/webhooks/{id}", None, "webhook_not_found", WEBHOOK_TARGETS),
    "delete a webhook": ("DELETE", "/v1/webhooks/{id}", None, "webhook_not_found",
                         WEBHOOK_TARGETS),
    "list a webhook's deliveries": ("GET", "/v1/webhooks/{id}/deliveries", None,
                                    "webhook_not_found", WEBHOOK_TARGETS),
})
MATRIX = [(endpoint, target) for endpoint, spec in ENDPOINTS.items() for target in spec[4]]


def fill(body: dict | None, *, target_id: int, own_id: int) -> dict | None:
    if body is None:
        return None
    ids = {"{id}": target_id, "{own}": own_id}
    return {k: ids.get(v, v) for k, v in body.items()}


@pytest.mark.parametrize("endpoint, target", MATRIX, ids=[f"{e} / {t}" for e, t in MATRIX])
def test_an_id_that_is_not_the_callers_own_live_one_is_not_found_and_changes_nothing(
        scene, endpoint, target):
    # Given a victim with money and notifications, and an attacker who knows its ids
    victim, attacker = scene["victim"], scene["attacker"]
    method, path, body, code, _ = ENDPOINTS[endpoint]
    target_id = scene["targets"][target]
    before, seen_before = footprint(victim, attacker), api_view(victim)
    # When the attacker calls the endpoint with that id
    res = attacker.call(method, path.format(id=target_id),
                        json=fill(body, target_id=target_id, own_id=scene["own"]),
                        key=unique("attack") if method == "POST" and body is not None
                        else None)
    # Then it is 404 with the resource's own code, as if the id did not exist
    assert is_problem(res, 404, code)
    # And nothing changed: balances, versions, closures, requests, entries, read flags
    assert footprint(victim, attacker) == before
    assert api_view(victim) == seen_before


def test_someone_elses_id_and_a_missing_id_get_the_same_answer(scene):
    # Given the victim's funded wallet and an id that never existed
    attacker, theirs_id = scene["attacker"], scene["targets"]["the victim's funded wallet"]
    for path in ("/v1/wallets/{id}", "/v1/wallets/{id}/transactions",
                 "/v1/wallets/{id}/balance?at=2999-01-01T00:00:00Z",
                 "/v1/wallets/{id}/statement?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"):
        # When the attacker reads both
        theirs = attacker.call("GET", path.format(id=theirs_id)).json()
        nobody = attacker.call("GET", path.format(id=NEVER_EXISTED)).json()
        # Then the answers differ only in the id they echo and the request id
        assert theirs["status"] == nobody["status"] == 404
        assert theirs["detail"].replace(str(theirs_id), "N") == \
            nobody["detail"].replace(str(NEVER_EXISTED), "N")
        assert {**without_request_id(theirs), "detail": ""} == \
            {**without_request_id(nobody), "detail": ""}


def test_the_victims_idempotency_key_replays_nothing_for_the_attacker(scene):
    # Given a deposit the victim made with a key the attacker learnt
    victim, attacker = scene["victim"], scene["attacker"]
    funded = scene["targets"]["the victim's funded wallet"]
    key = unique("leaked")
    accepted = victim.call("POST", f"/v1/wallets/{funded}/deposits", json={"amount": "1.00"},
                           key=key)
    assert accepted.status_code == 202, accepted.text
    assert victim.settled(accepted.json()["id"])["status"] == "succeeded"
    before = footprint(victim, attacker)
    # When the attacker sends the very same call with the very same key
    res = attacker.call("POST", f"/v1/wallets/{funded}/deposits", json={"amount": "1.00"},
                        key=key)
    # Then it is 404, not a replay of the victim's request
    assert is_problem(res, 404, "wallet_not_found")
    assert "Idempotent-Replayed" not in res.headers
    body = res.json()
    assert "id" not in body and "wallet_id" not in body
    assert str(accepted.json()["id"]) not in body["detail"].split()
    assert footprint(victim, attacker) == before


def test_the_attackers_lists_hold_nothing_of_the_victims(scene):
    # Given the victim's wallets, requests and notifications
    victim_view = api_view(scene["victim"])
    # When the attacker lists its own
    attacker_view = api_view(scene["attacker"])
    # Then no id of the victim's appears in them
    for name in ("wallets", "requests", "notifications", "holds", "webhooks", "events"):
        theirs = {item["id"] for item in victim_view[name]}
        mine = {item["id"] for item in attacker_view[name]}
        assert theirs and mine and not theirs & mine, name


def feed(client: Client, query: str = "") -> list[dict]:
    """Every event of `client`'s feed, paged through with `after` from the start."""
    events, after = [], 0
    while True:
        res = client.call("GET", f"/v1/events?after={after}&limit=100{query}")
        assert res.status_code == 200, res.text
        page = res.json()
        events += page["items"]
        if not page["items"]:
            return events
        after = page["next_after"]


@pytest.mark.parametrize("query", ["", "&type=transfer.received", "&type=hold.activated",
                                   "&type=wallet.created"])
def test_the_victims_events_are_never_in_the_attackers_feed(scene, query):
    # Given the victim's events: its wallets, its money, its hold, the transfer it received
    victim, attacker = scene["victim"], scene["attacker"]
    theirs = feed(victim, query)
    assert theirs, query
    first = min(event["id"] for event in theirs)
    before = footprint(victim, attacker)
    # When the attacker reads its whole feed, and its feed from just before the victim's
    # first event
    mine = feed(attacker, query)
    res = attacker.call("GET", f"/v1/events?after={first - 1}&limit=100{query}")
    assert res.status_code == 200, res.text
    mine += res.json()["items"]
    # Then none of the victim's events is in it, nor any about the victim's wallets
    assert not {e["id"] for e in theirs} & {e["id"] for e in mine}
    victims = {scene["targets"]["the victim's funded wallet"],
               scene["targets"]["the victim's empty wallet"]}
    for event in mine:
        data = event["data"]
        named = {data.get("wallet_id"), data.get("to_wallet_id")}
        if event["type"] == "wallet.created":
            named.add(data.get("id"))
        assert not named & victims, event
    # And reading the feed changed nothing
    assert footprint(victim, attacker) == before


@pytest.mark.parametrize("path", ["/v1/requests", "/v1/notifications"])
def test_a_cursor_from_the_victims_list_is_refused_to_the_attacker(scene, path):
    # Given a cursor into the second page of one of the victim's lists
    first = scene["victim"].call("GET", f"{path}?limit=1")
    cursor = first.json()["next_cursor"]
    assert cursor, first.text
    # When the attacker pages its own list with it
    res = scene["attacker"].call("GET", f"{path}?limit=1&cursor={cursor}")
    # Then it is refused, not a page of the victim's rows
    assert is_problem(res, 400, "invalid_cursor")


@pytest.mark.parametrize("target", ["the victim's closed wallet", "the USD fee account",
                                    "the USD external account",
                                    "a wallet id that never existed"])
def test_a_transfer_to_a_closed_system_or_missing_wallet_is_not_found(scene, target):
    # Given the attacker's funded wallet
    victim, attacker = scene["victim"], scene["attacker"]
    before = footprint(victim, attacker)
    # When it sends money to a wallet that is closed, the service's own, or not there
    res = attacker.call("POST", "/v1/transfers", key=unique("t"), json={
        "from_wallet_id": scene["own"], "to_wallet_id": scene["targets"][target],
        "amount": "1.00"})
    # Then it is 404 wallet_not_found and no request was made
    assert is_problem(res, 404, "wallet_not_found")
    assert footprint(victim, attacker) == before


def test_a_transfer_to_another_users_live_wallet_is_allowed_but_stays_the_senders(client, other,
                                                                                 stack):
    # Given a sender with money and a recipient's live wallet (the contract allows this)
    mine = client.open_wallet("USD")
    assert client.settled(client.deposit(mine["id"], "10.00")["id"])["status"] == "succeeded"
    theirs = other.open_wallet("USD")
    # When the sender transfers to it
    request = client.transfer(mine["id"], theirs["id"], "4.00")
    # Then it settles and the money arrives
    assert client.settled(request["id"])["status"] == "succeeded"
    assert other.wallet(theirs["id"])["balance"] == "4.00"
    assert client.wallet(mine["id"])["balance"] == "5.95"
    # And the request is the sender's: the recipient may read it (version 1.1: its id
    # reaches it in the notification, and it may refund it), but it is not in the
    # recipient's list of its own requests, and nobody else may read it
    assert other.call("GET", f"/v1/requests/{request['id']}").json()["id"] == request["id"]
    assert request["id"] not in {r["id"] for r in api_view(other)["requests"]}
    stranger = Client(stack).sign_up()
    assert is_problem(stranger.call("GET", f"/v1/requests/{request['id']}"), 404,
                      "request_not_found")
    # And knowing the recipient's wallet id gives the sender no other power over it
    for method, path in (("GET", f"/v1/wallets/{theirs['id']}"),
                         ("GET", f"/v1/wallets/{theirs['id']}/transactions")):
        assert is_problem(client.call(method, path), 404, "wallet_not_found")
    res = client.call("POST", "/v1/transfers", key=unique("t"), json={
        "from_wallet_id": theirs["id"], "to_wallet_id": mine["id"], "amount": "1.00"})
    assert is_problem(res, 404, "wallet_not_found")
    assert other.wallet(theirs["id"])["balance"] == "4.00"


# -- tokens -----------------------------------------------------------------------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# Any RSA public key text: what an attacker would feed an HMAC check that trusts the header.
PUBLIC_PEM = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAn76Ve3E4N8BJYsO2RVwc
2MMVY/dlza+hivBscPqANxM7sC5CBxndcsl5gSDJQAA6vcc3VkLM2aa0xloobNoF
j1rE56oXUC5h8B7EGenIlBbQhHJcbEnVcLSfjirVyziuQeWeyHmhu2FoKi90nrLx
cv0HIE3lEPM6fzsepBfct+nNX/P5Df/pUzxW0tcAPPqL9s41rWir3CcO0YOC8orQ
cApmAZUhWPBYX/2Tz2RQRZ86MER9KGY8Y/3MXeFCNHuyUUNRL1Hbq0zDHiZSKUS9
KcFVm5xrLFa14c4H0fe0NTnuTTr7DKPJVOAUqeN1FdLt0GvI8kIJ/ms+TZfXLvpa
rQIDAQAB
-----END PUBLIC KEY-----
"""


def hmac_signed(claims: dict, *, alg: str, secret: bytes) -> str:
    """A token whose header claims `alg` but which is signed with HMAC-SHA256 and `secret`
    (PyJWT itself refuses a PEM key as an HMAC secret, so the signing is done by its
    HMAC primitive directly)."""
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    signing_input = f"{head}.{b64url(json.dumps(claims).encode())}".encode()
    signature = HMACAlgorithm(HMACAlgorithm.SHA256).sign(signing_input, secret)
    return f"{signing_input.decode()}.{b64url(signature)}"


def claims_for(user_id, **changes) -> dict:
    now = int(time.time())
    claims = {"sub": str(user_id), "iat": now, "exp": now + 600, "gen": 0, **changes}
    return {k: v for k, v in claims.items() if v is not ...}


def forge(case: str, user_id: int) -> str:
    """A token for `user_id` that is wrong in exactly one way."""
    now = int(time.time())
    key = settings.JWT_KEY
    good = claims_for(user_id)
    return {
        "alg none": lambda: jwt.encode(good, None, algorithm="none"),
        "alg None, capitalised": lambda: hmac_signed(good, alg="None", secret=b"")
        .rsplit(".", 1)[0] + ".",
        "HS256 with another key": lambda: jwt.encode(
            good, "another-key-that-is-long-enough-0123456789", algorithm="HS256"),
        "RS256 header, HMAC with a public key as secret": lambda: hmac_signed(
            good, alg="RS256", secret=PUBLIC_PEM.encode()),
        "RS256 header, HMAC with the real secret": lambda: hmac_signed(
            good, alg="RS256", secret=key.encode()),
        "HS384 with the real secret": lambda: jwt.encode(good, key, algorithm="HS384"),
        "HS512 with the real secret": lambda: jwt.encode(good, key, algorithm="HS512"),
        "expired": lambda: jwt.encode(claims_for(user_id, iat=now - 7200, exp=now - 10), key,
                                      algorithm="HS256"),
        "issued in the future": lambda: jwt.encode(
            claims_for(user_id, iat=now + 3600, exp=now + 7200), key, algorithm="HS256"),
        "not valid before a future time": lambda: jwt.encode(
            claims_for(user_id, nbf=now + 3600), key, algorithm="HS256"),
        "iat and nbf in the future": lambda: jwt.encode(
            claims_for(user_id, iat=now + 3600, nbf=now + 3600, exp=now + 7200), key,
            algorithm="HS256"),
        "missing sub": lambda: jwt.encode(claims_for(user_id, sub=...), key, algorithm="HS256"),
        "missing exp": lambda: jwt.encode(claims_for(user_id, exp=...), key, algorithm="HS256"),
        "missing iat": lambda: jwt.encode(claims_for(user_id, iat=...), key, algorithm="HS256"),
        "missing gen": lambda: jwt.encode(claims_for(user_id, gen=...), key, algorithm="HS256"),
        "a token generation the user has not reached": lambda: jwt.encode(
            claims_for(user_id, gen=7), key, algorithm="HS256"),
        "sub an integer": lambda: jwt.encode(claims_for(user_id, sub=user_id), key,
                                             algorithm="HS256"),
        "sub a list": lambda: jwt.encode(claims_for(user_id, sub=[str(user_id)]), key,
                                         algorithm="HS256"),
        "sub not digits": lambda: jwt.encode(claims_for(user_id, sub=f"{user_id} "), key,
                                             algorithm="HS256"),
        "sub in non-ASCII digits": lambda: jwt.encode(
            claims_for(user_id, sub="".join(chr(0xFF10 + int(d)) for d in str(user_id))), key,
            algorithm="HS256"),
        "a user that never existed": lambda: jwt.encode(claims_for(NEVER_EXISTED), key,
                                                        algorithm="HS256"),
    }[case]()


FORGERIES = ["alg none", "alg None, capitalised", "HS256 with another key",
             "RS256 header, HMAC with a public key as secret",
             "RS256 header, HMAC with the real secret", "HS384 with the real secret",
             "HS512 with the real secret", "expired", "issued in the future",
             "not valid before a future time", "iat and nbf in the future", "missing sub",
             "missing exp", "missing iat", "missing gen",
             "a token generation the user has not reached", "sub an integer", "sub a list",
             "sub not digits",
             "sub in non-ASCII digits", "a user that never existed"]


def test_a_token_built_by_the_forger_with_the_real_key_is_accepted(stack, client):
    # The control for the forgeries below: with nothing wrong, the same builder passes.
    token = jwt.encode(claims_for(client.user_id), settings.JWT_KEY, algorithm="HS256")
    res = Client(stack).call("GET", "/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 200 and res.json()["id"] == client.user_id


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # on purpose
@pytest.mark.parametrize("case", FORGERIES)
def test_a_forged_confused_or_stale_token_is_401_unauthorized(stack, client, case):
    # Given a live user and a token for it that is wrong in one way
    token = forge(case, client.user_id)
    # When it is used on /v1/me
    res = Client(stack).call("GET", "/v1/me", headers={"Authorization": f"Bearer {token}"})
    # Then it is 401 unauthorized problem+json that says nothing about the user
    assert is_problem(res, 401, "unauthorized")
    assert client.email not in res.text and client.username not in res.text


@pytest.mark.parametrize("which", ["the token it was issued", "a freshly signed token"])
def test_a_deleted_users_token_is_401_unauthorized(stack, which):
    # Given a user that deleted itself
    gone = Client(stack).sign_up()
    issued = gone.token
    assert gone.call("DELETE", "/v1/me").status_code == 204
    token = issued if which == "the token it was issued" else jwt.encode(
        claims_for(gone.user_id), settings.JWT_KEY, algorithm="HS256")
    # When a token for it is used on /v1/me
    res = Client(stack).call("GET", "/v1/me", headers={"Authorization": f"Bearer {token}"})
    # Then it is 401 unauthorized
    assert is_problem(res, 401, "unauthorized")


# -- login ------------------------------------------------------------------------------
def test_a_concurrent_burst_of_wrong_passwords_gets_no_more_tries_than_the_limit(stack):
    # Given a fresh registered email
    victim = Client(stack).sign_up()
    attempts = 30

    def guess(n: int):
        return log_in(Client(stack), victim.email, f"guess number {n}")

    # When 30 wrong passwords arrive at once, each on its own connection
    with ThreadPoolExecutor(max_workers=attempts) as pool:
        answers = list(pool.map(guess, range(attempts)))
    # Then at most LOGIN_MAX_FAILURES_PER_EMAIL were checked (401), the rest were 429
    statuses = [res.status_code for res in answers]
    assert set(statuses) <= {401, 429}, statuses
    assert 1 <= statuses.count(401) <= settings.LOGIN_MAX_FAILURES_PER_EMAIL_IP, statuses
    for res in answers:
        if res.status_code == 429:
            assert is_problem(res, 429, "too_many_attempts")
            assert 1 <= int(res.headers["Retry-After"]) <= settings.LOGIN_WINDOW_S
        else:
            assert is_problem(res, 401, "invalid_credentials")
    # And afterwards even the right password is refused for that email
    res = log_in(Client(stack), victim.email, PASSWORD)
    assert is_problem(res, 429, "too_many_attempts") and "access_token" not in res.text


def comparable(res) -> tuple:
    """A response with what legitimately varies (request id, date, Retry-After's exact
    second) taken out."""
    headers = {k.lower(): v for k, v in res.headers.items()
               if k.lower() not in ("x-request-id", "date", "retry-after")}
    return res.status_code, headers, without_request_id(res.json()), "Retry-After" in res.headers


def test_an_unknown_email_and_a_wrong_password_get_one_and_the_same_answer(log_dir):
    # (That both cost one argon2 verification of the same parameters is counted, not timed,
    # in tests/unit/test_password_cost.py and tests/integration/test_login_cost.py: a
    # timing ratio flakes on a loaded machine.)
    # Given a web process of our own whose email throttle will not trip during the test
    web, base = start_web(log_dir, LOGIN_MAX_FAILURES_PER_EMAIL_IP="1000")
    try:
        known = Client(base).sign_up()
        prober = Client(base)
        bodies = {"wrong password": [], "unknown email": []}

        # When both kinds of failure are tried, interleaved, 10 times each
        for i in range(10):
            order = ("wrong password", "unknown email") if i % 2 else \
                ("unknown email", "wrong password")
            for kind in order:
                email = known.email if kind == "wrong password" else \
                    f"{unique('nobody')}@example.com"
                res = log_in(prober, email, f"not-{uuid.uuid4().hex}")
                assert res.status_code == 401, res.text
                bodies[kind].append(comparable(res))
    finally:
        web.stop()
    # Then every answer is the same one, apart from the request id
    assert len(set(map(repr, bodies["wrong password"] + bodies["unknown email"]))) == 1


def test_no_answer_but_sign_ups_409_tells_whether_an_email_is_registered(stack):
    # Given one registered email, one that never was, and one whose user was deleted
    known = Client(stack).sign_up()
    gone = Client(stack).sign_up()
    assert gone.call("DELETE", "/v1/me").status_code == 204
    emails = {"registered": known.email, "never registered": f"{unique('nobody')}@example.com",
              "deleted": gone.email}
    anon = Client(stack)
    answers: dict[str, list] = {name: [] for name in emails}
    for name, email in emails.items():
        # When each is probed: case-changed wrong logins until the throttle trips, then
        # the right password, then a sign-up that fails validation
        for n in range(settings.LOGIN_MAX_FAILURES_PER_EMAIL_IP + 1):
            answers[name].append(comparable(log_in(anon, email.upper() if n % 2 else email,
                                                   "not the password")))
        answers[name].append(comparable(log_in(anon, email, PASSWORD)))
        answers[name].append(comparable(anon.call("POST", "/v1/users", json={
            "email": email, "username": unique("user_"), "password": "short"})))
    # Then every probe got the same answers, in the same order
    assert answers["registered"] == answers["never registered"] == answers["deleted"]
    statuses = [a[0] for a in answers["registered"]]
    assert statuses == [401] * settings.LOGIN_MAX_FAILURES_PER_EMAIL_IP + [429, 429, 422]
    # And only sign-up, as the contract allows, says an email is taken
    res = anon.call("POST", "/v1/users", json={"email": known.email,
                                               "username": unique("user_"),
                                               "password": PASSWORD})
    assert is_problem(res, 409, "email_taken")


# -- secrets ----------------------------------------------------------------------------
class RecordingClient(Client):
    """A client that keeps every response it got."""

    def __init__(self, base: str, seen: list) -> None:
        super().__init__(base)
        self.seen = seen

    def call(self, method, path, **kwargs):
        res = super().call(method, path, **kwargs)
        self.seen.append((method, path, res))
        return res


def test_no_password_token_hash_or_key_reaches_the_logs_or_a_response(log_dir, vhost):
    # Given a web process and a worker logging at DEBUG, with a key of our own, on a vhost
    # of their own: this worker, not the shared one, settles the flow and logs it
    secret = f"attacker-test-key-{uuid.uuid4().hex}-{uuid.uuid4().hex}"
    env = {"LOG_LEVEL": "DEBUG", "JWT_SECRET": secret, "BROKER_URL": vhost}
    web, base = start_web(log_dir, **env)
    worker = start_worker(log_dir, **env)
    seen: list = []
    passwords = {name: f"pw-{name}-{uuid.uuid4().hex}" for name in (
        "first", "second", "recipient", "wrong", "unknown", "wrong current")}
    tokens = []
    try:
        # When two users go through a whole flow, with bad logins on the way
        alice, bob = RecordingClient(base, seen), RecordingClient(base, seen)
        for user, password in ((alice, passwords["first"]), (bob, passwords["recipient"])):
            user.username = unique("user_")
            user.email = f"{user.username}@example.com"
            res = user.call("POST", "/v1/users", json={
                "email": user.email, "username": user.username, "password": password})
            assert res.status_code == 201, res.text
            res = log_in(user, user.email, password)
            assert res.status_code == 200, res.text
            user.token = res.json()["access_token"]
            tokens.append(user.token)
        assert log_in(alice, alice.email, passwords["wrong"]).status_code == 401
        assert log_in(alice, f"{unique('nobody')}@example.com",
                      passwords["unknown"]).status_code == 401
        res = alice.call("PATCH", "/v1/me", json={"password": passwords["second"],
                                                  "current_password": passwords["wrong current"]})
        assert res.status_code == 403, res.text
        res = alice.call("PATCH", "/v1/me", json={"password": passwords["second"],
                                                  "current_password": passwords["first"]})
        assert res.status_code == 200, res.text
        res = log_in(alice, alice.email, passwords["second"])
        assert res.status_code == 200, res.text
        alice.token = res.json()["access_token"]
        tokens.append(alice.token)
        assert alice.call("GET", "/v1/me").status_code == 200
        mine, theirs = alice.open_wallet("USD"), bob.open_wallet("USD")
        assert alice.settled(alice.deposit(mine["id"], "10.00")["id"])["status"] == "succeeded"
        assert alice.settled(alice.transfer(mine["id"], theirs["id"], "3.00")["id"])[
            "status"] == "succeeded"
        for user in (alice, bob):
            for path in ("/v1/me/logins", "/v1/notifications", "/v1/requests",
                         f"/v1/wallets/{mine['id']}/transactions"):
                user.call("GET", path)
    finally:
        worker.stop()
        web.stop()
    # (Process.output() needs the log file open; after stop() it is read from its path.)
    logs = {name: open(proc.log_path, encoding="utf-8", errors="replace").read()
            for name, proc in (("web", web), ("worker", worker))}
    # Then the logs were really at DEBUG, and hold no password, token, hash or key
    assert any(json.loads(line)["level"] == "DEBUG" for line in logs["web"].splitlines()
               if line.startswith("{")), logs["web"][-2000:]
    assert any(json.loads(line)["logger"] in ("actors.settling.settle_deposit",
                                              "actors.settling.settle_transfer")
               for line in logs["worker"].splitlines() if line.startswith("{")), (
        logs["worker"][-2000:])
    for name, text in logs.items():
        for label, value in [*passwords.items(), ("jwt secret", secret),
                             *((f"token {n}", t) for n, t in enumerate(tokens)),
                             *((f"token {n} signature", t.rsplit(".", 1)[1])
                               for n, t in enumerate(tokens))]:
            assert value not in text, f"the {name} log holds {label}"
        assert "$argon2" not in text and "argon2id" not in text, f"the {name} log holds a hash"
    # And no response of the flow carried a password, a hash or the key
    assert len(seen) > 20
    for method, path, res in seen:
        text = res.text
        where = f"{method} {path} -> {res.status_code}"
        assert "argon2" not in text.lower() and secret not in text, where
        assert not any(p in text for p in passwords.values()), where
        if res.status_code < 400:
            assert "password" not in text.lower() and "hash" not in text.lower(), where
        else:
            # Error answers may name the password in words ("the email or password is
            # wrong"); never as a field of their own or in a value they echo back.
            body = res.json()
            assert not any("password" in k or "hash" in k for k in body), where
            assert "hash" not in text.lower(), where


def run_serve(**env: str) -> subprocess.CompletedProcess:
    """Run `python api.py` with the test environment changed by `env` (None removes)."""
    full = process_env(PORT=str(free_port()))
    for name, value in env.items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    proc = subprocess.Popen([sys.executable, "api.py"], cwd=ROOT, env=full, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"api.py kept running instead of refusing to start:\n{err[-2000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# (An absent JWT_SECRET would be filled in from the checkout's .env: tests/unit/test_settings.py
# covers that case from a scratch folder; here an empty value stands for it.)
@pytest.mark.parametrize("secret, why", [("", "missing"),
                                         ("x" * 31, "too short"),
                                         ("\u00e9" * 15, "too short")])
def test_the_web_process_refuses_to_start_in_production_without_a_real_secret(secret, why):
    # Given production mode and a JWT_SECRET that is absent, empty or under 32 bytes
    # When api.py is started
    done = run_serve(WALLET_ENV="production", JWT_SECRET=secret)
    # Then it exits non-zero, saying JWT_SECRET is the reason, without echoing it
    assert done.returncode != 0
    assert "JWT_SECRET" in done.stderr and why in done.stderr, done.stderr
    if secret:
        assert secret not in done.stderr + done.stdout


def test_the_web_process_starts_in_production_with_a_real_secret(log_dir):
    # The control for the refusals above: with a 32+ byte secret it serves.
    web, base = start_web(log_dir, WALLET_ENV="production", JWT_SECRET="s" * 48)
    try:
        assert Client(base).call("GET", "/healthz").status_code == 200
    finally:
        web.stop()
