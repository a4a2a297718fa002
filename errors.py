"""The error tree of the wallet service, rooted in `WalletError`.

Domain code raises these; `web/problems.py` maps each class to an HTTP status and a
problem `code` in one table. Library errors are translated where they enter.
"""


class WalletError(Exception):
    """Base class for every error the service raises on purpose."""

    def __init__(self, detail: str = "", *, errors: list[dict] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


# -- input ------------------------------------------------------------------------------
class InvalidJson(WalletError):
    """Raised when a body is not one JSON object or repeats a key."""


class UnsupportedMediaType(WalletError):
    """Raised when a body comes with another Content-Type than application/json."""


class PayloadTooLarge(WalletError):
    """Raised when a body is larger than MAX_BODY_BYTES."""


class BadHttpRequest(WalletError):
    """Raised when the HTTP request itself cannot be parsed (answered by the server)."""


class ValidationError(WalletError):
    """Raised when fields have the wrong type or value."""


class UnknownField(ValidationError):
    """Raised when a body holds a field the endpoint does not take."""


class InvalidAmount(ValidationError):
    """Raised when an amount is not a positive plain decimal the currency allows."""


class UnsupportedCurrency(ValidationError):
    """Raised when a currency is not an active ISO 4217 code."""


class InvalidCursor(WalletError):
    """Raised when a pagination cursor is forged, truncated or someone else's."""


class IdempotencyKeyRequired(WalletError):
    """Raised when a write that needs an Idempotency-Key comes without one."""


class InvalidIdempotencyKey(WalletError):
    """Raised when an Idempotency-Key is not 1 to 255 visible ASCII characters."""


class IdempotencyKeyReused(WalletError):
    """Raised when a key comes back with another body or endpoint."""


# -- auth -------------------------------------------------------------------------------
class Unauthorized(WalletError):
    """Raised when a token is missing, malformed, expired, forged or its user is gone."""


class InvalidCredentials(WalletError):
    """Raised when an email and password do not match a live user."""


class WrongCurrentPassword(WalletError):
    """Raised when a password change comes with a wrong current_password."""


class TooManyAttempts(WalletError):
    """Raised when an email or client address failed to log in too often."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("Too many failed login attempts; try again later.")
        self.retry_after_s = retry_after_s


class EmailTaken(WalletError):
    """Raised when a live user already has this email."""


class UsernameTaken(WalletError):
    """Raised when a live user already has this username."""


# -- wallets and money ------------------------------------------------------------------
class NotFound(WalletError):
    """Raised when no route matches the path."""


class MethodNotAllowed(WalletError):
    """Raised when the route exists but not for this method."""

    def __init__(self, detail: str, *, allowed: list[str]) -> None:
        super().__init__(detail)
        self.allowed = allowed


class WalletNotFound(WalletError):
    """Raised when a wallet does not exist, is closed, or is not the caller's."""


class WalletExists(WalletError):
    """Raised when the caller already has a live wallet in this currency."""


class WalletNotEmpty(WalletError):
    """Raised when a wallet (or a user's wallets) still holds money or a pending request."""


class CurrencyMismatch(ValidationError):
    """Raised when a transfer joins wallets of two currencies."""


class SameWallet(ValidationError):
    """Raised when a transfer names one wallet as both ends."""


class RequestNotFound(WalletError):
    """Raised when a money request does not exist or is not the caller's."""


class HoldNotFound(WalletError):
    """Raised when a hold does not exist or names none of the caller's wallets."""


class Forbidden(WalletError):
    """Raised when the caller is a party to a hold, but not the one who may do this."""


class NotRefundable(WalletError):
    """Raised when a request cannot be refunded (not a succeeded transfer or capture with a
    recipient, or nothing of it is left to refund)."""


class WebhookNotFound(WalletError):
    """Raised when a webhook does not exist, was deleted, or is not the caller's."""


class InvalidWebhookUrl(ValidationError):
    """Raised when a webhook URL is malformed, too long, carries credentials or points at
    an address the service may not call."""


class TooManyWebhooks(WalletError):
    """Raised when a user already has MAX_WEBHOOKS_PER_USER webhooks."""


class NotResendable(WalletError):
    """Raised when an operator re-sends a webhook job that is not failed, or whose webhook
    was deleted."""


class NotificationNotFound(WalletError):
    """Raised when a notification does not exist or is not the caller's."""


class ServiceUnavailable(WalletError):
    """Raised when the database cannot be reached."""


# -- operations (the ops page) ----------------------------------------------------------
class CsrfRejected(WalletError):
    """Raised when an ops form comes without its session's CSRF token, or with another."""


class NotRerunnable(WalletError):
    """Raised when a request to re-run is not failed with retries_exhausted, or has entries."""


class DeadMessageNotFound(WalletError):
    """Raised when a dead-letter queue does not hold the message an operator named."""


class BrokerUnavailable(ServiceUnavailable):
    """Raised when the broker cannot be reached to move or delete a message."""


# -- settlement (never seen over HTTP: they end as a request's failure_code) -------------
class SettlementFailed(WalletError):
    """Raised when a request cannot be carried out for a business reason; never retried."""

    code = "settlement_failed"


class InsufficientFunds(SettlementFailed):
    """Raised when the paying wallet holds less than the amount."""

    code = "insufficient_funds"


class WalletGone(SettlementFailed):
    """Raised when a wallet of the request no longer exists."""

    code = "wallet_not_found"


class WalletClosed(SettlementFailed):
    """Raised when a wallet of the request was closed after it was accepted."""

    code = "wallet_closed"


class HoldNotActive(SettlementFailed):
    """Raised when a hold is captured or voided that is not (or no longer) active."""

    code = "hold_not_active"


class ExceedsHold(SettlementFailed):
    """Raised when a capture asks more than its hold still reserves."""

    code = "exceeds_hold"


class RefundExceedsOriginal(SettlementFailed):
    """Raised when a refund asks more than is still refundable of its request."""

    code = "refund_exceeds_original"


class RetriesExhausted(SettlementFailed):
    """Raised when a request's transient failures outlasted its retries (never retried)."""

    code = "retries_exhausted"


class AlreadySettled(WalletError):
    """Raised when a request left `pending` during an attempt; the attempt is dropped."""


class VersionConflict(WalletError):
    """Raised when a version-checked update matched no row; the attempt is retried."""

    def __init__(self, wallet_id: int) -> None:
        super().__init__(f"Wallet {wallet_id} changed under this update.")
        self.wallet_id = wallet_id


class RowChanged(VersionConflict):
    """Raised when a hold or a refunded total changed under an attempt's guarded update;
    the attempt is retried like a version conflict."""

    def __init__(self, what: str) -> None:
        WalletError.__init__(self, f"{what} changed under this update.")
