"""/v1/requests: a request's state (with `?wait=`), the caller's list of them, refunds."""
import hashlib

from errors import RequestNotFound
from models import PENDING
from payments import history, refunds, visible, waits
from payments.history import RequestFilters
from web import polls, views
from web.filters import request_filters
from web.http import json_response
from web.inputs import (
    current_user,
    current_user_and,
    idempotency_key,
    optional_fields,
    path_id,
    read_json,
    signed_in_first,
    wait_seconds,
)
from web.pages import page_args, rendered_page
from web.routes.money import DETAILS, accepted, details_of
from web.routing import Routes

routes = Routes()
# Seconds a poll turned away by the caps is told to wait before it comes back.
RETRY_POLL_S = 1


@routes.get("/v1/requests/<request_id>", query={"wait"})
def get_request(request_id):
    # The caller and the request in one query (payments/visible.py); 401 still comes first.
    with signed_in_first():
        wait_s = wait_seconds()
        request_id = path_id(request_id, RequestNotFound)
    user, found = current_user_and(visible.caller_and_request, request_id)
    request = waits.read(user, request_id, found)
    headers = None
    if request.status == PENDING and wait_s:
        with polls.SLOTS.take(user.id) as granted:
            if granted:
                request = waits.until_settled(user, request_id, wait_s=wait_s)
            else:
                # No place to wait: answer now, saying when to come back, so no client spins.
                headers = {"Retry-After": str(RETRY_POLL_S)}
    return json_response(200, views.request(waits.settled_view(request)), headers=headers)


# Its parameters are checked by web.filters.request_filters: `metadata[KEY]` is open-ended.
@routes.get("/v1/requests", query=None)
def get_requests():
    user = current_user()
    filters = request_filters(user)
    # The cursor's scope names the filters: a cursor of one list cannot page another.
    scope = f"requests:{user.id}" + ("" if filters == RequestFilters() else
                                     ":" + hashlib.sha256(filters.key().encode()).hexdigest())
    limit, after = page_args(scope)
    return json_response(200, rendered_page(
        history.page_of(user, filters, limit=limit, after=after), limit=limit,
        scope=scope, render=views.request))


@routes.post("/v1/requests/<request_id>/refunds")
def post_refund(request_id):
    with signed_in_first():
        key = idempotency_key()
        doc = read_json(allowed={"amount"} | DETAILS)
        original = path_id(request_id, RequestNotFound)
        optional = optional_fields(doc, "amount")
    user, found = current_user_and(visible.caller_and_request, original)
    return accepted(*refunds.refund(user, key=key, request_id=original, **optional,
                                    details=details_of(doc), found=found))
