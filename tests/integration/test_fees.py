"""Fees at nonzero rates on every operation: the exact fee, who pays it, and its entry.

The rates are settings read when a request is accepted (`payments.FEE_BP`), so each test
sets its own. Amounts are chosen so the exact fee ends in half a minor unit, which is
rounded up. Whatever the operation, the fee is carried by the money that arrives: a
deposit credits the amount less the fee, a withdrawal pays out the amount less the fee, a
transfer debits the sender the amount and credits the recipient the amount less the fee;
the fee account gets the fee as an entry of its own, and the entries sum to zero.
"""
import pytest

import settings
from ledger.system import EXTERNAL, FEES, system_wallet_id
from models import Wallet
from payments import settle
from tests.integration.factories import (
    accept,
    accept_transfer,
    entries,
    findings_about,
    new_wallet,
    reloaded,
    settled,
)

DEPOSIT_BP, WITHDRAWAL_BP, TRANSFER_BP = 125, 75, 150


@pytest.fixture(autouse=True)
def fees(monkeypatch):
    monkeypatch.setattr(settings, "DEPOSIT_FEE_BP", DEPOSIT_BP)
    monkeypatch.setattr(settings, "WITHDRAWAL_FEE_BP", WITHDRAWAL_BP)
    monkeypatch.setattr(settings, "TRANSFER_FEE_BP", TRANSFER_BP)


def rows(request) -> list[tuple]:
    return [(e.wallet_id, e.type, e.amount, e.fee, e.balance_after, e.counterparty_wallet_id)
            for e in entries(request)]


def system(kind: str) -> int:
    return system_wallet_id(kind, "USD")


def fee_at(amount: int, bp: int) -> int:
    """The fee the rules say, restated: `bp` basis points of `amount`, half up."""
    return (amount * bp + 5_000) // 10_000


def funded(minor: int):
    """A wallet holding exactly `minor` (a deposit grossed up for its fee)."""
    wallet = new_wallet()
    gross = next(g for g in range(minor, 2 * minor + 100)
                 if g - fee_at(g, DEPOSIT_BP) == minor)
    settled(accept(wallet, "deposit", f"{gross // 100}.{gross % 100:02d}"))
    assert reloaded(wallet).balance == minor
    return reloaded(wallet)


def test_a_deposit_at_125_bp_credits_the_amount_less_the_fee_rounded_half_up():
    # Given an empty wallet and a deposit of 10.02 at 1.25 % (12.525 cents: 13)
    wallet = new_wallet()
    request = accept(wallet, "deposit", "10.02")
    assert (request.amount, request.fee) == (1_002, 13)

    # When it is settled
    settled(request)

    # Then the wallet has 9.89, the outside world paid 10.02, and the fee account has 0.13
    assert reloaded(wallet).balance == 989
    assert rows(request) == [(wallet.id, "deposit", 989, 13, 989, None),
                             (system(EXTERNAL), "deposit", -1_002, 0, None, wallet.id),
                             (system(FEES), "fee", 13, 0, None, wallet.id)]
    assert findings_about([wallet], [request]) == {}


def test_a_withdrawal_at_75_bp_debits_the_amount_and_pays_out_the_amount_less_the_fee():
    # Given a wallet holding 50.00 and a withdrawal of 46.00 at 0.75 % (34.5 cents: 35)
    wallet = funded(5_000)
    request = accept(wallet, "withdrawal", "46.00")
    assert (request.amount, request.fee) == (4_600, 35)

    # When it is settled
    settled(request)

    # Then the wallet lost exactly 46.00, 45.65 left the service and 0.35 is the fee
    assert reloaded(wallet).balance == 400
    assert rows(request) == [(wallet.id, "withdrawal", -4_600, 35, 400, None),
                             (system(EXTERNAL), "withdrawal", 4_565, 0, None, wallet.id),
                             (system(FEES), "fee", 35, 0, None, wallet.id)]
    assert findings_about([wallet], [request]) == {}


