"""A user's webhooks: registering one (its secret shown once), listing, reading and deleting
them, and the deliveries log of one.

Registering is idempotent like every creating POST: the key is reserved in the webhook's
own transaction, and a replay answers the first 201 again, secret included. The user's
row is locked meanwhile, so two registrations at once cannot both pass the
MAX_WEBHOOKS_PER_USER check.
"""
import base64
import secrets
from collections.abc import Sequence

import peewee

import settings
from accounts import events
from errors import TooManyWebhooks, ValidationError, WebhookNotFound
from infra import idempotency
from models import User, Webhook, WebhookDelivery, db, newest_first, utcnow
from money import NOT_FREE_TEXT, is_free_text, is_text
from webhooks.urls import checked_url

ENDPOINT = "POST /v1/webhooks"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_DESCRIPTION_CHARS = 255


# `events` left out of a registration: every type (a JSON null is not "left out").
EVERY_TYPE = object()


def new_secret() -> str:
    """`whsec_` + base64 of SECRET_BYTES random bytes (Standard Webhooks' format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _refuse(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", errors=[{"field": field, "message": message}])


def event_types(value: object) -> list[str]:
    """The event types a webhook asks for: all of them when omitted (EVERY_TYPE), else a
    non-empty list of known types (kept in the contract's order, each once); an explicit
    `null` is refused like any other non-list."""
    if value is EVERY_TYPE:
        return list(events.TYPES)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _refuse("events", "must be a non-empty list of event types")
    unknown = sorted(set(value) - set(events.TYPES))
    if unknown:
        raise _refuse("events", "unknown event type(s): " + ", ".join(u[:40] for u in unknown))
    return [kind for kind in events.TYPES if kind in value]


def description_of(value: object) -> str | None:
    if value is None:
        return None
    if not is_text(value) or len(value) > MAX_DESCRIPTION_CHARS:
        raise _refuse("description", f"must be a string of at most {MAX_DESCRIPTION_CHARS} "
                                     "characters")
    if not is_free_text(value):
        raise _refuse("description", NOT_FREE_TEXT)
    return value


def register(user: User, *, key: str, url: object, kinds: object = EVERY_TYPE,
             description: object = None) -> tuple[Webhook, bool]:
    """Register a webhook of the caller, at most once per Idempotency-Key.

    Returns:
      The webhook (its secret included), and whether this call replayed an earlier one.

    Raises:
      InvalidWebhookUrl, ValidationError, TooManyWebhooks, IdempotencyKeyReused.
    """
    chosen, said = event_types(kinds), description_of(description)
    fingerprint = idempotency.fingerprint(ENDPOINT, {"url": url, "events": chosen,
                                                     "description": said})
    earlier = idempotency.earlier_webhook(user.id, key, fingerprint)
    if earlier is not None:
        return Webhook.get_by_id(earlier), True
    checked = checked_url(url)
    try:
        with db.atomic():
            User.select(User.id).where(User.id == user.id).for_update().execute()
            live = Webhook.select().where((Webhook.user_id == user.id) &
                                          Webhook.deleted_at.is_null()).count()
            if live >= settings.MAX_WEBHOOKS_PER_USER:
                raise TooManyWebhooks(f"A user may have at most "
                                      f"{settings.MAX_WEBHOOKS_PER_USER} webhooks.")
            webhook = Webhook.create(user_id=user.id, url=checked, events=chosen,
                                     description=said, secret=new_secret(), created_at=utcnow())
            idempotency.reserve_for_webhook(user.id, key, fingerprint, webhook.id)
    except peewee.IntegrityError:
        # A concurrent call with this key won: replay it (or refuse it, another body's).
        earlier = idempotency.earlier_webhook(user.id, key, fingerprint)
        if earlier is None:
            raise
        return Webhook.get_by_id(earlier), True
    return webhook, False


def _shown() -> list:
    """Every column but the secret: a list or a read never shows it, so it never opens it
    (each opening is a Fernet check and decryption)."""
    return [f for f in Webhook._meta.sorted_fields if f is not Webhook.secret]


def of_user(user: User) -> list[Webhook]:
    """The caller's live webhooks, oldest first, without their secrets."""
    return list(Webhook.select(*_shown()).where((Webhook.user_id == user.id) &
                                                Webhook.deleted_at.is_null())
                .order_by(Webhook.id))


def one(user: User, webhook_id: int) -> Webhook:
    """One of the caller's live webhooks, without its secret.

    Raises:
      WebhookNotFound: also for someone else's or a deleted one.
    """
    found = Webhook.select(*_shown()).where(
        (Webhook.id == webhook_id) & (Webhook.user_id == user.id) &
        Webhook.deleted_at.is_null()).get_or_none()
    if found is None:
        raise WebhookNotFound(f"No webhook {webhook_id}.")
    return found


def delete(user: User, webhook_id: int) -> None:
    """Delete one of the caller's webhooks: no delivery starts after this.

    Raises:
      WebhookNotFound.
    """
    changed = Webhook.update(deleted_at=utcnow()).where(
        (Webhook.id == webhook_id) & (Webhook.user_id == user.id) &
        Webhook.deleted_at.is_null()).execute()
    if not changed:
        raise WebhookNotFound(f"No webhook {webhook_id}.")


def deliveries(user: User, webhook_id: int, *, limit: int,
               after: int | None) -> Sequence[WebhookDelivery]:
    """A page of one of the caller's webhooks' delivery attempts, newest first.

    Raises:
      WebhookNotFound.
    """
    one(user, webhook_id)
    return newest_first(WebhookDelivery.select().where(WebhookDelivery.webhook_id == webhook_id),
                        WebhookDelivery.id, index="webhook_deliveries_webhook", limit=limit,
                        after=after)
