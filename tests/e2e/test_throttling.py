"""Throttling that stops guessing without handing strangers a lock-out, and never fails open.

A web process of its own, with small limits, behind a "proxy": it trusts 127.0.0.1 (the
tests) as a proxy, so each test plays clients at other addresses through X-Forwarded-For.
Every test uses addresses of its own, so their counters never meet.
"""
import ipaddress
import itertools
import uuid

import pytest
import redis

import settings
from models import LoginLog
from tests.helpers import PASSWORD, Client, is_problem, redis_server, start_web, unique

LIMITS = {"LOGIN_MAX_FAILURES_PER_EMAIL_IP": "3", "LOGIN_MAX_FAILURES_PER_IP": "6",
          "LOGIN_MAX_FAILURES_PER_EMAIL": "8", "SIGNUP_MAX_PER_IP": "3",
          "OPS_LOGIN_MAX_FAILURES_PER_IP": "3", "TRUSTED_PROXIES": "127.0.0.1"}
_addresses = itertools.count(1)


def address() -> str:
    """An address no other test uses (2001:db8::/32 is for documentation), written as the
    service writes it (a group like `0a3f` becomes `a3f`, or lookups by it would miss)."""
    return str(ipaddress.ip_address(f"2001:db8:{uuid.uuid4().hex[:4]}::{next(_addresses):x}"))


@pytest.fixture(scope="module")
def base(log_dir):
    web, url = start_web(log_dir, **LIMITS)
    try:
        yield url
    finally:
        web.stop()


def log_in(base: str, email: str, password: str, ip: str):
    return Client(base).call("POST", "/v1/auth/token", json={"email": email, "password": password},
                             headers={"X-Forwarded-For": f"198.51.100.7, {ip}"})


def user(base: str) -> Client:
    client = Client(base)
    client.username = unique("user_")
    client.email = f"{client.username}@example.com"
    res = client.call("POST", "/v1/users", json={"email": client.email, "password": PASSWORD,
                                                 "username": client.username},
                      headers={"X-Forwarded-For": address()})
    assert res.status_code == 201, res.text
    return client


def test_a_strangers_guesses_do_not_lock_the_owner_out_from_the_owners_address(base):
    # Given a user, and a stranger who guessed its password wrong until throttled
    owner, stranger, home = user(base), address(), address()
    for _ in range(3):
        assert is_problem(log_in(base, owner.email, "guess", stranger), 401, "invalid_credentials")
    # When the stranger then sends the right password, Then it is 429 with Retry-After
    res = log_in(base, owner.email, PASSWORD, stranger)
    assert is_problem(res, 429, "too_many_attempts") and "access_token" not in res.text
    assert 1 <= int(res.headers["Retry-After"]) <= 900
    # And the owner, from its own address, logs in
    assert log_in(base, owner.email, PASSWORD, home).status_code == 200


def test_an_address_guessing_across_many_emails_is_throttled(base):
    # Given one address that failed six times, on six different emails
    ip = address()
    for _ in range(6):
        assert log_in(base, user(base).email, "guess", ip).status_code == 401
    # When it logs in to a seventh with the right password, Then it is 429
    victim = user(base)
    assert is_problem(log_in(base, victim.email, PASSWORD, ip), 429, "too_many_attempts")
    # While that user logs in from elsewhere
    assert log_in(base, victim.email, PASSWORD, address()).status_code == 200


def test_one_email_guessed_from_many_addresses_is_throttled_everywhere(base):
    # Given an email that failed eight times, from four addresses (two each)
    victim = user(base)
    for ip in [address() for _ in range(4)]:
        for _ in range(2):
            assert log_in(base, victim.email, "guess", ip).status_code == 401
    # When anyone, from anywhere, sends the right password, Then it is 429
    assert is_problem(log_in(base, victim.email, PASSWORD, address()), 429, "too_many_attempts")


def test_a_right_password_forgives_the_owners_own_failures_from_its_address(base):
    owner, home = user(base), address()
    for _ in range(2):
        assert log_in(base, owner.email, "typo", home).status_code == 401
    assert log_in(base, owner.email, PASSWORD, home).status_code == 200
    for _ in range(2):
        assert log_in(base, owner.email, "typo", home).status_code == 401
    assert log_in(base, owner.email, PASSWORD, home).status_code == 200


def test_a_throttled_attempt_is_recorded_in_the_login_log(base):
    owner, stranger = user(base), address()
    for _ in range(4):
        log_in(base, owner.email, "guess", stranger)
    rows = list(LoginLog.select().where(LoginLog.ip_address == stranger)
                .order_by(LoginLog.id))
    assert [r.success for r in rows] == [False] * 4 and len(rows) == 4
    assert all(r.user_id == int(owner_id(base, owner)) for r in rows)


def owner_id(base: str, client: Client) -> int:
    token = log_in(base, client.email, PASSWORD, address()).json()["access_token"]
    return Client(base).call("GET", "/v1/me",
                             headers={"Authorization": f"Bearer {token}"}).json()["id"]


