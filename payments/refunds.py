"""Refunds at the door: the recipient of a transfer or capture gives (part of) it back.

A refund is a money request like a transfer, from the recipient's wallet back to the
original sender's, without a fee; door.py records it and a settling actor carries it out,
where the original's `refunded` total grows with a guarded update (payments/requests.py),
so racing refunds never give back more than was received.
"""
from errors import NotRefundable, RefundExceedsOriginal, RequestNotFound
from infra import idempotency
from ledger.posting import REFUND
from models import SUCCEEDED, TransactionRequest, User
from money import canonical_amount, format_amount, parse_amount
from payments import visible
from payments.details import Details
from payments.door import NO_DETAILS, Draft, accept_draft


def refundable_of(user: User, request_id: int,
                  found: dict[int, visible.Seen] | None = None) -> TransactionRequest:
    """The request, if the caller received it and something of it may still be refunded.

    Parameters:
      found: visible.caller_and_request's answer, if the caller already has it.

    Raises:
      RequestNotFound: the caller neither made nor received it, or only sent it.
      NotRefundable: the caller's own request without a recipient, or one it received
        that did not succeed.
    """
    seen = visible.seen_by(user.id, request_id, found)
    if seen is None:
        raise RequestNotFound(f"No request {request_id}.")
    original = seen.request
    if original.type not in visible.RECEIVED_TYPES or original.to_wallet_id is None:
        raise NotRefundable(f"A {original.type} has no recipient to refund it.")
    if seen.recipient_user_id != user.id:
        raise RequestNotFound(f"No request {request_id}.")  # its sender: only the recipient
    if original.status != SUCCEEDED:
        raise NotRefundable(f"Request {request_id} is {original.status}: only a succeeded "
                            f"{original.type} can be refunded.")
    return original


def refund(user: User, *, key: str, request_id: int, amount: object = None,
           details: Details = NO_DETAILS,
           found: dict[int, visible.Seen] | None = None) -> tuple[TransactionRequest, bool]:
    """Accept a refund of a transfer or capture the caller received; `amount` None means
    all that is still refundable now.

    Parameters:
      found: visible.caller_and_request's answer, if the caller already has it.

    Raises:
      RequestNotFound, NotRefundable, InvalidAmount, RefundExceedsOriginal,
      IdempotencyKeyReused.
    """
    fingerprint = idempotency.fingerprint(f"POST /v1/requests/{request_id}/refunds", {
        "amount": None if amount is None else canonical_amount(amount),
        **details.fingerprinted()})

    def door() -> Draft:
        original = refundable_of(user, request_id, found)
        assert original.to_wallet_id is not None
        left = original.amount - original.fee - original.refunded
        if amount is None and left == 0:
            raise NotRefundable(f"Request {request_id} has been refunded in full.")
        minor = left if amount is None else parse_amount(amount, original.currency)
        if minor > left:
            raise RefundExceedsOriginal(
                f"Request {request_id} has {format_amount(left, original.currency)} "
                f"{original.currency} left to refund.",
                errors=[{"field": "amount", "message": "exceeds what is left to refund"}])
        return Draft(REFUND, original.currency, minor, 0, original.to_wallet_id, details,
                     to_wallet_id=original.wallet_id, refund_of=original.id)

    return accept_draft(user, key=key, fingerprint=fingerprint, door=door)
