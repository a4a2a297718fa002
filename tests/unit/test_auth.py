"""Passwords (argon2id), access tokens (HS256 only) and signed pagination cursors."""
import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time

import pytest
from argon2 import PasswordHasher

import settings
from accounts import auth
from errors import InvalidCursor, Unauthorized
from tests.helpers import ROOT, process_env
from web import cursor

DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def segment(obj: dict) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def forge(claims: dict, *, alg: str = "HS256", key: str | None = None,
          digest=None, header: dict | None = None) -> str:
    """A JWT built by hand: any header, any claims, HMAC-signed with `digest` (or unsigned)."""
    head = segment(header or {"alg": alg, "typ": "JWT"})
    signing_input = f"{head}.{segment(claims)}"
    if digest is None:
        return signing_input + "."
    mac = hmac.new((key or settings.JWT_KEY).encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(mac)}"


def fresh_claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"sub": "42", "iat": now, "exp": now + 600, "gen": 0}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


# -- passwords --------------------------------------------------------------------------
def test_a_password_is_hashed_with_argon2id_and_a_fresh_salt():
    # Given one password hashed twice
    first, second = auth.hash_password("s3cret-pass"), auth.hash_password("s3cret-pass")
    # Then both are argon2id hashes, salted differently, and neither contains the password
    assert first.startswith("$argon2id$") and second.startswith("$argon2id$")
    assert first != second
    assert "s3cret-pass" not in first


def test_the_right_password_verifies_and_a_wrong_one_does_not():
    # Given a stored hash
    stored = auth.hash_password("s3cret-pass")
    # When passwords are checked against it / Then only the right one matches
    assert auth.verify_password(stored, "s3cret-pass") is True
    assert auth.verify_password(stored, "s3cret-pasS") is False
    assert auth.verify_password(stored, "") is False


def test_no_password_verifies_against_a_missing_hash():
    # Given an unknown email (no hash); even the dummy hash's own password must not pass
    assert auth.verify_password(None, "anything") is False
    assert auth.verify_password(None, "an unknown email costs one verification too") is False
    assert auth.verify_password("", "an unknown email costs one verification too") is False


def test_a_corrupt_stored_hash_fails_verification_instead_of_raising():
    assert auth.verify_password("not-a-hash", "anything") is False
    assert auth.verify_password("$argon2id$v=19$m=65536,t=3,p=4$garbage", "anything") is False


def test_outside_the_tests_a_password_costs_rfc_9106s_low_memory_argon2id():
    # Given a process in production (whose environment leaves the tests' profile out)
    code = ("import argon2; from accounts import auth; "
            "p = argon2.extract_parameters(auth.hash_password('s3cret-pass')); "
            "print(p.type.name, p.time_cost, p.memory_cost, p.parallelism)")
    # When it hashes a password
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=process_env(WALLET_ENV="production"))
    # Then the hash is argon2id, 3 passes over 64 MiB in 4 lanes
    assert done.stdout.split() == ["ID", "3", "65536", "4"], done.stderr


def test_a_stored_hash_verifies_by_its_own_cost_whatever_the_profile_now():
    # Given a hash stored under the production profile, checked where another one is set
    stored = PasswordHasher.from_parameters(auth.PROFILES["rfc9106-low-memory"]).hash("s3cret")
    # When passwords are checked against it / Then it is read with its own parameters
    assert auth.verify_password(stored, "s3cret") is True
    assert auth.verify_password(stored, "s3creT") is False


# -- tokens -----------------------------------------------------------------------------
def test_an_issued_token_names_its_user_and_lives_for_the_configured_ttl():
    # Given a token issued for user 42 at token generation 3
    token, ttl_s = auth.issue_token(42, 3)
    # When it is verified / Then it names user 42 and generation 3
    assert auth.token_claims(token) == (42, 3)
    assert ttl_s == settings.TOKEN_TTL_S
    # And it is an HS256 JWT whose exp is iat + TTL
    header, claims = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                      for part in token.split(".")[:2])
    assert header["alg"] == "HS256"
    assert claims["sub"] == "42" and claims["exp"] - claims["iat"] == settings.TOKEN_TTL_S


