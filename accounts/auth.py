"""Passwords (argon2id) and access tokens (HS256 JWTs with sub, iat, exp and gen).

`gen` is the user's token generation when the token was issued: logging out and changing
the password bump it (see users.py), which ends every token issued before at once.
"""
import functools
import time

import jwt
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

import settings
from errors import Unauthorized

ALGORITHM = "HS256"
# Distinct verified tokens a process remembers (see token_claims).
VERIFIED_TOKENS_KEPT = 10_000
# argon2id with argon2-cffi's profile of that name (settings.PASSWORD_HASH_PROFILE).
PROFILES = {"rfc9106-low-memory": profiles.RFC_9106_LOW_MEMORY, "cheapest": profiles.CHEAPEST}
HASHER = PasswordHasher.from_parameters(PROFILES[settings.PASSWORD_HASH_PROFILE])
# Verified against when the email is unknown, so that costs what a wrong password costs.
DUMMY_HASH = HASHER.hash("an unknown email costs one verification too")


def hash_password(password: str) -> str:
    """Hash a password with argon2id; the result embeds its salt and parameters."""
    return HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password in constant work whether or not there is a hash to check against.

    Parameters:
      password_hash: the stored hash, or None for an unknown email.
      password: what the client sent.

    Returns:
      True only when there is a hash and the password matches it.
    """
    try:
        return HASHER.verify(password_hash or DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def issue_token(user_id: int, generation: int, *, now: int | None = None) -> tuple[str, int]:
    """Sign an access token for `user_id` at token generation `generation`.

    Returns:
      The token and its lifetime in seconds.
    """
    issued = int(time.time()) if now is None else now
    claims = {"sub": str(user_id), "iat": issued, "exp": issued + settings.TOKEN_TTL_S,
              "gen": generation}
    return jwt.encode(claims, settings.JWT_KEY, algorithm=ALGORITHM), settings.TOKEN_TTL_S


def token_claims(token: str) -> tuple[int, int]:
    """Verify a token and return the user id and token generation it names.

    Raises:
      Unauthorized: when the token is malformed, expired, not yet valid, signed with another
        key or algorithm, or lacks a numeric `sub` or an integer `gen`.
    """
    user_id, generation, expires_at = _verified(token)
    if expires_at <= time.time():
        raise Unauthorized("The access token is invalid or expired.")
    return user_id, generation


# A client sends the same token with every call: its signature is checked once, and what it
# says is kept (bounded; only tokens that verified). Expiry is checked on every call, and
# revocation is the caller's (the token generation, against the database).
@functools.lru_cache(maxsize=VERIFIED_TOKENS_KEPT)
def _verified(token: str) -> tuple[int, int, int]:
    try:
        claims = jwt.decode(token, settings.JWT_KEY, algorithms=[ALGORITHM],
                            options={"require": ["sub", "iat", "exp", "gen"]})
    except jwt.PyJWTError:
        raise Unauthorized("The access token is invalid or expired.") from None
    sub, gen = claims["sub"], claims["gen"]
    if not isinstance(sub, str) or not sub.isascii() or not sub.isdigit() or len(sub) > 18:
        raise Unauthorized("The access token is invalid or expired.")
    if isinstance(gen, bool) or not isinstance(gen, int) or not 0 <= gen < 2**63:
        raise Unauthorized("The access token is invalid or expired.")
    return int(sub), gen, int(claims["exp"])
