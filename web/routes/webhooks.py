"""/v1/webhooks: registering endpoints (the secret shown once), reading, deleting them, and
the deliveries log of one."""
import bottle

from errors import WebhookNotFound
from models import Webhook, WebhookDelivery
from web.http import json_response
from web.inputs import current_user, idempotency_key, path_id, read_json
from web.pages import PAGE_PARAMS, page_args, rendered_page
from web.routing import Routes
from web.views import iso
from webhooks import endpoints

routes = Routes()


def webhook(row: Webhook, *, with_secret: bool = False) -> dict:
    out = {"id": row.id, "url": row.url, "events": row.events, "description": row.description,
           "created_at": iso(row.created_at)}
    return {**out, "secret": row.secret} if with_secret else out


def delivery(row: WebhookDelivery) -> dict:
    return {"id": row.id, "event_id": row.event_id, "event_type": row.event_type,
            "attempt": row.attempt, "status": row.status,
            "response_status": row.response_status, "error": row.error,
            "duration_ms": row.duration_ms, "created_at": iso(row.created_at),
            "next_attempt_at": iso(row.next_attempt_at)}


@routes.post("/v1/webhooks")
def post_webhook():
    user = current_user()
    key = idempotency_key()
    doc = read_json(allowed={"url", "events", "description"})
    row, replayed = endpoints.register(user, key=key, url=doc.get("url"),
                                       kinds=doc.get("events", endpoints.EVERY_TYPE),
                                       description=doc.get("description"))
    headers = {"Location": f"/v1/webhooks/{row.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(201, webhook(row, with_secret=True), headers=headers)


@routes.get("/v1/webhooks")
def get_webhooks():
    return json_response(200, {"items": [webhook(row)
                                         for row in endpoints.of_user(current_user())]})


@routes.get("/v1/webhooks/<webhook_id>")
def get_webhook(webhook_id):
    user = current_user()
    return json_response(200, webhook(endpoints.one(user, path_id(webhook_id,
                                                                  WebhookNotFound))))


@routes.delete("/v1/webhooks/<webhook_id>")
def delete_webhook(webhook_id):
    endpoints.delete(current_user(), path_id(webhook_id, WebhookNotFound))
    return bottle.HTTPResponse(status=204)


@routes.get("/v1/webhooks/<webhook_id>/deliveries", query=PAGE_PARAMS)
def get_deliveries(webhook_id):
    user = current_user()
    found = path_id(webhook_id, WebhookNotFound)
    scope = f"deliveries:{user.id}:{found}"
    limit, after = page_args(scope)
    return json_response(200, rendered_page(
        endpoints.deliveries(user, found, limit=limit, after=after), limit=limit, scope=scope,
        render=delivery))
