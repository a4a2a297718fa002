"""The HTTP API: thin Bottle routes that parse, authorise and call plain functions.

Serve it with waitress (see the Procfile); `app` is the WSGI application.
"""
import logging
import re

import bottle
import orjson

import cache
import docs
import health
import logs
import notifications
import openapi
import payments
import polls
import users
import views
import wallets
from errors import (MethodNotAllowed, NotFound, NotificationNotFound, RequestNotFound,
                    Unauthorized, WalletNotFound)
from models import LoginLog, Transaction
from web import gauges, metrics  # noqa: F401 - importing gauges registers them on metrics
from web.http import (KnownQueryOnly, RequestIdMiddleware, client_address, idempotency_key,
                      json_response, problem_response, problems_plugin, read_json,
                      require_string, user_agent)
from web import ops as web_ops
from web.pages import PAGE_PARAMS, page, page_args

log = logging.getLogger(__name__)
bottle.BaseRequest.MEMFILE_MAX = 0  # bodies are read by web.http.read_json only
core = bottle.Bottle()
core.config["catchall"] = False  # errors reach our plugin and middleware, never Bottle's page
core.install(problems_plugin)
core.install(KnownQueryOnly())  # a route takes no query parameter unless it says `query=`
PATH_ID = re.compile(r"[0-9]{1,18}", re.ASCII)
RETRY_POLL_S = 1
metrics.WAITING_POLLS.set_function(polls.SLOTS.waiting)


def current_user() -> users.User:
    header = bottle.request.environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send Authorization: Bearer <token>.")
    user = users.user_for_token(token.strip())
    logs.add(user_id=user.id)
    return user


def path_id(raw: str, missing: type) -> int:
    """An id from the path; anything not a plausible id is simply not found."""
    if not PATH_ID.fullmatch(raw):
        raise missing(f"No such id: {raw[:40]!r}.")
    return int(raw)


# -- users and auth ---------------------------------------------------------------------
@core.post("/v1/users")
def post_users():
    doc = read_json(allowed={"email", "username", "password"})
    user = users.sign_up(email=require_string(doc, "email"),
                         username=require_string(doc, "username"),
                         password=require_string(doc, "password"), ip=client_address())
    return json_response(201, views.user(user), headers={"Location": "/v1/me"})


@core.post("/v1/auth/token")
def post_token():
    doc = read_json(allowed={"email", "password"})
    token, ttl_s = users.log_in(email=require_string(doc, "email"),
                                password=require_string(doc, "password"),
                                ip=client_address(), user_agent=user_agent())
    return json_response(200, {"access_token": token, "token_type": "Bearer",
                               "expires_in": ttl_s}, headers={"Cache-Control": "no-store"})


@core.post("/v1/auth/logout")
def post_logout():
    users.log_out(current_user())
    return bottle.HTTPResponse(status=204)


@core.get("/v1/me")
def get_me():
    return json_response(200, views.user(current_user()))


@core.patch("/v1/me")
def patch_me():
    user = current_user()
    doc = read_json(allowed={"username", "password", "current_password"})
    fields = {name: require_string(doc, name) for name in doc}
    return json_response(200, views.user(users.update_profile(user, ip=client_address(),
                                                              **fields)))


@core.delete("/v1/me")
def delete_me():
    users.delete_user(current_user())
    return bottle.HTTPResponse(status=204)


@core.get("/v1/me/logins", query=PAGE_PARAMS)
def get_logins():
    user = current_user()
    return json_response(200, page(LoginLog.select().where(LoginLog.user == user), LoginLog.id,
                                   scope=f"logins:{user.id}", render=views.login,
                                   index="login_logs_user_id"))