def test_a_hand_built_hs256_token_with_the_right_key_is_accepted():
    # The forger below is faithful: the same construction with the real key and alg passes
    assert auth.token_claims(forge(fresh_claims(sub="7"), digest=hashlib.sha256)) == (7, 0)


def test_an_expired_token_is_refused():
    # Given a token issued longer ago than its lifetime
    token, _ = auth.issue_token(42, 0, now=int(time.time()) - settings.TOKEN_TTL_S - 5)
    # When it is verified / Then it is refused
    with pytest.raises(Unauthorized):
        auth.token_claims(token)


def test_a_token_signed_with_another_key_is_refused():
    token = forge(fresh_claims(), key="another-key-that-is-long-enough-0123456789",
                  digest=hashlib.sha256)
    with pytest.raises(Unauthorized):
        auth.token_claims(token)


def test_an_unsigned_alg_none_token_is_refused():
    # Given a token built by hand with alg "none" and an empty signature
    token = forge(fresh_claims(), header={"alg": "none", "typ": "JWT"})
    assert token.endswith(".") and token.count(".") == 2
    # When it is verified / Then it is refused
    with pytest.raises(Unauthorized):
        auth.token_claims(token)


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_a_token_signed_with_the_right_key_but_another_hmac_algorithm_is_refused(alg):
    # Given a correctly signed token, but with HS384/HS512 rather than HS256
    token = forge(fresh_claims(), alg=alg, digest=DIGESTS[alg])
    # When it is verified / Then it is refused
    with pytest.raises(Unauthorized):
        auth.token_claims(token)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "EdDSA", "hs256", "HS256 ",
                                 "None", "NONE", ""])
def test_any_alg_header_but_hs256_is_refused_even_with_a_valid_hs256_signature(alg):
    # Given an HS256 signature made with the real key, under another alg header
    # (the algorithm-confusion attack: a verifier that trusts the header would accept it)
    token = forge(fresh_claims(), digest=hashlib.sha256, header={"alg": alg, "typ": "JWT"})
    # When it is verified / Then it is refused
    with pytest.raises(Unauthorized):
        auth.token_claims(token)


def test_a_token_without_an_alg_header_is_refused():
    token = forge(fresh_claims(), digest=hashlib.sha256, header={"typ": "JWT"})
    with pytest.raises(Unauthorized):
        auth.token_claims(token)


@pytest.mark.parametrize("missing", ["sub", "iat", "exp", "gen"])
def test_a_token_missing_a_required_claim_is_refused(missing):
    token = forge(fresh_claims(**{missing: None}), digest=hashlib.sha256)
    with pytest.raises(Unauthorized):
        auth.token_claims(token)


@pytest.mark.parametrize("sub", ["abc", "", "-1", "1.5", "1e3", " 42", "42 ", "0x2a",
                                 "\uff14\uff12", "\u0664\u0662", "1" * 19, 42, 4.2, None, True,
                                 ["42"], {"id": 42}])
def test_a_token_whose_sub_is_not_a_plain_numeric_string_is_refused(sub):
    claims = fresh_claims()
    claims["sub"] = sub
    token = forge(claims, digest=hashlib.sha256)
    with pytest.raises(Unauthorized):
        auth.token_claims(token)


@pytest.mark.parametrize("gen", [-1, "0", 1.0, True, None, [0], 2**63])
def test_a_token_whose_generation_is_not_a_plain_non_negative_integer_is_refused(gen):
    claims = fresh_claims()
    claims["gen"] = gen
    with pytest.raises(Unauthorized):
        auth.token_claims(forge(claims, digest=hashlib.sha256))


