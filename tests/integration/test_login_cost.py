"""Logging in with an unknown email does the work a wrong password does (counted, not
timed): one password verification, against no hash, and the same refusal."""
import pytest

from accounts import auth, users
from errors import InvalidCredentials
from tests.helpers import unique


def test_an_unknown_email_is_verified_once_like_a_wrong_password(monkeypatch):
    # Given a user, and a count of every password verification
    name = unique("user_")
    user = users.sign_up(email=f"{name}@example.com", username=name, password="s3cret-pass-1",
                         ip="198.51.100.10")
    checked: list[tuple] = []
    real_verify = auth.verify_password

    def counted(password_hash, password):
        checked.append((password_hash, password))
        return real_verify(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counted)

    # When a wrong password is tried for it, and any password for an unknown email
    for email in (user.email, f"{unique('nobody')}@example.com"):
        with pytest.raises(InvalidCredentials):
            users.log_in(email=email, password="wrong-pass-1", ip="198.51.100.10",
                         user_agent="test")

    # Then each attempt verified one password: the user's hash, then no hash
    assert checked == [(user.password_hash, "wrong-pass-1"), (None, "wrong-pass-1")]