def test_a_transfer_at_150_bp_takes_its_fee_out_of_what_arrives_not_on_top():
    # Given a sender holding exactly 31.00 and a transfer of all of it at 1.5 % (46.5: 47)
    sender, recipient = funded(3_100), new_wallet()
    request = accept_transfer(sender, recipient, "31.00")
    assert (request.amount, request.fee) == (3_100, 47)

    # When it is settled
    outcome = settle.settle(request.id)

    # Then the sender paid exactly 31.00 (the fee is not added on top, so all of it could
    # be sent), the recipient got 30.53, and the fee account 0.47
    assert outcome == settle.SUCCEEDED
    assert (reloaded(sender).balance, reloaded(recipient).balance) == (0, 3_053)
    assert rows(request) == [
        (sender.id, "transfer_out", -3_100, 47, 0, recipient.id),
        (recipient.id, "transfer_in", 3_053, 0, 3_053, sender.id),
        (system(FEES), "fee", 47, 0, None, sender.id)]
    assert findings_about([sender, recipient], [request]) == {}


def test_a_transfer_larger_than_the_balance_fails_even_though_the_fee_would_come_off_it():
    # Given a sender holding 31.00 and a transfer of 31.01 (31.01 less its fee is less)
    sender, recipient = funded(3_100), new_wallet()
    request = accept_transfer(sender, recipient, "31.01")

    # When it is settled, Then it fails for want of funds and nothing moves
    assert settle.settle(request.id) == settle.FAILED
    assert reloaded(request).failure_code == "insufficient_funds"
    assert (reloaded(sender).balance, reloaded(recipient).balance) == (3_100, 0)
    assert entries(request) == []


def test_a_fee_that_rounds_to_nothing_books_no_fee_entry():
    # Given a transfer of 0.03 at 1.5 % (0.45 cents: 0)
    sender, recipient = funded(100), new_wallet()
    request = accept_transfer(sender, recipient, "0.03")
    assert request.fee == 0

    # When it is settled, Then the whole 0.03 arrives and there is no fee entry
    settled(request)
    assert rows(request) == [(sender.id, "transfer_out", -3, 0, 97, recipient.id),
                             (recipient.id, "transfer_in", 3, 0, 3, sender.id)]


@pytest.mark.parametrize("kind", ["deposit", "withdrawal", "transfer"])
def test_every_operation_with_a_fee_books_it_to_the_fee_account_and_balances(kind):
    # Given a funded wallet and a request of this kind of 20.00 with a nonzero fee
    wallet, recipient = funded(5_000), new_wallet()
    request = accept_transfer(wallet, recipient, "20.00") if kind == "transfer" else \
        accept(wallet, kind, "20.00")
    bp = {"deposit": DEPOSIT_BP, "withdrawal": WITHDRAWAL_BP, "transfer": TRANSFER_BP}[kind]
    assert request.fee == fee_at(2_000, bp) > 0

    # When it is settled
    settled(request)

    # Then one fee entry carries exactly the request's fee, and the entries sum to zero
    fee_entries = [e for e in entries(request) if e.type == "fee"]
    assert [(e.wallet_id, e.amount) for e in fee_entries] == [(system(FEES), request.fee)]
    assert sum(e.amount for e in entries(request)) == 0
    assert findings_about([wallet, recipient], [request]) == {}


def test_each_currency_books_its_fees_and_outside_money_to_accounts_of_that_currency():
    # Given a EUR and a USD wallet, each with a deposit that has a fee
    eur, usd = new_wallet(currency="EUR"), new_wallet(currency="USD")
    in_eur = settled(accept(eur, "deposit", "20.00"))
    in_usd = settled(accept(usd, "deposit", "20.00"))

    # Then each deposit's external and fee entries went to accounts of its own currency
    for request, currency in ((in_eur, "EUR"), (in_usd, "USD")):
        accounts = [Wallet.get_by_id(e.wallet_id) for e in entries(request)
                    if e.wallet_id != request.wallet_id]
        assert [(a.system_key, a.currency) for a in accounts] == \
            [(f"external:{currency}", currency), (f"fees:{currency}", currency)]
