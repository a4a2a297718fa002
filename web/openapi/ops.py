"""The ops page's own OpenAPI document (tag `ops`): HTML for operators, outside the public
contract, documented like every other route and served to operators only at
/ops/openapi.json (the public /openapi.json does not name these routes).

Its operations take the ops token (`opsToken`) or the session cookie of its login form
(`opsSession`) instead of a user's JWT; their errors are problem+json for API clients and
a small HTML page for browsers (a 401 shows the login form).
"""
from payments.queues import QUEUES
from web.openapi import parts as oa

HTML, FORM = "text/html", "application/x-www-form-urlencoded"
SECURITY = [{"opsToken": []}, {"opsSession": []}]
SCHEMES = {
    "opsToken": {"type": "http", "scheme": "bearer",
                 "description": "The OPS_TOKEN setting. A bearer needs no CSRF token."},
    "opsSession": {"type": "apiKey", "in": "cookie", "name": "wallet_ops_session",
                   "description": "The signed session cookie POST /ops/login sets (HttpOnly, "
                                  "SameSite=Strict, Path=/ops). Its forms carry its CSRF token."},
}
HEADERS = {"Set-Cookie": {"description": "The ops session cookie.", "schema": {"type": "string"}}}
LOGIN_FORM = oa.obj({"token": {"type": "string", "description": "The ops token."}}, closed=True)
CSRF_FORM = oa.obj({"csrf_token": {"type": "string", "description": "The session's CSRF token "
                                   "from the page's forms; a bearer may leave it out."}},
                   [], closed=True)
PAGE = "<!doctype html><html lang=\"en\"><head><title>Wallet operations</title>..."
DASHBOARD = "Dramatiq's dashboard (Redis brokers only; 404 with RabbitMQ)"


def with_html(response: oa.Schema) -> oa.Schema:
    """An error response that a browser gets as an HTML page."""
    if "$ref" in response:
        response = oa.RESPONSES[response["$ref"].rsplit("/", 1)[1]]
    return {**response, "content": {**response["content"], HTML: {"schema": {"type": "string"}}}}


def op(op_id: str, summary: str, ok: dict, *, form: oa.Schema | None = None,
       params: tuple = (), errors: dict | None = None, public: bool = False,
       store: bool = True, description: str | None = None) -> oa.Schema:
    errors = dict(errors or {})
    if form is not None:
        errors.update({413: ("payload_too_large",), 415: ("unsupported_media_type",),
                       422: ("unknown_field", "validation_error")})
    out = oa.operation(op_id, summary, "ops", ok, params=params, auth=not public, store=store,
                       errors=errors, description=description)
    if not public:
        out["security"] = SECURITY
    if form is not None:
        out["requestBody"] = {"required": False, "content": {FORM: {"schema": form}}}
    out["responses"] = {status: with_html(r) if status[0] in "45" else r
                        for status, r in out["responses"].items()}
    return out


def see_other(description: str, *, headers: tuple[str, ...] = ()) -> dict:
    return {"303": oa.success(description, headers=("Location", *headers))}


def paths() -> dict[str, oa.Schema]:
    csrf = {403: ("csrf_rejected",)}
    queue = oa.param("queue", "path", {"type": "string", "enum": list(QUEUES)},
                     "An actor queue; its dead-letter queue is `<queue>.XQ`.")
    key = oa.param("key", "path", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                   "The dead message's id, as the page lists it.")
    dead = {403: ("csrf_rejected",), 404: ("message_not_found",)}
    return {
        "/ops/openapi.json": {"get": op(
            "get_ops_openapi", "This document", {"200": oa.success(
                "The operators' OpenAPI document.", {"type": "object"},
                {"openapi": "3.1.0", "info": {"title": "Wallet service operations"}})},
            store=False)},
        "/ops": {"get": op(
            "get_ops_page", "The operations page", {"200": oa.success(
                "Queue counts, requests by status, the latest failures, the last audit and "
                "the dead-lettered messages, with their actions.", {"type": "string"}, PAGE,
                media=HTML)},
            description="Counts the broker does not give show as `unavailable`.")},
        "/ops/login": {
            "get": op("get_ops_login", "The ops login form", {"200": oa.success(
                "An HTML form.", {"type": "string"}, PAGE, media=HTML)}, public=True,
                store=False),
            "post": op("post_ops_login", "Exchange the ops token for a session cookie",
                       see_other("Logged in: on to /ops.", headers=("Set-Cookie",)),
                       form=LOGIN_FORM, errors={401: ("unauthorized",),
                                                429: ("too_many_attempts",)}, public=True,
                       store=False)},
        "/ops/logout": {"post": op("post_ops_logout", "End the ops session",
                                   see_other("Logged out."), form=CSRF_FORM, errors=csrf,
                                   store=False)},
        "/ops/audit": {"post": op("post_ops_audit", "Run the ledger audit now and record it",
                                  see_other("Done: back to the page."), form=CSRF_FORM,
                                  errors=csrf)},
        "/ops/requests/{request_id}/rerun": {"post": op(
            "post_ops_rerun", "Re-run a request whose retries ran out",
            see_other("Pending again and sent to its actor."), form=CSRF_FORM,
            params=(oa.path_id("request_id", "request"),),
            errors={**csrf, 409: ("not_rerunnable",)},
            description="Only a `failed` request with `retries_exhausted` and no ledger "
                        "entries; settling then applies it once.")},
        "/ops/webhooks/jobs/{job_id}/resend": {"post": op(
            "post_ops_resend", "Re-send a webhook delivery that failed for good",
            see_other("Due again now, with three more days of retries."), form=CSRF_FORM,
            params=(oa.path_id("job_id", "webhook job"),),
            errors={**csrf, 409: ("not_resendable",)},
            description="Only a `failed` job whose webhook still exists.")},
        "/ops/queues/{queue}/dead/{key}/requeue": {"post": op(
            "post_ops_requeue", "Move a dead-lettered message back to its queue",
            see_other("Requeued (published before it left the dead-letter queue)."),
            form=CSRF_FORM, params=(queue, key), errors=dead)},
        "/ops/queues/{queue}/dead/{key}/delete": {"post": op(
            "post_ops_delete", "Delete a dead-lettered message", see_other("Deleted."),
            form=CSRF_FORM, params=(queue, key), errors=dead)},
        "/ops/dramatiq": {"get": op("get_ops_dramatiq", DASHBOARD, see_other(
            "On to /ops/dramatiq/."), store=False)},
        "/ops/dramatiq/{path}": {m: op(
            f"{m}_ops_dramatiq_page", f"{DASHBOARD}: a page or an action",
            {"200": oa.success("Its HTML page.", {"type": "string"}, PAGE, media=HTML),
             "302": oa.success("After an action.", headers=("Location",))},
            params=(oa.param("path", "path", {"type": "string"}, "The dashboard's own path."),),
            errors={403: ("csrf_rejected",)} if m == "post" else None, store=False,
            description="Dramatiq's dashboard checks its own CSRF token on POSTs.")
            for m in ("get", "post")},
    }


DESCRIPTION = ("The operations page of the wallet service: for operators, behind the ops "
               "token or its login form's session; not part of the public API.")
_document: dict | None = None


def document() -> dict:
    """The operators' OpenAPI document, built on first use and cached for the process."""
    global _document
    if _document is None:
        _document = oa.assemble(
            title="Wallet service operations", description=DESCRIPTION, paths_=paths(),
            tags={"ops": "The operations page (HTML for operators; the ops token, not a "
                         "user's)"}, schemes=SCHEMES, headers=HEADERS)
        _document["security"] = SECURITY
    return _document
