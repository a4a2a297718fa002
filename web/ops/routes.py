"""The ops page at /ops: routes that authorise an operator, then call `ops`, `queues` and
`audit`, and render with `web.ops_html`. `install(app)` registers them.

An operator sends the ops token as a bearer, or holds the signed session cookie the login
form sets (`web.opsauth`); every POST of a session must carry that session's CSRF token
(a bearer needs none: browsers never add that header by themselves). Errors are the one
table's (`web.problems`): problem+json for API clients, a small HTML page for browsers.
"""
import logging
import re
import time

import bottle
import orjson

import settings
from accounts import operators
from errors import (
    DeadMessageNotFound,
    NotFound,
    NotRerunnable,
    NotResendable,
    Unauthorized,
    WalletError,
)
from infra import broker
from ledger import audit
from models import utcnow
from payments import requests, rerun
from payments.queues import QUEUES
from web import problems
from web.inputs import client_address
from web.openapi import ops as ops_openapi
from web.ops import auth as opsauth
from web.ops import dashboard
from web.ops import html as ops_html
from web.ops.auth import authorised_post, operator, read_form
from web.routing import Routes
from webhooks import health

log = logging.getLogger(__name__)
REQUEST_ID = re.compile(r"[0-9]{1,18}", re.ASCII)
MESSAGE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
NOTICES = {"rerun": "Request {} is pending again and was sent to its worker.",
           "requeue": "Message {} was moved back to its queue.",
           "delete": "Message {} was deleted.", "audit": "The audit ran (run {}).",
           "resend": "Webhook job {} is due again and will be sent shortly."}
# The page loads nothing from anywhere and may be framed by no one.
HTML_HEADERS = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                           "form-action 'self'; frame-ancestors 'none'",
                "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


def wants_html() -> bool:
    return "text/html" in bottle.request.environ.get("HTTP_ACCEPT", "")


def html(status: int, body: str, headers: dict | None = None) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(body, status=status, headers={**HTML_HEADERS, **(headers or {})})


