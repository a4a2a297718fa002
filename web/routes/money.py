"""Money movement: deposits, withdrawals and transfers, each answered 202 with its request.

These run more than any other route, so each reads its caller and the wallets it names in
one query (web.inputs.current_user_and_door_wallets): the key and the body come first,
under signed_in_first, which keeps 401 ahead of every other refusal.
"""
from errors import WalletNotFound
from models import TransactionRequest
from payments import door
from payments.details import parse_details
from web import metrics, views
from web.http import json_response
from web.inputs import (
    current_user_and_door_wallets,
    idempotency_key,
    path_id,
    read_json,
    signed_in_first,
)
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
    with signed_in_first():
        key = idempotency_key()
        doc = read_json(allowed={"amount"} | DETAILS)
        wallet = path_id(wallet_id, WalletNotFound)
    user, found = current_user_and_door_wallets([wallet])
    return accepted(*door.accept(user, kind=kind, key=key, amount=doc.get("amount"),
                                 wallet_id=wallet, details=details_of(doc), found=found))


@routes.post("/v1/wallets/<wallet_id>/deposits")
def post_deposit(wallet_id):
    return _single(wallet_id, "deposit")


@routes.post("/v1/wallets/<wallet_id>/withdrawals")
def post_withdrawal(wallet_id):
    return _single(wallet_id, "withdrawal")


@routes.post("/v1/transfers")
def post_transfer():
    with signed_in_first():
        key = idempotency_key()
        doc = read_json(allowed={"from_wallet_id", "to_wallet_id", "amount"} | DETAILS)
    user, found = current_user_and_door_wallets(
        door.door_ids(doc.get("from_wallet_id"), doc.get("to_wallet_id")))
    return accepted(*door.accept_transfer(user, key=key, from_wallet_id=doc.get("from_wallet_id"),
                                          to_wallet_id=doc.get("to_wallet_id"),
                                          amount=doc.get("amount"), details=details_of(doc),
                                          found=found))
