"""Refunds against MariaDB: by the recipient, in parts, never more than it received.

Requests are accepted at the door as the API accepts them and settled with the same
functions the actors call. Every test ends with the audit reporting nothing about its
wallets and requests.
"""
import pytest

import settings
from errors import InvalidAmount, NotRefundable, RefundExceedsOriginal, RequestNotFound
from models import Notification, TransactionRequest, Wallet
from payments import closing, refunds, settle, waits
from tests.helpers import unique
from tests.integration.factories import (
    accept,
    accept_transfer,
    active_hold,
    capture,
    entries,
    findings_about,
    funded,
    new_wallet,
    refund,
    reloaded,
    settled,
)


def balances(*wallets: Wallet) -> list[int]:
    return [reloaded(w).balance for w in wallets]


def outcome(request: TransactionRequest) -> tuple[str, str | None]:
    row = reloaded(request)
    return row.status, row.failure_code


def test_the_recipient_refunds_a_transfer_in_two_parts_up_to_what_it_received(monkeypatch):
    # Given a transfer fee of 2 %: Ada sends 50.00, Bob receives 49.00
    monkeypatch.setattr(settings, "TRANSFER_FEE_BP", 200)
    ada, bob = funded(), new_wallet()
    transfer = settled(accept_transfer(ada, bob, "50.00"))
    assert balances(ada, bob) == [4_950, 4_900]
    # When Bob refunds 9.00, then all that is left (no amount)
    first = settled(refund(transfer, "9.00"))
    rest = refund(transfer)
    assert rest.amount == 4_000
    settled(rest)
    # Then Ada got back what Bob received (the fee stays with the service), with
    # refund_out / refund_in entries and no fee of their own
    assert balances(ada, bob) == [9_850, 0]
    assert reloaded(transfer).refunded == 4_900
    assert [(e.wallet_id, e.type, e.amount, e.fee) for e in entries(first)] == [
        (bob.id, "refund_out", -900, 0), (ada.id, "refund_in", 900, 0)]
    assert (first.wallet_id, first.to_wallet_id, first.refund_of, first.fee) == \
        (bob.id, ada.id, transfer.id, 0)
    # And the original sender is told
    assert Notification.select().where((Notification.user == ada.user_id) &
                                       (Notification.type == "refund_received")).count() == 2
    # And nothing more can be refunded, whether asked for in full or in part
    with pytest.raises(NotRefundable):
        refund(transfer)
    with pytest.raises(RefundExceedsOriginal):
        refund(transfer, "0.01")
    assert findings_about([ada, bob], [transfer, first, rest]) == {}


def test_refunds_racing_for_the_same_money_never_give_back_more_than_was_received():
    ada, bob = funded(), new_wallet()
    transfer = settled(accept_transfer(ada, bob, "30.00"))
    # Given three refunds, each fine when accepted: 20.00, all of it, and 10.00
    racing = [refund(transfer, "20.00"), refund(transfer), refund(transfer, "10.00")]
    assert racing[1].amount == 3_000
    # When the first two settle in separate batches and the last in one with a fourth
    assert settle.settle(racing[0].id) == settle.SUCCEEDED
    assert settle.settle(racing[1].id) == settle.FAILED
    extra = refund(transfer, "10.00")
    assert settle.settle_batch([racing[2].id, extra.id]) == {racing[2].id: settle.SUCCEEDED,
                                                            extra.id: settle.FAILED}
    # Then exactly what was received went back, and the losers failed with the door's code
    assert reloaded(transfer).refunded == 3_000 and balances(bob) == [0]
    assert outcome(racing[1]) == outcome(extra) == ("failed", "refund_exceeds_original")
    assert findings_about([ada, bob], [transfer, *racing, extra]) == {}


def test_only_the_recipient_may_refund_and_everyone_else_is_told_there_is_no_such_request():
    ada, bob, eve = funded(), new_wallet(), new_wallet()
    transfer = settled(accept_transfer(ada, bob, "10.00"))
    # Its sender and a stranger: not found (only the recipient may refund)
    for caller in (ada, eve):
        with pytest.raises(RequestNotFound):
            refund(transfer, by=caller.user)
    # The caller's own request without a recipient: not refundable
    deposit = settled(accept(eve, "deposit", "1.00"))
    with pytest.raises(NotRefundable):
        refund(deposit, by=eve.user)
    # A request received that failed, or is still pending: not refundable
    failed = accept_transfer(eve, bob, "50.00")
    assert settle.settle(failed.id) == settle.FAILED
    pending = accept_transfer(ada, bob, "1.00")
    for original in (failed, pending):
        with pytest.raises(NotRefundable):
            refund(original)
    # A refund itself has no recipient to refund it
    back = settled(refund(transfer, "1.00"))
    with pytest.raises(NotRefundable):
        refund(back, by=bob.user)
    with pytest.raises(InvalidAmount):
        refunds.refund(bob.user, key=unique("k"), request_id=transfer.id, amount="0")
    settled(pending)


def test_the_recipient_may_read_a_transfer_it_received_and_no_one_else_may():
    ada, bob, eve = funded(), new_wallet(), new_wallet()
    transfer = settled(accept_transfer(ada, bob, "10.00"))
    assert waits.read(bob.user, transfer.id).id == transfer.id
    assert waits.read(ada.user, transfer.id).id == transfer.id
    with pytest.raises(RequestNotFound):
        waits.read(eve.user, transfer.id)
    # A deposit is its maker's alone
    deposit = settled(accept(ada, "deposit", "1.00"))
    with pytest.raises(RequestNotFound):
        waits.read(bob.user, deposit.id)


def test_a_refund_fails_when_the_recipient_spent_the_money_or_a_wallet_closed():
    ada, bob = funded(), new_wallet()
    transfer = settled(accept_transfer(ada, bob, "10.00"))
    # Bob spends 6.00 of it: a refund of 5.00 finds too little available
    settled(accept(bob, "withdrawal", "6.00"))
    short = refund(transfer, "5.00")
    assert settle.settle(short.id) == settle.FAILED
    assert outcome(short) == ("failed", "insufficient_funds")
    # Ada closes her wallet (emptied first): a refund to it fails with wallet_closed
    settled(accept(ada, "withdrawal", "89.50"))
    closing.close_wallet(ada.user, ada.id)
    closed = refund(transfer, "1.00")
    assert settle.settle(closed.id) == settle.FAILED
    assert outcome(closed) == ("failed", "wallet_closed")
    assert balances(bob) == [400] and reloaded(transfer).refunded == 0
    assert findings_about([ada, bob], [transfer, short, closed]) == {}


def test_a_capture_with_a_recipient_is_refunded_to_the_held_wallet():
    ada, bob = funded(), new_wallet()
    hold = active_hold(ada, "20.00", to=bob)
    taken = settled(capture(hold, "20.00"))
    back = settled(refund(taken, "5.00"))
    assert (back.wallet_id, back.to_wallet_id) == (bob.id, ada.id)
    assert balances(ada, bob) == [8_450, 1_500] and reloaded(taken).refunded == 500
    # A capture without a recipient has nobody to refund it
    own = active_hold(ada, "1.00")
    out = settled(capture(own))
    with pytest.raises(NotRefundable):
        refund(out, by=ada.user)
    assert findings_about([ada, bob], [taken, back, out]) == {}
