"""The requests a user may see: those they made, and the transfers and captures they
received (the recipient learns the id from its notification, and may refund it).

One read answers both questions a caller asks of a request: may I see it, and did I
receive it (the owner of its recipient wallet, for refunds). `caller_and_request` reads it
with the caller in one query, for the routes that need both; `seen_by` reads it alone, or
takes that answer.
"""
from typing import NamedTuple

from accounts import auth, users
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


# Every field of the request in the model's order, then the recipient's owner (raw SQL:
# it is read with its caller in one query). Visible to its maker, and to the owner of its
# recipient wallet if it is of a type the recipient may read.
ROW_FIELDS = TransactionRequest._meta.sorted_fields
SQL = (f"SELECT {', '.join('r.' + f.column_name for f in ROW_FIELDS)}, t.user_id AS recipient "
       "FROM transaction_requests r LEFT JOIN wallets t ON t.id = r.to_wallet_id "
       "WHERE r.id = %s AND (r.user_id = %s OR "
       f"(r.type IN ({', '.join(['%s'] * len(RECEIVED_TYPES))}) AND t.user_id = %s))")
CALLER_AND_REQUEST_SQL = users.USER_WITH.format(rows=SQL)


def _params(user_id: int, request_id: int) -> tuple:
    return (request_id, user_id, *RECEIVED_TYPES, user_id)


def _seen(row: tuple) -> Seen:
    fields = len(ROW_FIELDS)
    return Seen(TransactionRequest(**{f.name: f.python_value(value) for f, value
                                      in zip(ROW_FIELDS, row[:fields], strict=True)}),
                row[fields])


def seen_by(user_id: int, request_id: int,
            found: dict[int, Seen] | None = None) -> Seen | None:
    """Request `request_id` if the user made it or received it.

    Parameters:
      found: caller_and_request's answer, if the caller already has it; else read here.
    """
    if found is not None:
        return found.get(request_id)
    row = db.execute_sql(SQL, _params(user_id, request_id)).fetchone()
    return None if row is None else _seen(row)


def caller_and_request(token: str, request_id: int) -> tuple[User, dict[int, Seen]]:
    """`accounts.users.user_for_token(token)` and `seen_by` its user, in one query.

    Returns:
      The user, and the request by its id ({} when they may not see it), for `seen_by`.

    Raises:
      Unauthorized: as user_for_token.
    """
    user_id, _ = auth.token_claims(token)
    user, rows = users.user_with(token, CALLER_AND_REQUEST_SQL, _params(user_id, request_id))
    return user, {row[0]: _seen(row) for row in rows}
