"""Sessions and throttling below HTTP: token generations, one-statement profile changes,
and counters that never fail open (real MariaDB and Redis; an unreachable Redis is a real
client pointed at a port where nothing listens)."""
import pytest
import redis

from accounts import auth, users
from errors import InvalidCredentials, TooManyAttempts, Unauthorized, WrongCurrentPassword
from infra import cache, throttle
from models import User
from tests.helpers import free_port, unique
from tests.integration.factories import PASSWORD, signed_up, token_for

NEW_PASSWORD = "n3w-secret-pass"


@pytest.fixture
def redis_gone(monkeypatch):
    """Redis unreachable for this test's throttling and caches."""
    # Built as the service builds its client (from a URL): redis-py's constructor would add
    # its default retries with backoff, seconds a call, where the service's fail at once.
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.2,
                                socket_connect_timeout=0.2)
    monkeypatch.setattr(cache, "client", dead)
    monkeypatch.setattr(throttle, "LOCAL", throttle.LocalCounts())
    monkeypatch.setattr(throttle, "_FORGIVE", dead.register_script("return 1"))


# -- token generations ------------------------------------------------------------------------
def test_logging_out_ends_the_tokens_issued_before_it_and_only_those():
    user = signed_up()
    before = token_for(user)
    users.log_out(users.user_for_token(before))
    with pytest.raises(Unauthorized):
        users.user_for_token(before)
    assert users.user_for_token(token_for(user)).id == user.id


def test_a_token_read_with_its_profile_gives_the_whole_row_and_without_only_id_and_generation():
    user = signed_up()
    token = token_for(user)
    whole = users.user_for_token(token, profile=True)
    caller = users.user_for_token(token)
    assert whole.__data__ == {name: value for name, value in
                              User.get_by_id(user.id).__data__.items() if name != "deleted_at"}
    assert caller.__data__ == {"id": user.id, "token_generation": user.token_generation}


def test_a_password_change_ends_the_tokens_issued_before_it():
    user = signed_up()
    before = token_for(user)
    users.update_profile(users.user_for_token(before, profile=True), ip="192.0.2.1",
                         password=NEW_PASSWORD, current_password=PASSWORD)
    with pytest.raises(Unauthorized):
        users.user_for_token(before)
    assert users.log_in(email=user.email, password=NEW_PASSWORD, ip="192.0.2.1",
                        user_agent="test")


def test_a_rename_with_a_user_loaded_before_a_password_change_keeps_the_new_password():
    # Given a user loaded (by its token) before its password changed elsewhere
    user = signed_up()
    stale = users.user_for_token(token_for(user), profile=True)
    users.update_profile(users.user_for_token(token_for(user), profile=True), ip="192.0.2.1",
                         password=NEW_PASSWORD, current_password=PASSWORD)
    # When the stale copy renames the user
    users.update_profile(stale, ip="192.0.2.1", username=stale.username + "x")
    # Then the name changed and the new password still holds
    row = User.get_by_id(user.id)
    assert row.username == stale.username + "x"
    assert auth.verify_password(row.password_hash, NEW_PASSWORD)


def test_a_password_change_checked_against_a_password_changed_since_is_refused():
    user = signed_up()
    stale = users.user_for_token(token_for(user), profile=True)
    users.update_profile(users.user_for_token(token_for(user), profile=True), ip="192.0.2.1",
                         password=NEW_PASSWORD, current_password=PASSWORD)
    with pytest.raises(WrongCurrentPassword):
        users.update_profile(stale, ip="192.0.2.1", password="yet-another-pass",
                             current_password=PASSWORD)
    assert auth.verify_password(User.get_by_id(user.id).password_hash, NEW_PASSWORD)


# -- counters -----------------------------------------------------------------------------------
def test_a_limit_lets_its_attempts_through_then_refuses_until_the_window_ends():
    limits = [throttle.Limit(unique("t:"), 3, 60)]
    for _ in range(3):
        throttle.hit(limits)
    with pytest.raises(TooManyAttempts) as refused:
        throttle.hit(limits)
    assert 1 <= refused.value.retry_after_s <= 60


def test_a_forgiven_attempt_is_given_back_but_never_below_zero():
    limits = [throttle.Limit(unique("t:"), 2, 60)]
    throttle.forgive(limits)  # nothing counted yet: stays at zero
    throttle.hit(limits)
    throttle.hit(limits)
    throttle.forgive(limits)
    throttle.hit(limits)
    with pytest.raises(TooManyAttempts):
        throttle.hit(limits)


def test_clearing_forgets_a_counter_altogether():
    pair = throttle.Limit(unique("t:"), 1, 60)
    throttle.hit([pair])
    throttle.forgive([], clear=[pair])
    throttle.hit([pair])


def test_without_redis_this_process_still_counts(redis_gone):
    limits = [throttle.Limit(unique("t:"), 2, 60)]
    throttle.hit(limits)
    throttle.hit(limits)
    with pytest.raises(TooManyAttempts):
        throttle.hit(limits)


def test_without_redis_login_judges_from_the_login_log_what_no_process_counted(redis_gone):
    # Given an email that failed five times from one address (as the login log records)
    user = signed_up()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            users.log_in(email=user.email, password="wrong", ip="203.0.113.77",
                         user_agent="test")
    # When this process forgets what it counted (another web process, or a restart)
    throttle.LOCAL.counts.clear()
    # Then the right password from that address is still refused, from the log alone
    with pytest.raises(TooManyAttempts):
        users.log_in(email=user.email, password=PASSWORD, ip="203.0.113.77", user_agent="test")
    # While the owner logs in from another address
    assert users.log_in(email=user.email, password=PASSWORD, ip="203.0.113.78",
                        user_agent="test")
