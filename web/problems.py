"""RFC 9457 problem+json: the one table from error class to HTTP status and code."""
import json
import logging

import errors as e

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"

# class -> (status, code, title). Subclasses are looked up before their bases.
PROBLEMS: dict[type, tuple[int, str, str]] = {
    e.InvalidJson: (400, "invalid_json", "Body is not valid JSON"),
    e.BadHttpRequest: (400, "bad_request", "Malformed HTTP request"),
    e.InvalidCursor: (400, "invalid_cursor", "Invalid cursor"),
    e.IdempotencyKeyRequired: (400, "idempotency_key_required", "Idempotency-Key required"),
    e.InvalidIdempotencyKey: (400, "invalid_idempotency_key", "Invalid Idempotency-Key"),
    e.Unauthorized: (401, "unauthorized", "Unauthorized"),
    e.InvalidCredentials: (401, "invalid_credentials", "Invalid credentials"),
    e.WrongCurrentPassword: (403, "invalid_credentials", "Invalid credentials"),
    e.CsrfRejected: (403, "csrf_rejected", "CSRF token missing or wrong"),
    e.NotFound: (404, "not_found", "Not found"),
    e.WalletNotFound: (404, "wallet_not_found", "Wallet not found"),
    e.RequestNotFound: (404, "request_not_found", "Request not found"),
    e.NotificationNotFound: (404, "notification_not_found", "Notification not found"),
    e.HoldNotFound: (404, "hold_not_found", "Hold not found"),
    e.WebhookNotFound: (404, "webhook_not_found", "Webhook not found"),
    e.InvalidWebhookUrl: (422, "invalid_webhook_url", "Invalid webhook URL"),
    e.TooManyWebhooks: (409, "too_many_webhooks", "Too many webhooks"),
    e.Forbidden: (403, "forbidden", "Forbidden"),
    e.HoldNotActive: (409, "hold_not_active", "Hold not active"),
    e.NotRefundable: (409, "not_refundable", "Not refundable"),
    e.ExceedsHold: (422, "exceeds_hold", "Exceeds hold"),
    e.RefundExceedsOriginal: (422, "refund_exceeds_original", "Refund exceeds original"),
    e.DeadMessageNotFound: (404, "message_not_found", "Message not found"),
    e.MethodNotAllowed: (405, "method_not_allowed", "Method not allowed"),
    e.EmailTaken: (409, "email_taken", "Email taken"),
    e.UsernameTaken: (409, "username_taken", "Username taken"),
    e.WalletExists: (409, "wallet_exists", "Wallet exists"),
    e.WalletNotEmpty: (409, "wallet_not_empty", "Wallet not empty"),
    e.NotRerunnable: (409, "not_rerunnable", "Request cannot be re-run"),
    e.NotResendable: (409, "not_resendable", "Webhook job cannot be re-sent"),
    e.PayloadTooLarge: (413, "payload_too_large", "Payload too large"),
    e.UnsupportedMediaType: (415, "unsupported_media_type", "Unsupported media type"),
    e.UnknownField: (422, "unknown_field", "Unknown field"),
    e.InvalidAmount: (422, "invalid_amount", "Invalid amount"),
    e.UnsupportedCurrency: (422, "unsupported_currency", "Unsupported currency"),
    e.CurrencyMismatch: (422, "currency_mismatch", "Currency mismatch"),
    e.SameWallet: (422, "same_wallet", "Same wallet"),
    e.IdempotencyKeyReused: (422, "idempotency_key_reused", "Idempotency-Key reused"),
    e.ValidationError: (422, "validation_error", "Validation error"),
    e.TooManyAttempts: (429, "too_many_attempts", "Too many attempts"),
    e.ServiceUnavailable: (503, "service_unavailable", "Service unavailable"),
}
INTERNAL = (500, "internal_error", "Internal error")
RETRY_AFTER_S = 2  # how soon to come back after a 503


def lookup(error: e.WalletError) -> tuple[int, str, str]:
    """Status, code and title for an error, by the nearest class in the table."""
    for cls in type(error).__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls]
    return INTERNAL


def body(status: int, code: str, title: str, detail: str, *, request_id: str,
         field_errors: list[dict] | None = None) -> bytes:
    """Serialise one problem document."""
    doc = {"type": f"urn:wallet:problem:{code}", "title": title, "status": status,
           "detail": detail or title, "code": code, "request_id": request_id}
    if field_errors:
        doc["errors"] = field_errors
    return json.dumps(doc).encode()


def headers_for(error: e.WalletError) -> dict[str, str]:
    """Extra headers some problems carry (Retry-After, Allow)."""
    if isinstance(error, e.TooManyAttempts):
        return {"Retry-After": str(error.retry_after_s)}
    if isinstance(error, e.ServiceUnavailable):
        return {"Retry-After": str(RETRY_AFTER_S)}
    if isinstance(error, e.MethodNotAllowed):
        return {"Allow": ", ".join(error.allowed)}
    return {}
