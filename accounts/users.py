"""Users: sign-up, login and its throttling, tokens of a generation, profile changes."""
import re
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import peewee

import settings
from accounts import auth, wallets
from errors import (
    EmailTaken,
    InvalidCredentials,
    TooManyAttempts,
    Unauthorized,
    UsernameTaken,
    ValidationError,
    WrongCurrentPassword,
)
from infra import throttle
from models import LoginLog, User, db, newest_first, utcnow

# An RFC 5322 dot-atom of at most 64 characters, "@", and a dotted domain of LDH labels:
# only addresses the OpenAPI document's `format: email` also calls addresses (no quoted
# local parts, no non-ASCII, nothing invisible such as a zero-width or no-break space).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(rf"(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+", re.ASCII)
USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,32}", re.ASCII)
MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS = 8, 128


def check_fields(*, email: str | None = None, username: str | None = None,
                 password: str | None = None) -> None:
    """Validate whichever user fields are given, reporting all bad ones at once.

    Raises:
      ValidationError: with one entry in `errors` per bad field.
    """
    bad = []
    if email is not None and (len(email) > 254 or not EMAIL.fullmatch(email)):
        bad.append({"field": "email", "message": "must be a valid email address"})
    if username is not None and not USERNAME.fullmatch(username):
        bad.append({"field": "username", "message": "must be 3 to 32 of A-Z a-z 0-9 _ . -"})
    if password is not None and not (MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS
                                     and "\x00" not in password):
        bad.append({"field": "password", "message": "must be 8 to 128 characters"})
    if bad:
        raise ValidationError("; ".join(f"{b['field']} {b['message']}" for b in bad), errors=bad)


def _taken(exc: peewee.IntegrityError) -> Exception:
    """Translate a unique-key clash on users into the error the client should see."""
    return UsernameTaken("That username is taken.") if "username" in str(exc) else \
        EmailTaken("That email is already registered.")


def sign_up(*, email: str, username: str, password: str, ip: str) -> User:
    """Create a user; emails are compared in lower case.

    Raises:
      TooManyAttempts: after SIGNUP_MAX_PER_IP sign-ups from `ip` within SIGNUP_WINDOW_S.
      ValidationError, EmailTaken, UsernameTaken.
    """
    throttle.hit(throttle.signup_limits(ip))
    check_fields(email=email, username=username, password=password)
    password_hash = auth.hash_password(password)
    try:
        with db.atomic():
            return User.create(email=email.lower(), username=username, password_hash=password_hash)
    except peewee.IntegrityError as exc:
        raise _taken(exc) from None


# Failures the login log holds for one email and address, one address, and one email,
# within the window: what judges an attempt while Redis cannot count.
FAILURES_SQL = (
    "SELECT COALESCE(SUM(email_digest = %s), 0), COUNT(*), "
    "(SELECT COUNT(*) FROM login_logs WHERE email_digest = %s AND created_at > %s "
    "AND success = 0) FROM login_logs WHERE ip_address = %s AND created_at > %s AND success = 0")


def _judge_from_the_login_log(digest: str, ip: str) -> None:
    """The database's verdict on one more attempt (see FAILURES_SQL).

    Raises:
      TooManyAttempts: when the attempt would pass a limit.
    """
    since = utcnow() - timedelta(seconds=settings.LOGIN_WINDOW_S)
    pair, by_ip, by_email = db.execute_sql(FAILURES_SQL, (digest, digest, since, ip,
                                                          since)).fetchone()
    limits = throttle.login_limits(digest, ip)
    for count, limit in zip((pair, by_ip, by_email), limits, strict=True):
        if count >= limit.limit:
            raise TooManyAttempts(settings.LOGIN_WINDOW_S)


def _guarded(digest: str, ip: str):
    """Count one password guess for `digest` from `ip` (see throttle.hit)."""
    limits = throttle.login_limits(digest, ip)
    throttle.hit(limits, fallback=lambda: _judge_from_the_login_log(digest, ip))
    return limits


