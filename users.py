"""Users: sign-up, login, profile changes, soft deletion."""
import re

import peewee

import auth
import throttle
import wallet_cache
from errors import (EmailTaken, InvalidCredentials, Unauthorized, UsernameTaken, ValidationError,
                    WalletNotEmpty, WrongCurrentPassword)
from models import LoginLog, TransactionRequest, User, Wallet, db, utcnow

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


def sign_up(*, email: str, username: str, password: str) -> User:
    """Create a user; emails are compared in lower case."""
    check_fields(email=email, username=username, password=password)
    password_hash = auth.hash_password(password)
    try:
        with db.atomic():
            return User.create(email=email.lower(), username=username, password_hash=password_hash)
    except peewee.IntegrityError as exc:
        raise _taken(exc) from None


def log_in(*, email: str, password: str, ip: str, user_agent: str) -> tuple[str, int]:
    """Check credentials, record the attempt, and issue a token.

    Raises:
      TooManyAttempts: after too many failures for this email or address.
      InvalidCredentials: the same for an unknown email and a wrong password.
    """
    email = email.lower()
    throttle.count_attempt(email, ip)
    user = User.get_or_none((User.email == email) & User.deleted_at.is_null())
    if user is not None and user.email != email:
        # The column's collation ignores NULs, trailing spaces and accents; such a variant
        # is another email (and another throttle counter), so it must not reach the account.
        user = None
    ok = auth.verify_password(user.password_hash if user else None, password)
    LoginLog.create(user=user, ip_address=ip, user_agent=user_agent, success=ok)
    if not ok:
        raise InvalidCredentials("The email or password is wrong.")
    throttle.clear(email, ip)
    return auth.issue_token(user.id)


USER_COLUMNS = ("id", "email", "username", "password_hash", "created_at", "updated_at")
USER_BY_ID = (f"SELECT {', '.join(USER_COLUMNS)} FROM users "
              "WHERE id = %s AND deleted_at IS NULL")


def user_for_token(token: str) -> User:
    """The live user a token names.

    Raises:
      Unauthorized: for a bad token, or a user that no longer exists.
    """
    # Raw SQL: every authenticated call runs this, and peewee's query building cost more
    # CPU than the query.
    row = db.execute_sql(USER_BY_ID, (auth.token_user_id(token),)).fetchone()
    if row is None:
        raise Unauthorized("The access token is invalid or expired.")
    return User(**dict(zip(USER_COLUMNS, row)))


def update_profile(user: User, *, username: str | None = None, password: str | None = None,
                   current_password: str | None = None) -> User:
    """Change the username and/or password; a new password needs the current one."""
    check_fields(username=username, password=password)
    if password is not None:
        if current_password is None or not auth.verify_password(user.password_hash,
                                                                current_password):
            raise WrongCurrentPassword("current_password is missing or wrong.")
        user.password_hash = auth.hash_password(password)
    if username is not None:
        user.username = username
    user.updated_at = utcnow()
    try:
        with db.atomic():
            user.save()
    except peewee.IntegrityError as exc:
        raise _taken(exc) from None
    return user


def delete_user(user: User) -> None:
    """Soft-delete a user and close its (empty) wallets.

    Raises:
      WalletNotEmpty: while any wallet holds money or has a pending request.
    """
    with db.atomic():
        wallets = list(Wallet.select().where((Wallet.user == user) & Wallet.deleted_at.is_null())
                       .for_update())
        ids = [w.id for w in wallets]
        if any(w.balance for w in wallets) or (ids and TransactionRequest.select().where(
                (TransactionRequest.status == "pending") &
                (TransactionRequest.wallet.in_(ids) | TransactionRequest.to_wallet.in_(ids))
        ).exists()):
            raise WalletNotEmpty("Empty your wallets and wait for pending requests first.")
        now = utcnow()
        if ids:
            Wallet.update(deleted_at=now, updated_at=now, version=Wallet.version + 1) \
                .where(Wallet.id.in_(ids)).execute()
        User.update(deleted_at=now, updated_at=now).where(User.id == user.id).execute()
    wallet_cache.refresh(ids)
