"""/v1/wallets: opening, reading and closing wallets, and a wallet's ledger entries."""
import bottle
import orjson

from accounts import wallets
from errors import WalletNotFound
from infra import cache
from ledger import history
from ledger.history import EntryFilters
from payments import closing
from web import views
from web.filters import ENTRY_PARAMS, entry_filters
from web.http import json_response
from web.inputs import current_user, idempotency_key, path_id, read_json
from web.pages import page_args, rendered_page
from web.routing import Routes

routes = Routes()


@routes.post("/v1/wallets")
def post_wallets():
    user = current_user()
    key = idempotency_key()
    doc = read_json(allowed={"currency"})
    wallet, replayed = wallets.create_wallet(user, currency=doc.get("currency"), key=key)
    headers = {"Location": f"/v1/wallets/{wallet.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(201, views.wallet_as_created(wallet), headers=headers)


@routes.get("/v1/wallets")
def get_wallets():
    return json_response(200, {"items": [views.wallet(state)
                                         for state in wallets.live_wallets(current_user())]})


@routes.get("/v1/wallets/<wallet_id>")
def get_wallet(wallet_id):
    user = current_user()
    return json_response(200, views.wallet(
        wallets.get_wallet(user, path_id(wallet_id, WalletNotFound))))


@routes.delete("/v1/wallets/<wallet_id>")
def delete_wallet(wallet_id):
    closing.close_wallet(current_user(), path_id(wallet_id, WalletNotFound))
    return bottle.HTTPResponse(status=204)


def history_cache_key(wallet: dict, limit: int, after: int | None) -> str:
    """Where a rendered page of entries is cached, named by parsed values only (so no query
    string can mint keys): any change to the wallet bumps its version, so a cached page can
    never show an older ledger than the wallet it belongs to. Only unfiltered pages are
    cached: a filter's moments would let a client mint keys without end. (`d`: pages that
    show descriptions; a page cached before they did is never read again.)"""
    return f"history:{wallet['id']}:v{wallet['version']}:d:{limit}:{after or 0}"


@routes.get("/v1/wallets/<wallet_id>/transactions", query=ENTRY_PARAMS)
def get_wallet_transactions(wallet_id):
    wallet = wallets.get_wallet(current_user(), path_id(wallet_id, WalletNotFound))
    filters = entry_filters()
    # The cursor's scope names the filters: a cursor of one list cannot page another.
    scope = f"transactions:{wallet['id']}" + (f":{filters.key()}" if filters.key() != "||"
                                              else "")
    limit, after = page_args(scope)
    key = history_cache_key(wallet, limit, after) if filters == EntryFilters() else None
    cached = cache.get(key) if key else None
    if cached is not None:
        return json_response(200, orjson.Fragment(cached))
    body = rendered_page(history.page_of(wallet["id"], filters, limit=limit, after=after),
                         limit=limit, scope=scope,
                         render=lambda row: views.transaction(row, wallet["currency"]))
    if key:
        cache.put(key, orjson.dumps(body))
    return json_response(200, body)