def html_errors(callback):
    """Route plugin: a browser gets an error as HTML (the login form for a 401); anything
    else goes on to the app's problem+json plugin."""
    def wrapper(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except WalletError as exc:
            if not wants_html():
                raise
            status, _, title = problems.lookup(exc)
            if isinstance(exc, Unauthorized):
                login_error = exc.detail if bottle.request.path == "/ops/login" else None
                return html(401, ops_html.login_page(login_error))
            return html(status, ops_html.error_page(status, title, exc.detail),
                        problems.headers_for(exc))
    return wrapper


# Every ops route renders its errors for browsers too.
routes = Routes(apply=[html_errors])
route = routes.route


def done(what: str, ident: object, anchor: str) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(status=303, headers={
        "Location": f"/ops?done={what}&id={ident}#{anchor}", "Cache-Control": "no-store"})


# -- the page ---------------------------------------------------------------------------
def broker_queues():
    return broker.for_ops(QUEUES)


@route("/ops", query=frozenset({"done", "id"}))
def get_ops():
    op = operator()
    source = broker_queues()
    counts = source.counts()
    view = ops_html.OpsView(
        broker="Redis" if broker.KIND == "redis" else "RabbitMQ",
        counts=counts, stats=requests.stats(), failures=requests.latest_failures(),
        audit=audit.latest(), now=utcnow(), dashboard=dashboard.app() is not None,
        webhooks=health.health(),
        # Without counts the broker is down: do not wait for it once per queue.
        dead={q: source.dead(q) if counts is not None else None for q in QUEUES})
    what, ident = bottle.request.query.get("done"), bottle.request.query.get("id", "")
    notice = (NOTICES[what].format(ident) if what in NOTICES and MESSAGE_KEY.fullmatch(ident)
              else None)
    return html(200, ops_html.ops_page(view, csrf=op.csrf, notice=notice))


@route("/ops/openapi.json")
def get_ops_openapi():
    operator()
    return bottle.HTTPResponse(orjson.dumps(ops_openapi.document()),
                               headers={"Content-Type": "application/json"})


@route("/ops/login")
def get_login():
    return html(200, ops_html.login_page())


@route("/ops/login", "POST")
def post_login():
    ip = client_address()
    opsauth.check_token(read_form(allowed={"token"}).get("token", ""), ip)
    cookie = opsauth.new_session(settings.OPS_KEY, now_s=time.time(),
                                 ttl_s=settings.OPS_SESSION_TTL_S)
    operators.start(opsauth.session_nonce(cookie, settings.OPS_KEY, now_s=time.time()),
                       ip=ip, ttl_s=settings.OPS_SESSION_TTL_S)
    response = bottle.HTTPResponse(status=303, headers={"Location": "/ops"})
    # Secure everywhere but development: outside it the page is served over HTTPS.
    response.set_cookie(opsauth.COOKIE, cookie, path="/ops", httponly=True, samesite="strict",
                        max_age=settings.OPS_SESSION_TTL_S,
                        secure=not settings.DEVELOPMENT or bottle.request.urlparts.scheme
                        == "https")
    return response


@route("/ops/logout", "POST")
def post_logout():
    op = authorised_post()
    if op.nonce is not None:
        operators.end(op.nonce)
    response = bottle.HTTPResponse(status=303, headers={"Location": "/ops/login"})
    response.delete_cookie(opsauth.COOKIE, path="/ops")
    return response


# -- actions ----------------------------------------------------------------------------
@route("/ops/audit", "POST")
def post_audit():
    authorised_post()
    return done("audit", audit.run_and_record().id, "audit")


@route("/ops/requests/<request_id>/rerun", "POST")
def post_rerun(request_id):
    authorised_post()
    if not REQUEST_ID.fullmatch(request_id):
        raise NotRerunnable(f"No request {request_id[:40]!r}.")
    return done("rerun", rerun.rerun(int(request_id)).id, "failures")


@route("/ops/webhooks/jobs/<job_id>/resend", "POST")
def post_resend(job_id):
    authorised_post()
    if not REQUEST_ID.fullmatch(job_id) or not health.resend(int(job_id)):
        raise NotResendable(f"No failed webhook job {job_id[:40]!r} (of a live webhook).")
    log.warning("Webhook job %s re-sent by an operator.", job_id)
    return done("resend", job_id, "webhooks")


@route("/ops/queues/<queue>/dead/<key>/requeue", "POST")
def post_requeue(queue, key):
    return _dead_message(queue, key, "requeue")


@route("/ops/queues/<queue>/dead/<key>/delete", "POST")
def post_delete(queue, key):
    return _dead_message(queue, key, "delete")


def _dead_message(queue: str, key: str, action: str) -> bottle.HTTPResponse:
    authorised_post()
    if not MESSAGE_KEY.fullmatch(key):
        raise DeadMessageNotFound(f"No message {key[:64]!r}.")
    getattr(broker_queues(), action)(queue, key)
    log.warning("Dead message %s of %s: %s by an operator.", key, queue, action)
    return done(action, key, "dead")


# -- Dramatiq's dashboard, Redis brokers only -------------------------------------------
@route("/ops/dramatiq")
def get_dashboard_root():
    operator()
    if dashboard.app() is None:
        raise NotFound("Dramatiq's dashboard needs a Redis broker; this one is RabbitMQ.")
    return bottle.HTTPResponse(status=303, headers={"Location": dashboard.PREFIX + "/"})


@route("/ops/dramatiq/<path:re:.*>", "GET", query=None)
@route("/ops/dramatiq/<path:re:.*>", "POST", query=None)
def dashboard_page(path):
    operator()  # its POSTs carry the dashboard's own CSRF token, and our cookie is Strict
    if dashboard.app() is None:
        raise NotFound("Dramatiq's dashboard needs a Redis broker; this one is RabbitMQ.")
    return dashboard.call(path)
