"""An unknown email costs what a wrong password costs: counted, never timed.

Timing two medians against each other flakes on a loaded machine; the cost of a login
attempt is one argon2 verification, so that is what is counted, with its parameters.
"""
import argon2

from accounts import auth


def test_a_missing_hash_is_checked_against_a_dummy_hash_as_costly_as_a_real_one(monkeypatch):
    # Given a real stored hash, and a count of every argon2 verification
    stored = auth.hash_password("s3cret-pass")
    verified: list[str] = []

    class CountingHasher:
        def verify(self, password_hash: str, password: str) -> bool:
            verified.append(password_hash)
            return real_hasher.verify(password_hash, password)

    real_hasher = auth.HASHER
    monkeypatch.setattr(auth, "HASHER", CountingHasher())

    # When a wrong password is checked against it, and any password against no hash
    assert auth.verify_password(stored, "wrong-pass") is False
    assert auth.verify_password(None, "wrong-pass") is False

    # Then each ran exactly one verification, the second against the dummy hash, and the
    # dummy hash costs what a real one does (same type, memory, time and parallelism)
    assert verified == [stored, auth.DUMMY_HASH]
    assert argon2.extract_parameters(auth.DUMMY_HASH) == argon2.extract_parameters(stored)
