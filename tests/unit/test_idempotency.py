"""Idempotency fingerprints: what makes two calls "the same" (pure: no Redis, no database)."""
import pytest

from errors import IdempotencyKeyReused
from infra import idempotency
from money import canonical_amount


def test_the_same_endpoint_and_fields_give_the_same_fingerprint_whatever_the_key_order():
    first = idempotency.fingerprint("POST /v1/transfers",
                                    {"from_wallet_id": 1, "to_wallet_id": 2, "amount": "5"})
    second = idempotency.fingerprint("POST /v1/transfers",
                                     {"amount": "5", "to_wallet_id": 2, "from_wallet_id": 1})
    assert first == second and len(first) == 64


def test_one_body_sent_to_two_endpoints_gives_two_fingerprints():
    # Given the same body for a deposit and a withdrawal on one wallet
    body = {"amount": canonical_amount("10.00")}
    # When each is fingerprinted, Then they differ (a deposit's key cannot answer a withdrawal)
    assert idempotency.fingerprint("POST /v1/wallets/7/deposits", body) != \
        idempotency.fingerprint("POST /v1/wallets/7/withdrawals", body)
    assert idempotency.fingerprint("POST /v1/wallets/7/deposits", body) != \
        idempotency.fingerprint("POST /v1/wallets/8/deposits", body)


@pytest.mark.parametrize("field, value", [("to_wallet_id", 3), ("from_wallet_id", 9),
                                          ("amount", "5.01")])
def test_a_transfer_that_differs_in_any_one_field_gives_another_fingerprint(field, value):
    asked = {"from_wallet_id": 1, "to_wallet_id": 2, "amount": "5"}
    assert idempotency.fingerprint("POST /v1/transfers", asked) != \
        idempotency.fingerprint("POST /v1/transfers", {**asked, field: value})


def test_a_replay_must_ask_exactly_what_the_first_call_asked():
    idempotency.ensure_same("abc", "abc")
    with pytest.raises(IdempotencyKeyReused):
        idempotency.ensure_same("abc", "abd")
