"""Money movement: deposits, withdrawals and transfers, each answered 202 with its request."""
from errors import WalletNotFound
from models import TransactionRequest
from payments import door
from payments.details import parse_details
from web import metrics, views
from web.http import json_response
from web.inputs import current_user, idempotency_key, path_id, read_json
from web.routing import Routes

routes = Routes()
DETAILS = frozenset({"description", "metadata"})


def accepted(request: TransactionRequest, replayed: bool):
    headers = {"Location": f"/v1/requests/{request.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    else:
        metrics.accepted(request.type)
    return json_response(202, views.request_as_accepted(request), headers=headers)


def details_of(doc: dict):
    """A money request's description and metadata, checked (see payments/details.py)."""
    return parse_details(doc.get("description"), doc.get("metadata"))


def _single(wallet_id: str, kind: str):
    user = current_user()
    key = idempotency_key()
    doc = read_json(allowed={"amount"} | DETAILS)
    return accepted(*door.accept(user, kind=kind, key=key, amount=doc.get("amount"),
                                 wallet_id=path_id(wallet_id, WalletNotFound),
                                 details=details_of(doc)))


@routes.post("/v1/wallets/<wallet_id>/deposits")
def post_deposit(wallet_id):
    return _single(wallet_id, "deposit")


@routes.post("/v1/wallets/<wallet_id>/withdrawals")
def post_withdrawal(wallet_id):
    return _single(wallet_id, "withdrawal")


@routes.post("/v1/transfers")
def post_transfer():
    user = current_user()
    key = idempotency_key()
    doc = read_json(allowed={"from_wallet_id", "to_wallet_id", "amount"} | DETAILS)
    return accepted(*door.accept_transfer(user, key=key, from_wallet_id=doc.get("from_wallet_id"),
                                          to_wallet_id=doc.get("to_wallet_id"),
                                          amount=doc.get("amount"), details=details_of(doc)))