def test_a_token_issued_in_the_future_is_refused():
    # Given a well-signed token whose iat is an hour ahead
    later = int(time.time()) + 3600
    token = forge(fresh_claims(iat=later, exp=later + 600), digest=hashlib.sha256)
    # When it is verified / Then it is refused
    with pytest.raises(Unauthorized):
        auth.token_claims(token)


def test_a_token_not_yet_valid_by_nbf_is_refused():
    token = forge(fresh_claims(nbf=int(time.time()) + 3600), digest=hashlib.sha256)
    with pytest.raises(Unauthorized):
        auth.token_claims(token)


def test_a_token_whose_claims_were_changed_after_signing_is_refused():
    # Given a genuine token for user 42, with its payload swapped for one naming user 1
    head, _, signature = auth.issue_token(42, 0)[0].split(".")
    tampered = f"{head}.{segment(fresh_claims(sub='1'))}.{signature}"
    # When it is verified / Then it is refused
    with pytest.raises(Unauthorized):
        auth.token_claims(tampered)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b", "..", "Bearer x.y.z",
                                   "\u00e9.\u00e9.\u00e9"])
def test_a_malformed_token_is_refused(token):
    with pytest.raises(Unauthorized):
        auth.token_claims(token)


# -- pagination cursors -----------------------------------------------------------------
@pytest.mark.parametrize("last_id", [1, 42, 2**31 + 7, 2**63 - 1])
def test_a_cursor_resumes_its_scope_after_the_id_it_was_made_for(last_id):
    # Given a cursor for a list / When it is decoded for that list / Then it gives the id back
    token = cursor.encode("transactions:5", last_id)
    assert cursor.decode("transactions:5", token) == last_id
    # And it is URL-safe text that needs no escaping in a query string
    assert token.isascii() and token.replace("-", "").replace("_", "").isalnum()


def test_no_cursor_means_the_first_page():
    assert cursor.decode("transactions:5", None) is None


@pytest.mark.parametrize("other_scope", ["transactions:6", "logins:5", "transactions:5 ",
                                         "Transactions:5", ""])
def test_a_cursor_made_for_another_scope_is_refused(other_scope):
    # Given a cursor of wallet 5's transactions
    token = cursor.encode("transactions:5", 42)
    # When it is used on another list / Then it is refused
    with pytest.raises(InvalidCursor):
        cursor.decode(other_scope, token)


def test_a_truncated_cursor_is_refused():
    token = cursor.encode("transactions:5", 42)
    for cut in (1, 2, 4, len(token) - 1):
        with pytest.raises(InvalidCursor):
            cursor.decode("transactions:5", token[:-cut])


def test_a_cursor_whose_id_was_changed_but_tag_kept_is_refused():
    # Given a genuine cursor, with its id rewritten (to reach older rows) and its tag kept
    token = cursor.encode("transactions:5", 42)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    forged = b64url((1000).to_bytes(8, "big") + raw[8:])
    # When it is decoded / Then it is refused
    with pytest.raises(InvalidCursor):
        cursor.decode("transactions:5", forged)


def test_a_cursor_signed_with_another_key_is_refused():
    # Given a cursor made the same way, but with a key the service does not hold
    other_key = hashlib.sha256(b"cursor:another-secret").digest()
    mac = hmac.new(other_key, b"transactions:5|42", hashlib.sha256).digest()[:cursor.MAC_BYTES]
    forged = b64url((42).to_bytes(8, "big") + mac)
    with pytest.raises(InvalidCursor):
        cursor.decode("transactions:5", forged)


@pytest.mark.parametrize("junk", ["", "x", "not-a-cursor", "!!!!", "\u00e9t\u00e9",
                                  "AAAAAAAAAAAAAAAAAAAAAAAAAAA", "A" * 500, "a b c", "%00",
                                  b64url(b"\x00" * 20), b64url(b"\xff" * 64)])
def test_a_random_string_is_not_a_cursor(junk):
    with pytest.raises(InvalidCursor):
        cursor.decode("transactions:5", junk)