def test_wrong_current_passwords_on_patch_me_count_and_then_even_the_right_one_is_429(base):
    # Given a user's session at one address
    owner, ip = user(base), address()
    owner.token = log_in(base, owner.email, PASSWORD, ip).json()["access_token"]

    def patch(current: str):
        return owner.call("PATCH", "/v1/me", json={"password": "a brand new password",
                                                   "current_password": current},
                          headers={"X-Forwarded-For": ip})

    # When it guesses the current password wrong three times
    for _ in range(3):
        assert is_problem(patch("guess"), 403, "invalid_credentials")
    # Then even the right one gets 429, and the password did not change
    assert is_problem(patch(PASSWORD), 429, "too_many_attempts")
    assert log_in(base, owner.email, PASSWORD, address()).status_code == 200
    # And those guesses are not login-log rows
    assert LoginLog.select().where((LoginLog.ip_address == ip) & ~LoginLog.success).count() == 0


def test_sign_ups_are_throttled_per_client_address(base):
    ip = address()
    answers = []
    for _ in range(4):
        name = unique("user_")
        answers.append(Client(base).call("POST", "/v1/users", json={
            "email": f"{name}@example.com", "username": name, "password": PASSWORD},
            headers={"X-Forwarded-For": ip}))
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert is_problem(answers[-1], 429, "too_many_attempts")
    # While another address signs up
    assert user(base).email


def test_ops_token_guesses_are_throttled_per_address_even_for_the_right_token(base):
    headers = {"X-Forwarded-For": address()}
    for _ in range(3):
        res = Client(base).call("GET", "/ops", headers={**headers,
                                                        "Authorization": "Bearer wrong-token-1"})
        assert is_problem(res, 401, "unauthorized")
    right = {**headers, "Authorization": f"Bearer {settings.OPS_KEY}"}
    assert is_problem(Client(base).call("GET", "/ops", headers=right), 429, "too_many_attempts")
    res = Client(base).call("POST", "/ops/login", data={"token": settings.OPS_KEY},
                            headers=headers)
    assert is_problem(res, 429, "too_many_attempts")
    # While another address gets in
    res = Client(base).call("GET", "/ops", headers={**right, "X-Forwarded-For": address()})
    assert res.status_code == 200


# -- where the client address comes from ---------------------------------------------------
def test_forwarded_for_is_believed_only_from_a_trusted_proxy(base, stack):
    # Given one login through the trusting web process and one through the stack's (which
    # trusts no proxy), both claiming to come from 192.0.2.1 behind a forged entry
    owner = user(base)
    forged = {"X-Forwarded-For": "10.9.8.7, 192.0.2.1"}
    assert Client(base).call("POST", "/v1/auth/token", json={
        "email": owner.email, "password": PASSWORD}, headers=forged).status_code == 200
    other = Client(stack).sign_up()
    assert other.call("POST", "/v1/auth/token", json={
        "email": other.email, "password": PASSWORD}, headers=forged).status_code == 200
    # Then the trusting one recorded the right-most untrusted hop, the other the peer
    assert LoginLog.select().where(LoginLog.ip_address == "192.0.2.1").count() >= 1
    latest = LoginLog.select().where(LoginLog.user == other.user_id).order_by(
        LoginLog.id.desc()).first()
    assert latest.ip_address == "127.0.0.1"


# -- Redis that cannot count -----------------------------------------------------------------
@pytest.fixture(scope="module")
def full_redis():
    """A Redis of its own, with a tiny memory it has filled: it refuses every write."""
    with redis_server("--maxmemory", "2mb", "--maxmemory-policy", "noeviction") as url:
        client = redis.Redis.from_url(url)
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for n in range(10_000):
                client.set(f"filler:{n}", b"x" * 100_000)
        yield url


def test_with_redis_full_login_throttling_falls_back_to_the_login_log(log_dir, full_redis):
    env = {**LIMITS, "REDIS_URL": full_redis}
    # Given a web process whose Redis refuses every write (throttle counters included)
    web, base = start_web(log_dir, **env)
    try:
        owner, stranger = user(base), address()
        # When a stranger guesses three times
        for _ in range(3):
            assert log_in(base, owner.email, "guess", stranger).status_code == 401
    finally:
        web.stop()
    # And the web process is replaced (so nothing counted in its memory survives)
    web, base = start_web(log_dir, **env)
    try:
        # Then the fourth try, even with the right password, is 429: counted from the log
        assert is_problem(log_in(base, owner.email, PASSWORD, stranger), 429,
                          "too_many_attempts")
        # And the owner still logs in from its own address
        assert log_in(base, owner.email, PASSWORD, address()).status_code == 200
        # And sign-ups are still counted (in the process) rather than let through
        ip = address()
        codes = [Client(base).call("POST", "/v1/users", json={
            "email": f"{n}{unique('s')}@example.com", "username": unique("user_"),
            "password": PASSWORD}, headers={"X-Forwarded-For": ip}).status_code
            for n in range(4)]
        assert codes == [201, 201, 201, 429]
    finally:
        web.stop()
    assert "Traceback" not in web.output()
