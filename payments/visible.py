"""The requests a user may see: those they made, and the transfers and captures they
received (the recipient learns the id from its notification, and may refund it).

One read answers both questions a caller asks of a request: may I see it, and did I
receive it (the owner of its recipient wallet, for refunds). `caller_and_request` reads it
with the caller in one query, for the routes that need both; `seen_by` reads it alone, or
takes that answer, and applies the rule.
"""
from typing import NamedTuple

from accounts import users
from ledger.posting import CAPTURE, TRANSFER
from models import TransactionRequest, User, db

# The requests whose recipient may read and refund them (a capture only with a recipient).
RECEIVED_TYPES = (TRANSFER, CAPTURE)


class Seen(NamedTuple):
    """A request as one of its parties reads it."""

    request: TransactionRequest
    # The user its recipient wallet belongs (or belonged, before it closed) to; None for a
    # request without one, or a system account's.
    recipient_user_id: int | None


# The request and the owner of its recipient wallet (raw SQL: it is read with its caller in
# one query); who may see it is decided in `seen_by`.
SQL = (f"SELECT {TransactionRequest.columns('r')}, t.user_id AS recipient "
       "FROM transaction_requests r LEFT JOIN wallets t ON t.id = r.to_wallet_id "
       "WHERE r.id = %s")
CALLER_AND_REQUEST_SQL = users.USER_WITH.format(rows=SQL)


def _seen(row: tuple) -> Seen:
    return Seen(TransactionRequest.from_row(row), row[-1])


def seen_by(user_id: int, request_id: int,
            found: dict[int, Seen] | None = None) -> Seen | None:
    """Request `request_id` if the user made it or received it.

    Parameters:
      found: caller_and_request's answer, if the caller already has it; else read here.
    """
    if found is None:
        row = db.execute_sql(SQL, (request_id,)).fetchone()
        found = {} if row is None else {row[0]: _seen(row)}
    seen = found.get(request_id)
    if seen is None:
        return None
    received = seen.request.type in RECEIVED_TYPES and seen.recipient_user_id == user_id
    return seen if seen.request.user_id == user_id or received else None


def caller_and_request(token: str, request_id: int) -> tuple[User, dict[int, Seen]]:
    """`accounts.users.user_for_token(token)` and request `request_id`, in one query.

    Returns:
      The user, and the request by its id ({} when there is none), for `seen_by`, which
      decides whether they may see it.

    Raises:
      Unauthorized: as user_for_token.
    """
    return users.user_with(token, CALLER_AND_REQUEST_SQL, (request_id,), _seen)
