"""The public document's events and webhooks (API.md, version 1.1): their schemas,
examples and paths, joined to the rest by web/openapi/public.py."""
from accounts.events import TYPES
from money import FREE_TEXT_PATTERN
from web.openapi.parts import (
    ID,
    T0,
    T1,
    TIME,
    Schema,
    nullable,
    obj,
    operation,
    page_of,
    param,
    path_id,
    ref,
    success,
)
from web.openapi.two_phase import HOLD
from webhooks.endpoints import MAX_DESCRIPTION_CHARS
from webhooks.urls import MAX_URL_CHARS, URL_PATTERN

EVENT_TYPE: Schema = {"type": "string", "enum": list(TYPES)}
SCHEMAS: dict[str, Schema] = {
    "Event": obj({"id": ID, "type": EVENT_TYPE, "created_at": TIME, "data": {
        "type": "object", "description": "The Request (`request.*`, `transfer.received`, "
        "`refund.received`), the Hold (`hold.*`) or the Wallet (`wallet.created`) as it stood "
        "after the change."}}, description="One change, as one user sees it."),
    "EventPage": obj({"items": {"type": "array", "items": ref("Event")},
                      "next_after": {"type": "integer", "minimum": 0, "description":
                                     "The last returned event's id (pass it as ?after= "
                                     "next), or `after` itself when none came back."}},
                     description="The caller's events after a point, oldest first."),
    "WebhookCreate": obj({
        "url": {"type": "string", "maxLength": MAX_URL_CHARS, "pattern": URL_PATTERN,
                "description":
                "`https://` (`http://` too in development and test), without credentials, "
                "the host a DNS name (an IDN in its `xn--` form) or an IPv4 address; "
                "outside development and test it may not reach a loopback, private, "
                "link-local, multicast or reserved address (unless WEBHOOK_ALLOW_PRIVATE)."},
        "events": {"type": "array", "minItems": 1, "items": EVENT_TYPE, "description":
                   "The event types to send; omitted: every type."},
        "description": {"type": ["string", "null"], "maxLength": MAX_DESCRIPTION_CHARS,
                        "pattern": FREE_TEXT_PATTERN}},
        ["url"], closed=True),
    "Webhook": obj({"id": ID, "url": {"type": "string"},
                    "events": {"type": "array", "items": EVENT_TYPE},
                    "description": nullable({"type": "string"}), "created_at": TIME}),
    "WebhookCreated": obj({"id": ID, "url": {"type": "string"},
                           "events": {"type": "array", "items": EVENT_TYPE},
                           "description": nullable({"type": "string"}), "created_at": TIME,
                           "secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/=]{32,}$",
                                      "description": "Shown in this answer only (and in its "
                                      "idempotent replay): keep it to verify deliveries."}}),
    "WebhookList": obj({"items": {"type": "array", "items": ref("Webhook")}}),
    "Delivery": obj({
        "id": ID, "event_id": ID, "event_type": EVENT_TYPE,
        "attempt": {"type": "integer", "minimum": 1},
        "status": {"type": "string", "enum": ["succeeded", "failed"]},
        "response_status": nullable({"type": "integer"}),
        "error": nullable({"type": "string"}),
        "duration_ms": {"type": "integer", "minimum": 0}, "created_at": TIME,
        "next_attempt_at": {**nullable(TIME), "description": "When a failed attempt will be "
                            "retried; null on a success and on the last attempt."}},
        description="One delivery attempt of an event to a webhook."),
    "DeliveryPage": page_of("Delivery"),
}
EVENT = {"id": 9001, "type": "hold.activated", "created_at": T1, "data": HOLD}
WEBHOOK = {"id": 5, "url": "https://shop.example/hooks/wallet", "events": list(TYPES),
           "description": "orders", "created_at": T0}
DELIVERY = {"id": 77, "event_id": 9001, "event_type": "hold.activated", "attempt": 1,
            "status": "succeeded", "response_status": 200, "error": None, "duration_ms": 42,
            "created_at": T1, "next_attempt_at": None}
SIGNED = ("`POST`ed to the URL with the event as the JSON body and the Standard Webhooks "
          "headers `webhook-id` (the event's id, the same on every attempt: dedupe on it), "
          "`webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` + base64 of "
          "HMAC-SHA256 keyed with the secret's decoded bytes over `id.timestamp.body`): any "
          "Standard Webhooks library verifies it. A 2xx within WEBHOOK_TIMEOUT_S (5 s) is "
          "delivered; anything else (redirects are not followed) is retried after "
          "WEBHOOK_FIRST_RETRY_S (5 s), each gap doubling up to an hour, +-20 %, for "
          "WEBHOOK_RETRY_FOR_S (three days). At least once; order is not guaranteed.")


def paths() -> dict[str, Schema]:
    webhook_id = path_id("webhook_id", "webhook")
    return {
        "/v1/events": {"get": operation(
            "list_events", "The caller's events after a point, oldest first", "events",
            {"200": success("A page of events.", ref("EventPage"),
                            {"items": [EVENT], "next_after": 9001})},
            params=(param("after", "query", {"type": "integer", "minimum": 0,
                                             "maximum": 999999999999999999, "default": 0},
                          "Only events with a larger id (the last `next_after`)."),
                    param("type", "query", EVENT_TYPE, "Only events of this type."),
                    param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100,
                                             "default": 20}, "At most this many.")),
            errors={422: ("validation_error",)},
            description="Each event is written in the same database transaction as the change "
                        "it reports: a change that happened always has its events. "
                        "`request.succeeded`/`request.failed` go to the maker of every "
                        "request; `transfer.received` (a transfer, a capture with a recipient) "
                        "and `refund.received` to the receiving side; `hold.*` to both "
                        "parties, each their own.")},
        "/v1/webhooks": {
            "post": operation(
                "create_webhook", "Register a webhook", "events",
                {"201": success("The webhook, with its secret (shown this once).",
                                ref("WebhookCreated"), {**WEBHOOK, "secret": "whsec_" + "A" * 43
                                                        + "="},
                                headers=("Location", "Idempotent-Replayed"))},
                body=("WebhookCreate", {"url": "https://shop.example/hooks/wallet",
                                        "description": "orders"}), idempotent=True,
                errors={409: ("too_many_webhooks",),
                        422: ("invalid_webhook_url", "validation_error")},
                description="Every event of the caller from now on, of the types asked for, "
                            "is " + SIGNED + " At most MAX_WEBHOOKS_PER_USER (10) webhooks."),
            "get": operation("list_webhooks", "The caller's webhooks", "events",
                             {"200": success("Every live webhook (never a secret).",
                                             ref("WebhookList"), {"items": [WEBHOOK]})}),
        },
        "/v1/webhooks/{webhook_id}": {
            "get": operation("get_webhook", "One of the caller's webhooks", "events",
                             {"200": success("The webhook (never its secret).", ref("Webhook"),
                                             WEBHOOK)},
                             params=(webhook_id,), errors={404: ("webhook_not_found",)}),
            "delete": operation("delete_webhook", "Delete a webhook", "events",
                                {"204": success("Deleted: no delivery starts after this.")},
                                params=(webhook_id,), errors={404: ("webhook_not_found",)}),
        },
        "/v1/webhooks/{webhook_id}/deliveries": {"get": operation(
            "list_webhook_deliveries", "A webhook's deliveries log, newest first", "events",
            {"200": success("A page of attempts.", ref("DeliveryPage"),
                            {"items": [DELIVERY], "next_cursor": None})},
            params=(webhook_id,), paged=True, errors={404: ("webhook_not_found",)})},
    }
