"""Holds: placing one on a wallet, reading them, capturing and voiding (each a 202 request)."""
import bottle

from accounts import wallets
from errors import HoldNotFound, WalletNotFound
from ledger.posting import ACTIVE, CAPTURED, EXPIRED, FAILED, PENDING, VOIDED
from payments import door, holds, two_phase
from web import views
from web.http import json_response
from web.inputs import (
    current_user,
    current_user_and,
    current_user_and_door_wallets,
    field_error,
    idempotency_key,
    optional_fields,
    path_id,
    read_json,
    signed_in_first,
)
from web.pages import PAGE_PARAMS, page_args, rendered_page
from web.routes.money import DETAILS, accepted, details_of
from web.routing import Routes

routes = Routes()
HOLD_STATUSES = (PENDING, ACTIVE, CAPTURED, VOIDED, EXPIRED, FAILED)


@routes.post("/v1/wallets/<wallet_id>/holds")
def post_hold(wallet_id):
    # As the money routes do (web/routes/money.py): the caller and the wallets in one query.
    with signed_in_first():
        key = idempotency_key()
        doc = read_json(allowed={"amount", "to_wallet_id", "expires_in_s"} | DETAILS)
        wallet = path_id(wallet_id, WalletNotFound)
        optional = optional_fields(doc, "to_wallet_id", "expires_in_s")
    user, found = current_user_and_door_wallets(
        door.door_ids(wallet, optional["to_wallet_id"]) if "to_wallet_id" in optional
        else [wallet])
    return accepted(*two_phase.place_hold(
        user, key=key, wallet_id=wallet, amount=doc.get("amount"), **optional,
        details=details_of(doc), found=found))


@routes.get("/v1/holds/<hold_id>")
def get_hold(hold_id):
    with signed_in_first():
        hold_id = path_id(hold_id, HoldNotFound)
    user, found = current_user_and(holds.caller_and_hold, hold_id)
    hold = holds.of_party(user.id, hold_id, found)
    if hold is None:
        raise HoldNotFound(f"No hold {hold_id}.")
    return json_response(200, views.hold(hold))


def _filters(user) -> tuple[str | None, int | None]:
    query = bottle.request.query
    status, wallet_id = query.get("status"), query.get("wallet_id")
    if status is not None and status not in HOLD_STATUSES:
        raise field_error("status", "must be one of " + ", ".join(HOLD_STATUSES))
    if wallet_id is None:
        return status, None
    found = path_id(wallet_id, WalletNotFound)
    if not wallets.owned(user, found):
        raise WalletNotFound(f"No wallet {found}.")
    return status, found


@routes.get("/v1/holds", query=PAGE_PARAMS | {"status", "wallet_id"})
def get_holds():
    user = current_user()
    status, wallet_id = _filters(user)
    # The cursor's scope names the filters: a cursor of one list cannot page another.
    scope = f"holds:{user.id}:{status or ''}:{wallet_id or ''}"
    limit, after = page_args(scope)
    return json_response(200, rendered_page(
        holds.page_of(user.id, status=status, wallet_id=wallet_id, limit=limit, after=after),
        limit=limit, scope=scope, render=views.hold))


@routes.post("/v1/holds/<hold_id>/captures")
def post_capture(hold_id):
    # As post_hold: the caller and the hold in one query, once the key and body are read.
    with signed_in_first():
        key = idempotency_key()
        doc = read_json(allowed={"amount", "final"} | DETAILS)
        hold = path_id(hold_id, HoldNotFound)
        optional = optional_fields(doc, "amount", "final")
    user, found = current_user_and(holds.caller_and_hold, hold)
    return accepted(*two_phase.capture(user, key=key, hold_id=hold, **optional,
                                       details=details_of(doc), found=found))


@routes.post("/v1/holds/<hold_id>/void")
def post_void(hold_id):
    with signed_in_first():
        key = idempotency_key()
        read_json(allowed=set())
        hold = path_id(hold_id, HoldNotFound)
    user, found = current_user_and(holds.caller_and_hold, hold)
    return accepted(*two_phase.void(user, key=key, hold_id=hold, found=found))