# -- wallets ----------------------------------------------------------------------------
@core.post("/v1/wallets")
def post_wallets():
    user = current_user()
    key = idempotency_key()
    doc = read_json(allowed={"currency"})
    wallet, replayed = wallets.create_wallet(user, currency=doc.get("currency"), key=key)
    headers = {"Location": f"/v1/wallets/{wallet.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(201, views.wallet_as_created(wallet), headers=headers)


@core.get("/v1/wallets")
def get_wallets():
    return json_response(200, {"items": [views.wallet(state)
                                         for state in wallets.live_wallets(current_user())]})


@core.get("/v1/wallets/<wallet_id>")
def get_wallet(wallet_id):
    user = current_user()
    return json_response(200, views.wallet(
        wallets.get_wallet(user, path_id(wallet_id, WalletNotFound))))


@core.delete("/v1/wallets/<wallet_id>")
def delete_wallet(wallet_id):
    wallets.delete_wallet(current_user(), path_id(wallet_id, WalletNotFound))
    return bottle.HTTPResponse(status=204)


@core.get("/v1/wallets/<wallet_id>/transactions", query=PAGE_PARAMS)
def get_wallet_transactions(wallet_id):
    user = current_user()
    wallet = wallets.get_wallet(user, path_id(wallet_id, WalletNotFound))
    scope = f"transactions:{wallet['id']}"
    cache_key = wallets.history_cache_key(wallet, *page_args(scope))
    cached = cache.get(cache_key)
    if cached is not None:
        return json_response(200, orjson.Fragment(cached))
    body = page(Transaction.select().where(Transaction.wallet == wallet["id"]), Transaction.id,
                scope=scope,
                render=lambda row: views.transaction(row, wallet["currency"]),
                index="entries_wallet_id")
    cache.put(cache_key, orjson.dumps(body))
    return json_response(200, body)


# -- money movement ---------------------------------------------------------------------
def _accepted(request, replayed: bool):
    headers = {"Location": f"/v1/requests/{request.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(202, views.request_as_accepted(request), headers=headers)


@core.post("/v1/wallets/<wallet_id>/deposits")
def post_deposit(wallet_id):
    return _post_single(wallet_id, "deposit")


@core.post("/v1/wallets/<wallet_id>/withdrawals")
def post_withdrawal(wallet_id):
    return _post_single(wallet_id, "withdrawal")


def _post_single(wallet_id: str, kind: str):
    user = current_user()
    key = idempotency_key()
    doc = read_json(allowed={"amount"})
    request, replayed = payments.accept(user, kind=kind, key=key, amount=doc.get("amount"),
                                        wallet_id=path_id(wallet_id, WalletNotFound))
    return _accepted(request, replayed)


@core.post("/v1/transfers")
def post_transfer():
    user = current_user()
    key = idempotency_key()
    doc = read_json(allowed={"from_wallet_id", "to_wallet_id", "amount"})
    request, replayed = payments.accept_transfer(user, key=key, doc=doc)
    return _accepted(request, replayed)


@core.get("/v1/requests/<request_id>", query={"wait"})
def get_request(request_id):
    user = current_user()
    wait_s = payments.wait_seconds(bottle.request.query.get("wait"))
    request, turned_away = payments.get_request(user, path_id(request_id, RequestNotFound),
                                                wait_s=wait_s)
    # A poll that found no place to wait says when to come back, so no client spins.
    headers = {"Retry-After": str(RETRY_POLL_S)} if turned_away else None
    return json_response(200, views.request(request), headers=headers)


@core.get("/v1/requests", query=PAGE_PARAMS | {"status"})
def get_requests():
    user = current_user()
    status = bottle.request.query.get("status")
    return json_response(200, page(payments.requests_of(user, status),
                                   payments.TransactionRequest.id,
                                   scope=f"requests:{user.id}", render=views.request,
                                   index="requests_user_status" if status else "requests_user_id"))


# -- notifications ----------------------------------------------------------------------
@core.get("/v1/notifications", query=PAGE_PARAMS | {"unread"})
def get_notifications():
    user = current_user()
    unread = bottle.request.query.get("unread")
    query = notifications.of_user(user, unread=unread)
    return json_response(200, page(query, notifications.Notification.id,
                                   scope=f"notifications:{user.id}", render=views.notification,
                                   index=notifications.index_for(unread)))


@core.post("/v1/notifications/<notification_id>/read")
def post_notification_read(notification_id):
    user = current_user()
    notifications.mark_read(user, path_id(notification_id, NotificationNotFound))
    return bottle.HTTPResponse(status=204)


# -- service ----------------------------------------------------------------------------
@core.get("/healthz")
def get_healthz():
    return json_response(200, {"status": "ok"})


@core.get("/readyz")
def get_readyz():
    state = health.readiness()
    return json_response(200 if set(state.values()) == {"ok"} else 503, state)


@core.get("/metrics")
def get_metrics():
    body, content_type = metrics.exposition()
    return bottle.HTTPResponse(body, headers={"Content-Type": content_type})


@core.get("/openapi.json")
def get_openapi():
    return json_response(200, openapi.document())


@core.get("/docs")
def get_docs():
    return bottle.HTTPResponse(docs.PAGE, headers={"Content-Type": "text/html; charset=utf-8"})


@core.get(f"/docs/{docs.SCRIPT_NAME}")
def get_docs_script():
    return bottle.static_file(docs.SCRIPT_NAME, root=docs.ASSETS_DIR,
                              mimetype="text/javascript", charset="utf-8")


# -- operations (HTML for operators, not part of the public contract) --------------------
web_ops.install(core)  # /ops, /ops/login, its actions and /ops/dramatiq: see web/ops.py


@core.error(404)
def not_found(_):
    return problem_response(NotFound(f"No route for {bottle.request.path[:200]}."))


@core.error(405)
def not_allowed(err):
    allowed = [m.strip() for m in err.headers.get("Allow", "").split(",") if m.strip()]
    return problem_response(MethodNotAllowed(f"{bottle.request.method} is not allowed here.",
                                             allowed=allowed))


app = RequestIdMiddleware(core)
