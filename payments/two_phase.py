"""Two-phase money at the door: placing a hold, capturing it, voiding it.

Each call is a money request like a transfer (door.py records it, a settling actor carries
it out); these are its checks. A rule already broken when the call arrives is refused here
(`hold_not_active`, `exceeds_hold`); one that only breaks because a racing call got there
first fails the request with the same code when it settles (ledger/posting.py).
"""
import settings
from accounts.wallets import DoorWallet
from errors import ExceedsHold, Forbidden, HoldNotActive, HoldNotFound, ValidationError
from infra import idempotency
from ledger.posting import ACTIVE, CAPTURE, HOLD, TRANSFER, VOID, WITHDRAWAL
from models import Hold, TransactionRequest, User, utcnow
from money import canonical_amount, fee_for, format_amount, parse_amount
from payments import holds
from payments.details import Details
from payments.door import (
    FEE_BP,
    NO_DETAILS,
    Draft,
    NewHold,
    accept_draft,
    own_wallet,
    pair,
)


def _refuse(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", errors=[{"field": field, "message": message}])


def expiry_of(value: object) -> int:
    """`expires_in_s`: a JSON integer of seconds within the bounds, or the default."""
    if value is None:
        return settings.HOLD_DEFAULT_EXPIRY_S
    low, high = settings.HOLD_MIN_EXPIRY_S, settings.HOLD_MAX_EXPIRY_S
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _refuse("expires_in_s", f"must be an integer from {low} to {high} seconds")
    return value


def place_hold(user: User, *, key: str, wallet_id: int, amount: object,
               to_wallet_id: object = None, expires_in_s: object = None,
               details: Details = NO_DETAILS,
               found: dict[int, DoorWallet] | None = None) -> tuple[TransactionRequest, bool]:
    """Accept a hold on the caller's wallet, for a recipient wallet or for nobody.

    Parameters:
      found: at_the_door's answer for `wallet_id` (and `to_wallet_id`, if given), if the
        caller already has it.

    Returns:
      The pending hold request (its hold exists, `pending`), and whether it is a replay.

    Raises:
      ValidationError, WalletNotFound, CurrencyMismatch, SameWallet, InvalidAmount,
      IdempotencyKeyReused.
    """
    expires = expiry_of(expires_in_s)
    fingerprint = idempotency.fingerprint(f"POST /v1/wallets/{wallet_id}/holds", {
        "amount": canonical_amount(amount), "to_wallet_id": to_wallet_id,
        "expires_in_s": expires_in_s, **details.fingerprinted()})

    def door() -> Draft:
        if to_wallet_id is None:
            wallet, to = own_wallet(found, wallet_id, user), None
        else:
            wallet, to = pair(user, from_wallet_id=wallet_id, to_wallet_id=to_wallet_id,
                              from_field="the held wallet", found=found)
        minor = parse_amount(amount, wallet.currency)
        return Draft(HOLD, wallet.currency, minor, 0, wallet.id, details,
                     to_wallet_id=to.id if to else None,
                     hold=NewHold(to.user_id if to else None, expires))

    return accept_draft(user, key=key, fingerprint=fingerprint, door=door)


def _active_hold_of_capturer(user: User, hold_id: int,
                             found: dict[int, Hold] | None) -> Hold:
    """The hold, if the caller may capture or void it and it is still active.

    Raises:
      HoldNotFound: the caller is not a party to it.
      Forbidden: the caller is the payer of a hold with a recipient.
      HoldNotActive: it is not active, or its time is up.
    """
    hold = holds.of_party(user.id, hold_id, found)
    if hold is None:
        raise HoldNotFound(f"No hold {hold_id}.")
    # With a recipient, the recipient decides (as a merchant does); otherwise the payer.
    decides = hold.to_user_id if hold.to_wallet_id is not None else hold.user_id
    if user.id != decides:
        raise Forbidden(f"Only the owner of wallet {hold.to_wallet_id} may capture or void "
                        f"hold {hold.id}.")
    if hold.status != ACTIVE or hold.expires_at <= utcnow():
        raise HoldNotActive(f"Hold {hold.id} is "
                            f"{hold.status if hold.status != ACTIVE else 'expired'}.")
    return hold


def capture(user: User, *, key: str, hold_id: int, amount: object = None,
            final: object = None, details: Details = NO_DETAILS,
            found: dict[int, Hold] | None = None) -> tuple[TransactionRequest, bool]:
    """Accept a capture of (part of) an active hold: to its recipient as a transfer, or out
    of the service as a withdrawal; `amount` None means all that remains now.

    Parameters:
      found: holds.caller_and_hold's answer, if the caller already has it.

    Raises:
      ValidationError, HoldNotFound, Forbidden, HoldNotActive, InvalidAmount, ExceedsHold,
      IdempotencyKeyReused.
    """
    if final is not None and not isinstance(final, bool):
        raise _refuse("final", "must be true or false")
    fingerprint = idempotency.fingerprint(f"POST /v1/holds/{hold_id}/captures", {
        "amount": None if amount is None else canonical_amount(amount),
        "final": bool(final), **details.fingerprinted()})

    def door() -> Draft:
        hold = _active_hold_of_capturer(user, hold_id, found)
        remaining = hold.amount - hold.captured
        minor = remaining if amount is None else parse_amount(amount, hold.currency)
        if minor > remaining:
            raise ExceedsHold(f"Hold {hold.id} has {format_amount(remaining, hold.currency)} "
                              f"{hold.currency} left to capture.",
                              errors=[{"field": "amount", "message": "exceeds what the hold "
                                                                     "still reserves"}])
        kind = TRANSFER if hold.to_wallet_id is not None else WITHDRAWAL
        return Draft(CAPTURE, hold.currency, minor, fee_for(minor, FEE_BP[kind]()),
                     hold.wallet_id, details, to_wallet_id=hold.to_wallet_id, hold_id=hold.id,
                     capture_final=bool(final))

    return accept_draft(user, key=key, fingerprint=fingerprint, door=door)


def void(user: User, *, key: str, hold_id: int,
         found: dict[int, Hold] | None = None) -> tuple[TransactionRequest, bool]:
    """Accept the void of an active hold; the request's amount is what remains now.

    Parameters:
      found: holds.caller_and_hold's answer, if the caller already has it.

    Raises:
      HoldNotFound, Forbidden, HoldNotActive, IdempotencyKeyReused.
    """
    fingerprint = idempotency.fingerprint(f"POST /v1/holds/{hold_id}/void", {})

    def door() -> Draft:
        hold = _active_hold_of_capturer(user, hold_id, found)
        return Draft(VOID, hold.currency, hold.amount - hold.captured, 0, hold.wallet_id,
                     NO_DETAILS, to_wallet_id=hold.to_wallet_id, hold_id=hold.id)

    return accept_draft(user, key=key, fingerprint=fingerprint, door=door)
