"""The public document's holds and refunds (API.md, version 1.1): their schemas, examples
and paths, joined to the rest by web/openapi/public.py."""
from web.openapi.accepted import AMOUNT_IN, DETAILS_IN, EXPIRES_IN
from web.openapi.parts import (
    CURRENCY,
    ID,
    METADATA,
    MONEY,
    REQUEST,
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

HOLD_STATUSES = ["pending", "active", "captured", "voided", "expired", "failed"]
SCHEMAS: dict[str, Schema] = {
    "Hold": obj({
        "id": ID, "wallet_id": {**ID, "description": "The held wallet (the payer's)."},
        "to_wallet_id": {**nullable(ID), "description": "Who captures and is paid; null: the "
                         "payer captures, out of the service as a withdrawal."},
        "currency": CURRENCY, "amount": MONEY,
        "captured": {**MONEY, "description": "The total of its succeeded captures."},
        "remaining": {**MONEY, "description": "amount - captured while pending or active; "
                      "zero once ended."},
        "status": {"type": "string", "enum": HOLD_STATUSES, "description":
                   "`pending` until its request settles, then `active` (or `failed`); an "
                   "active hold ends `captured`, `voided` or `expired`."},
        "expires_at": {**TIME, "description": "The hold request's created_at + expires_in_s; "
                       "the service releases it within HOLD_EXPIRY_SWEEP_S after."},
        "created_at": TIME, "updated_at": TIME, "request_id": ID,
        "description": nullable({"type": "string"}), "metadata": METADATA},
        description="Money of a wallet reserved now, moved later or never."),
    "HoldPage": page_of("Hold"),
    "HoldCreate": obj({"amount": AMOUNT_IN, "to_wallet_id": {
        **ID, "description": "Any live wallet in the same currency; omitted: none."},
        "expires_in_s": EXPIRES_IN, **DETAILS_IN}, ["amount"], closed=True),
    "CaptureCreate": obj({
        "amount": {**AMOUNT_IN, "description": "Omitted: all that remains when the capture "
                   "is accepted. " + AMOUNT_IN["description"]},
        "final": {"type": "boolean", "default": False, "description": "End the hold with this "
                  "capture, releasing whatever remains."}, **DETAILS_IN}, [], closed=True),
    "VoidCreate": obj({}, [], closed=True, description="Nothing: `{}`."),
    "RefundCreate": obj({
        "amount": {**AMOUNT_IN, "description": "Omitted: all that is still refundable when "
                   "the refund is accepted. " + AMOUNT_IN["description"]}, **DETAILS_IN},
        [], closed=True),
}
HOLD = {"id": 41, "wallet_id": 12, "to_wallet_id": 13, "currency": "USD", "amount": "60.00",
        "captured": "25.00", "remaining": "35.00", "status": "active",
        "expires_at": "2024-05-08T12:00:00.000000Z", "created_at": T0, "updated_at": T1,
        "request_id": 350, "description": "Order 1017", "metadata": {"order": "1017"}}
HOLD_REQUEST = {**REQUEST, "id": 350, "type": "hold", "amount": "60.00", "fee": "0.00",
                "to_wallet_id": 13, "hold_id": 41, "description": "Order 1017",
                "metadata": {"order": "1017"}}
CAPTURE_REQUEST = {**HOLD_REQUEST, "id": 351, "type": "capture", "amount": "25.00",
                   "refunded": "0.00", "description": None, "metadata": {}}
VOID_REQUEST = {**HOLD_REQUEST, "id": 352, "type": "void", "amount": "35.00",
                "description": None, "metadata": {}}
REFUND_REQUEST = {**REQUEST, "id": 353, "type": "refund", "amount": "5.00", "fee": "0.00",
                  "wallet_id": 13, "to_wallet_id": 12, "refund_of": 351}
DOOR_OR_OUTCOME = (" A rule already broken when the call arrives is refused here; one that "
                   "only breaks because a racing call got there first fails the request with "
                   "the same code as its `failure_code`.")


def _accepted(example: dict) -> dict[str, Schema]:
    return {"202": success("Accepted: the pending request, durably recorded.", ref("Request"),
                           example, headers=("Location", "Idempotent-Replayed"))}


def paths() -> dict[str, Schema]:
    hold_id = path_id("hold_id", "hold")
    deciders = ("When the hold names a `to_wallet_id`, that wallet's owner decides (as a "
                "merchant does) and the payer gets 403 `forbidden`; otherwise the payer "
                "decides. Anyone else gets 404 `hold_not_found`.")
    return {
        "/v1/wallets/{wallet_id}/holds": {"post": operation(
            "create_hold", "Hold money of a wallet, to capture later or never", "holds",
            _accepted(HOLD_REQUEST), params=(path_id("wallet_id", "wallet"),), idempotent=True,
            body=("HoldCreate", {"amount": "60.00", "to_wallet_id": 13,
                                 "description": "Order 1017", "metadata": {"order": "1017"}}),
            errors={404: ("wallet_not_found",), 422: (
                "invalid_amount", "currency_mismatch", "same_wallet", "validation_error")},
            description="The answer's `hold_id` names the Hold, `pending` from this moment. "
                        "It becomes `active` when its request settles, if the wallet's "
                        "available balance covers it (else `failed`, "
                        "`insufficient_funds`); no ledger entry is written: nothing moves "
                        "until a capture.")},
        "/v1/holds": {"get": operation(
            "list_holds", "Holds on the caller's wallets or for them", "holds",
            {"200": success("A page of holds.", ref("HoldPage"),
                            {"items": [HOLD], "next_cursor": None})},
            params=(param("status", "query", {"type": "string", "enum": HOLD_STATUSES},
                          "Only holds in this status."),
                    param("wallet_id", "query", ID, "Only holds on or for this wallet of the "
                          "caller's (another's: 404 `wallet_not_found`).")),
            paged=True, errors={404: ("wallet_not_found",)})},
        "/v1/holds/{hold_id}": {"get": operation(
            "get_hold", "A hold the caller is party to", "holds",
            {"200": success("The hold.", ref("Hold"), HOLD)}, params=(hold_id,),
            errors={404: ("hold_not_found",)},
            description="Both the payer and the recipient may read it.")},
        "/v1/holds/{hold_id}/captures": {"post": operation(
            "capture_hold", "Capture (part of) a hold", "holds", _accepted(CAPTURE_REQUEST),
            params=(hold_id,), idempotent=True,
            body=("CaptureCreate", {"amount": "25.00"}),
            errors={403: ("forbidden",), 404: ("hold_not_found",), 409: ("hold_not_active",),
                    422: ("invalid_amount", "exceeds_hold", "validation_error")},
            description="Moves money out of what the hold reserves: to its `to_wallet_id` as a "
                        "transfer would (the transfer fee), or, without one, out of the "
                        "service as a withdrawal would (the withdrawal fee). Captures add up, "
                        "never past the hold's amount; one that reaches it, or says `final`, "
                        "ends the hold `captured` and releases the rest. A hold whose "
                        "`expires_at` has passed is no longer active. A capture into a "
                        "recipient wallet closed since fails with `wallet_closed` and leaves "
                        "the hold active. " + deciders + DOOR_OR_OUTCOME)},
        "/v1/holds/{hold_id}/void": {"post": operation(
            "void_hold", "Release what a hold still reserves", "holds",
            _accepted(VOID_REQUEST), params=(hold_id,), idempotent=True,
            body=("VoidCreate", {}),
            errors={403: ("forbidden",), 404: ("hold_not_found",), 409: ("hold_not_active",)},
            description="The request's `amount` is what remained when it was accepted. "
                        "A void and a capture or expiry that race are decided once. "
                        + deciders + DOOR_OR_OUTCOME)},
        "/v1/requests/{request_id}/refunds": {"post": operation(
            "refund_request", "Give (part of) a received transfer or capture back", "requests",
            _accepted(REFUND_REQUEST), params=(path_id("request_id", "request"),),
            idempotent=True, body=("RefundCreate", {"amount": "5.00"}),
            errors={404: ("request_not_found",), 409: ("not_refundable",),
                    422: ("invalid_amount", "refund_exceeds_original", "validation_error")},
            description="Only the recipient of a succeeded transfer, or of a capture with a "
                        "recipient, may refund it (anyone else: 404 `request_not_found`): "
                        "from its wallet back to the original sender's, entries `refund_out` "
                        "/ `refund_in`, no fee (the original fee is not returned). The total "
                        "refunded never exceeds what the recipient received (the amount net "
                        "of its fee), even when refunds race. `not_refundable`: nothing left "
                        "to refund (with `amount` omitted), a failed or pending request, or "
                        "the caller's own request that has no recipient. A refund fails with "
                        "`insufficient_funds` when the recipient's available balance is "
                        "short, `wallet_closed` when either wallet closed since."
                        + DOOR_OR_OUTCOME)},
    }