def _right_guess(limits: list) -> None:
    """A right password: its attempt back, and its address's failures for this email gone."""
    pair, *others = limits
    throttle.forgive(others, clear=[pair])


def log_in(*, email: str, password: str, ip: str, user_agent: str) -> tuple[str, int]:
    """Check credentials, record the attempt, and issue a token.

    Raises:
      TooManyAttempts: while a failure limit holds (the attempt is recorded too).
      InvalidCredentials: the same for an unknown email and a wrong password.
    """
    email = email.lower()
    digest = throttle.email_digest(email)
    user = User.get_or_none((User.email == email) & User.deleted_at.is_null())
    if user is not None and user.email != email:
        # The column's collation ignores NULs, trailing spaces and accents; such a variant
        # is another email (and another throttle counter), so it must not reach the account.
        user = None
    try:
        limits = _guarded(digest, ip)
    except TooManyAttempts:
        LoginLog.create(user=user, ip_address=ip, user_agent=user_agent, success=False,
                        email_digest=digest)
        raise
    ok = auth.verify_password(user.password_hash if user else None, password)
    LoginLog.create(user=user, ip_address=ip, user_agent=user_agent, success=ok,
                    email_digest=digest)
    if not ok or user is None:  # (no hash, no match: ok implies a user)
        raise InvalidCredentials("The email or password is wrong.")
    _right_guess(limits)
    return auth.issue_token(user.id, user.token_generation)


USER_COLUMNS = ("id", "email", "username", "password_hash", "token_generation", "created_at",
                "updated_at")
# What most calls need of their caller: who it is, and the generation its token must be of.
# pymysql parses a descriptor for every column of every answer, which cost the money
# requests' caller query more CPU than the rest of its row was worth to them.
CALLER_COLUMNS = ("id", "token_generation")
# The live user by id, as the whole row or as the caller (user_for_token's `profile`).
BY_ID = {profile: (columns, f"SELECT {', '.join(columns)} FROM users "
                            "WHERE id = %s AND deleted_at IS NULL")
         for profile, columns in ((True, USER_COLUMNS), (False, CALLER_COLUMNS))}
# One row of the query read with the caller (user_with).
Row = TypeVar("Row")


# The caller and the rows of another query (`{rows}`: the door's wallets, a hold) in one
# round trip, for the money requests, which need both: the caller's row once per row
# found, or once with NULLs beside it when none is.
USER_WITH = (f"SELECT {', '.join('u.' + c for c in CALLER_COLUMNS)}, x.* "
             "FROM users u LEFT JOIN ({rows}) x ON TRUE "
             "WHERE u.id = %s AND u.deleted_at IS NULL")
USER_WITH_DOOR_WALLETS = USER_WITH.format(rows=wallets.DOOR_SQL)


def _of_generation(row: tuple | None, generation: int, columns: tuple[str, ...]) -> User:
    if row is None or row[columns.index("token_generation")] != generation:
        raise Unauthorized("The access token is invalid or expired.")
    # As peewee builds a model from a row: without the fields' defaults, so a column not
    # read is missing, not the time of this call.
    return User(__no_default__=True, **dict(zip(columns, row[:len(columns)], strict=True)))


def user_for_token(token: str, *, profile: bool = False) -> User:
    """The live user a token names, if the token is of the user's current generation.

    Parameters:
      profile: read the whole row (email, username, password hash, times); without it
        the User holds its id and token generation only, as a peewee model of selected
        columns does, which is all that most calls use.

    Raises:
      Unauthorized: for a bad token, one issued before a logout or password change, or a
        user that no longer exists.
    """
    user_id, generation = auth.token_claims(token)
    columns, sql = BY_ID[profile]
    # Raw SQL: every authenticated call runs this, and peewee's query building cost more
    # CPU than the query.
    return _of_generation(db.execute_sql(sql, (user_id,)).fetchone(), generation, columns)


def user_and_door_wallets(token: str, wallet_ids: list[int],
                          ) -> tuple[User, dict[int, wallets.DoorWallet]]:
    """`user_for_token(token)` and `wallets.at_the_door(wallet_ids)` in one query.

    Parameters:
      wallet_ids: one or two wallet ids, as at_the_door takes them.

    Returns:
      The user, and the live user wallets among `wallet_ids` by id (anyone's: the door
      decides what the caller may do with them).

    Raises:
      Unauthorized: as user_for_token.
    """
    return user_with(token, USER_WITH_DOOR_WALLETS, (wallet_ids[0], wallet_ids[-1]),
                     lambda row: wallets.DoorWallet(*row))


def user_with(token: str, sql: str, params: tuple,
              make: Callable[[tuple], Row]) -> tuple[User, dict[int, Row]]:
    """`user_for_token(token)` and the rows of another query, in one query.

    Parameters:
      sql: USER_WITH formatted with that query, whose rows start with their id.
      params: that query's parameters.
      make: what one of its rows is.

    Returns:
      The user (its id and token generation only, as user_for_token without `profile`),
      and the other query's rows by id ({} when it found none).

    Raises:
      Unauthorized: as user_for_token.
    """
    user_id, generation = auth.token_claims(token)
    rows = db.execute_sql(sql, (*params, user_id)).fetchall()
    user = _of_generation(rows[0] if rows else None, generation, CALLER_COLUMNS)
    first = len(CALLER_COLUMNS)
    return user, {row[first]: make(row[first:]) for row in rows if row[first] is not None}


def log_out(user: User) -> None:
    """End every token of `user` issued so far (the next login gets a working one)."""
    User.update(token_generation=User.token_generation + 1).where(User.id == user.id).execute()


def update_profile(user: User, *, ip: str, username: str | None = None,
                   password: str | None = None, current_password: str | None = None) -> User:
    """Change the username and/or password, writing only what changes, in one statement.

    A new password needs the right current one; a `current_password` sent is checked even
    without one, and counted against the login limits of the user's email from `ip`. A
    password change ends every token issued before it, the caller's included.

    Raises:
      ValidationError, UsernameTaken, TooManyAttempts.
      WrongCurrentPassword: current_password missing (with a new password) or wrong, or the
        password changed since it was checked.
      Unauthorized: the user was deleted meanwhile.
    """
    check_fields(username=username, password=password)
    if password is not None and current_password is None:
        raise WrongCurrentPassword("current_password is missing or wrong.")
    changes: dict = {}
    condition = (User.id == user.id) & User.deleted_at.is_null()
    if current_password is not None:
        limits = _guarded(throttle.email_digest(user.email), ip)
        if not auth.verify_password(user.password_hash, current_password):
            raise WrongCurrentPassword("current_password is missing or wrong.")
        _right_guess(limits)
        # Only if no one changed it since it was checked.
        condition &= User.password_hash == user.password_hash
    if password is not None:
        changes.update(password_hash=auth.hash_password(password),
                       token_generation=User.token_generation + 1)
    if username is not None:
        changes["username"] = username
    changes["updated_at"] = utcnow()
    try:
        changed = User.update(**changes).where(condition).execute()
    except peewee.IntegrityError as exc:
        raise _taken(exc) from None
    if not changed:
        if current_password is not None and User.select().where(
                (User.id == user.id) & User.deleted_at.is_null()).exists():
            raise WrongCurrentPassword("The password changed meanwhile; check it again.")
        raise Unauthorized("The user no longer exists.")
    return User.get_by_id(user.id)


def mark_deleted(user: User) -> None:
    """Soft-delete a user (inside the caller's transaction: see payments/closing.py, which
    closes its wallets with it); its email and username may be taken again."""
    now = utcnow()
    User.update(deleted_at=now, updated_at=now).where(User.id == user.id).execute()


def logins(user: User, *, limit: int, after: int | None) -> list[LoginLog]:
    """A page of the user's login attempts, newest first."""
    return newest_first(LoginLog.select().where(LoginLog.user == user), LoginLog.id,
                        index="login_logs_user_id", limit=limit, after=after)
