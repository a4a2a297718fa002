"""Holds against MariaDB: placed, captured in parts, voided, expired; decided once when raced.

Requests are accepted at the door as the API accepts them and settled with the same
functions the actors call; expiry runs as its actor runs it. Every test ends with the
audit reporting nothing about its wallets, requests or holds.
"""
import pytest

import settings
from accounts.wallets import get_wallet
from errors import (
    CurrencyMismatch,
    ExceedsHold,
    Forbidden,
    HoldNotActive,
    HoldNotFound,
    SameWallet,
    ValidationError,
    WalletNotEmpty,
)
from models import Hold, Notification, TransactionRequest, Wallet, utcnow
from payments import closing, expiry, holds, settle, two_phase
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
    place_hold,
    reloaded,
    settled,
    time_passes,
    void,
)


def state(wallet: Wallet) -> tuple[int, int]:
    """(balance, held) as the database has them now."""
    row = reloaded(wallet)
    return row.balance, row.held


def outcome(request: TransactionRequest) -> tuple[str, str | None]:
    row = reloaded(request)
    return row.status, row.failure_code


def hold_of(request: TransactionRequest) -> Hold:
    return Hold.get_by_id(request.hold_id)


def notes_of(user_id: int) -> list[str]:
    return [n.type for n in Notification.select().where(Notification.user == user_id)
            .order_by(Notification.id)]


def clean(wallets: list[Wallet], requests: list[TransactionRequest],
          hold_ids: list[int] = ()) -> None:
    assert findings_about(wallets, requests, list(hold_ids)) == {}


# -- placing --------------------------------------------------------------------------------
def test_a_hold_reserves_money_without_moving_it_and_the_available_balance_shrinks():
    # Given Ada with 99.50
    ada, bob = funded(), new_wallet()
    # When she places a hold of 60.00 for Bob's wallet
    request = place_hold(ada, "60.00", to=bob)
    # Then the hold exists, pending, from the moment it is accepted, and reserves nothing yet
    hold = hold_of(request)
    assert (hold.status, hold.amount, hold.to_wallet_id, hold.to_user_id) == \
        ("pending", 6_000, bob.id, bob.user_id)
    assert (hold.expires_at - request.created_at).total_seconds() == \
        settings.HOLD_DEFAULT_EXPIRY_S
    assert state(ada) == (9_950, 0)
    # When it settles, Then it is active, the wallet holds 60.00 of its unchanged balance,
    # and no entry was written: nothing moved
    assert settle.settle(request.id) == settle.SUCCEEDED
    assert hold_of(request).status == "active"
    assert state(ada) == (9_950, 6_000) and entries(request) == []
    shown = get_wallet(ada.user, ada.id)
    assert (shown["balance"], shown["held"]) == (9_950, 6_000)
    # And both parties are told
    assert notes_of(ada.user_id)[-1] == "hold_succeeded"
    assert notes_of(bob.user_id)[-1] == "hold_received"
    clean([ada, bob], [request], [request.hold_id])


def test_withdrawals_transfers_and_new_holds_check_the_available_balance():
    # Given Ada's 99.50 with 60.00 of it held
    ada, bob = funded(), new_wallet()
    active_hold(ada, "60.00")
    # When she withdraws 40.00, transfers 0.01, then asks for 0.01 more in each way
    ok = [settled(accept(ada, "withdrawal", "39.49")), settled(accept_transfer(ada, bob, "0.01"))]
    late = [accept(ada, "withdrawal", "0.01"), accept_transfer(ada, bob, "0.01"),
            place_hold(ada, "0.01")]
    for request in late:
        assert settle.settle(request.id) == settle.FAILED
    # Then what was available went, and the rest failed with insufficient_funds
    assert state(ada) == (6_000, 6_000)
    assert [outcome(r) for r in late] == [("failed", "insufficient_funds")] * 3
    assert hold_of(late[2]).status == "failed"
    assert notes_of(ada.user_id)[-1] == "hold_failed"
    clean([ada, bob], ok + late, [late[2].hold_id])


def test_the_door_refuses_a_hold_it_can_already_tell_is_wrong():
    ada, bob, eur = funded(), new_wallet(), new_wallet(currency="EUR")
    with pytest.raises(CurrencyMismatch):
        place_hold(ada, "1.00", to=eur)
    with pytest.raises(SameWallet):
        place_hold(ada, "1.00", to=ada)
    for bad in (59, 2_592_001, True, "600", 600.0):
        with pytest.raises(ValidationError) as refused:
            two_phase.place_hold(ada.user, key=unique("k"), wallet_id=ada.id, amount="1.00",
                                 expires_in_s=bad)
        assert refused.value.errors == [{"field": "expires_in_s", "message":
                                         "must be an integer from 60 to 2592000 seconds"}]
    # And nothing was recorded for any of them
    assert Hold.select().where(Hold.wallet_id == ada.id).count() == 0
    assert Hold.select().where(Hold.wallet_id == bob.id).count() == 0


# -- capturing ------------------------------------------------------------------------------
def test_a_hold_captured_in_two_parts_moves_the_money_to_its_recipient_as_transfers():
    ada, bob = funded(), new_wallet()
    hold = active_hold(ada, "60.00", to=bob)
    # When Bob captures 25.00, then what remains (no amount)
    first = settled(capture(hold, "25.00"))
    assert (hold_of(first).status, hold_of(first).captured) == ("active", 2_500)
    assert state(ada) == (7_450, 3_500) and state(bob) == (2_500, 0)
    rest = capture(hold)
    assert rest.amount == 3_500
    settled(rest)
    # Then the hold is captured in full, nothing is held, and each capture wrote transfer
    # entries from Ada to Bob
    done = hold_of(rest)
    assert (done.status, done.captured) == ("captured", 6_000)
    assert state(ada) == (3_950, 0) and state(bob) == (6_000, 0)
    assert [(e.wallet_id, e.type, e.amount) for e in entries(first)] == [
        (ada.id, "transfer_out", -2_500), (bob.id, "transfer_in", 2_500)]
    # And the payer is told of each capture, the capturer of its own request
    assert notes_of(ada.user_id)[-2:] == ["hold_captured", "hold_captured"]
    assert notes_of(bob.user_id)[-2:] == ["capture_succeeded", "capture_succeeded"]
    clean([ada, bob], [first, rest], [hold.id])


def test_a_final_capture_ends_the_hold_and_releases_what_remains():
    ada, bob = funded(), new_wallet()
    hold = active_hold(ada, "60.00", to=bob)
    request = settled(capture(hold, "10.00", final=True))
    assert (hold_of(request).status, hold_of(request).captured) == ("captured", 1_000)
    assert state(ada) == (8_950, 0) and state(bob) == (1_000, 0)
    clean([ada, bob], [request], [hold.id])


def test_a_capture_without_a_recipient_leaves_the_service_as_a_withdrawal_with_its_fee(
        monkeypatch):
    # Given a withdrawal fee of 1 % and a hold with no recipient
    monkeypatch.setattr(settings, "WITHDRAWAL_FEE_BP", 100)
    ada = funded()
    hold = active_hold(ada, "50.00")
    # When Ada herself captures 20.00
    request = settled(capture(hold, "20.00"))
    # Then it leaves as a withdrawal would: 20.00 out, 19.80 to the outside, 0.20 in fees
    assert request.fee == 20 and state(ada) == (7_950, 3_000)
    assert [(e.type, e.amount) for e in entries(request)] == [
        ("withdrawal", -2_000), ("withdrawal", 1_980), ("fee", 20)]
    clean([ada], [request], [hold.id])


def test_only_the_recipient_decides_a_hold_with_a_recipient_and_a_stranger_cannot_see_it():
    ada, bob, eve = funded(), new_wallet(), new_wallet()
    hold = active_hold(ada, "10.00", to=bob)
    # The payer may read it but not capture or void it; a stranger cannot even see it
    assert holds.of_party(ada.user_id, hold.id) is not None
    for call in (two_phase.capture, two_phase.void):
        with pytest.raises(Forbidden):
            call(ada.user, key=unique("k"), hold_id=hold.id)
        with pytest.raises(HoldNotFound):
            call(eve.user, key=unique("k"), hold_id=hold.id)
    assert holds.of_party(eve.user_id, hold.id) is None
    # And without a recipient, the payer decides
    own = active_hold(ada, "5.00")
    settled(void(own, by=ada.user))
    assert Hold.get_by_id(own.id).status == "voided"


def test_the_door_refuses_to_capture_more_than_remains_or_a_hold_that_is_not_active():
    ada, bob = funded(), new_wallet()
    pending = hold_of(place_hold(ada, "10.00", to=bob))
    with pytest.raises(HoldNotActive):
        capture(pending)
    hold = active_hold(ada, "10.00", to=bob)
    with pytest.raises(ExceedsHold):
        capture(hold, "10.01")
    settled(capture(hold, "4.00"))
    with pytest.raises(ExceedsHold):
        capture(hold, "6.01")
    settled(void(hold))
    for call in (capture, void):
        with pytest.raises(HoldNotActive):
            call(Hold.get_by_id(hold.id))
    # A hold whose time is up is not active either, even before the service expired it
    late = active_hold(ada, "1.00", to=bob)
    time_passes(late, settings.HOLD_DEFAULT_EXPIRY_S + 1)
    with pytest.raises(HoldNotActive):
        capture(Hold.get_by_id(late.id))
    assert expiry.expire_due() >= 1


def test_two_captures_racing_for_the_same_money_are_decided_once():
    # Given a hold of 10.00 and two captures of 6.00, each fine when it was accepted
    ada, bob = funded(), new_wallet()
    hold = active_hold(ada, "10.00", to=bob)
    first, second = capture(hold, "6.00"), capture(hold, "6.00")
    # When both settle (in separate batches), Then the second fails as the door would
    # have refused it, and the total captured never exceeds the hold
    assert settle.settle(first.id) == settle.SUCCEEDED
    assert settle.settle(second.id) == settle.FAILED
    assert outcome(second) == ("failed", "exceeds_hold")
    assert (Hold.get_by_id(hold.id).captured, state(ada), state(bob)) == \
        (600, (9_350, 400), (600, 0))
    clean([ada, bob], [first, second], [hold.id])


def test_a_capture_and_a_void_in_one_batch_are_applied_in_order():
    ada, bob = funded(), new_wallet()
    hold = active_hold(ada, "10.00", to=bob)
    taken, voided, late = capture(hold, "3.00"), void(hold), capture(hold, "1.00")
    outcomes = settle.settle_batch([taken.id, voided.id, late.id])
    assert outcomes == {taken.id: settle.SUCCEEDED, voided.id: settle.SUCCEEDED,
                        late.id: settle.FAILED}
    assert outcome(late) == ("failed", "hold_not_active")
    assert (Hold.get_by_id(hold.id).status, Hold.get_by_id(hold.id).captured) == ("voided", 300)
    assert state(ada) == (9_650, 0) and state(bob) == (300, 0)
    assert notes_of(ada.user_id)[-2:] == ["hold_captured", "hold_voided"]
    clean([ada, bob], [taken, voided, late], [hold.id])


def test_a_capture_into_a_recipient_wallet_closed_since_fails_and_leaves_the_hold_active():
    ada, bob = funded(), new_wallet()
    hold = active_hold(ada, "10.00", to=bob)
    # (a hold for a wallet does not keep that wallet open; one on it does)
    closing.close_wallet(bob.user, bob.id)
    request = capture(hold, "5.00")
    assert settle.settle(request.id) == settle.FAILED
    assert outcome(request) == ("failed", "wallet_closed")
    assert Hold.get_by_id(hold.id).status == "active" and state(ada) == (9_950, 1_000)
    clean([ada, bob], [request], [hold.id])


# -- voiding, expiring, closing -------------------------------------------------------------
def test_a_void_releases_what_the_hold_still_reserves_and_moves_nothing():
    ada, bob = funded(), new_wallet()
    hold = active_hold(ada, "10.00", to=bob)
    settled(capture(hold, "4.00"))
    request = void(hold)
    assert request.amount == 600  # what remained when it was accepted
    settled(request)
    assert (Hold.get_by_id(hold.id).status, state(ada)) == ("voided", (9_550, 0))
    assert entries(request) == []
    clean([ada, bob], [request], [hold.id])


def test_the_service_expires_a_hold_whose_time_is_up_once_and_tells_both_parties():
    ada, bob = funded(), new_wallet()
    hold = active_hold(ada, "10.00", to=bob)
    # Given a capture accepted while the hold was active, and then the hold's time is up
    late = capture(hold, "2.00")
    time_passes(hold, settings.HOLD_DEFAULT_EXPIRY_S + 1)
    # When the expiry runs, twice (as two workers might)
    assert expiry.expire([hold.id]) == 1
    assert expiry.expire([hold.id]) == 0
    # Then the hold ended expired, its money is available again, both parties were told once
    assert (Hold.get_by_id(hold.id).status, state(ada)) == ("expired", (9_950, 0))
    assert notes_of(ada.user_id).count("hold_expired") == 1
    assert notes_of(bob.user_id).count("hold_expired") == 1
    # And the capture that raced it fails: exactly one of them won
    assert settle.settle(late.id) == settle.FAILED
    assert outcome(late) == ("failed", "hold_not_active")
    clean([ada, bob], [late], [hold.id])


def test_a_hold_not_yet_due_is_left_alone_by_the_expiry():
    ada = funded()
    hold = active_hold(ada, "10.00")
    time_passes(hold, settings.HOLD_DEFAULT_EXPIRY_S - 60)
    assert hold.id not in holds.due(now=utcnow(), limit=1_000_000)
    assert expiry.expire([hold.id]) == 0
    assert Hold.get_by_id(hold.id).status == "active"
    settled(void(hold))


def test_a_wallet_with_an_active_hold_cannot_be_closed_until_it_ends():
    # Given a wallet whose whole balance is held, and then spent by a final capture
    ada = funded("1.00")
    hold = active_hold(ada, "0.50")
    with pytest.raises(WalletNotEmpty):
        closing.close_wallet(ada.user, ada.id)
    settled(capture(hold, "0.50"))
    settled(accept(ada, "withdrawal", "0.49"))
    assert state(ada) == (0, 0)
    closing.close_wallet(ada.user, ada.id)
    assert reloaded(ada).deleted_at is not None


def test_a_hold_whose_retries_ran_out_fails_with_its_request_and_reserves_nothing():
    ada = funded()
    request = place_hold(ada, "10.00")
    assert settle.give_up(request.id, detail="Gave up after 20 retries.")
    assert outcome(request) == ("failed", "retries_exhausted")
    assert hold_of(request).status == "failed" and state(ada) == (9_950, 0)
    assert settle.settle(request.id) == settle.NOOP
    clean([ada], [request], [request.hold_id])


def test_a_hold_names_its_request_and_its_request_names_the_hold():
    ada = funded()
    request = place_hold(ada, "1.00")
    hold = hold_of(request)
    assert hold.request_id == request.id
    assert TransactionRequest.get_by_id(request.id).hold_id == hold.id
    assert (hold.amount, hold.currency, hold.user_id) == (100, "USD", ada.user_id)
    settled(request)
    settled(void(Hold.get_by_id(hold.id)))


def test_the_holds_list_shows_each_party_its_holds_newest_first_and_filters_them():
    ada, bob, eve = funded(), new_wallet(), new_wallet()
    mine = active_hold(ada, "1.00")
    for_bob = active_hold(ada, "2.00", to=bob)
    settled(void(mine))
    assert [h.id for h in holds.page_of(ada.user_id, status=None, wallet_id=None, limit=10,
                                        after=None)][:2] == [for_bob.id, mine.id]
    assert [h.id for h in holds.page_of(bob.user_id, status=None, wallet_id=None, limit=10,
                                        after=None)] == [for_bob.id]
    assert [h.id for h in holds.page_of(ada.user_id, status="voided", wallet_id=None,
                                        limit=10, after=None)] == [mine.id]
    assert [h.id for h in holds.page_of(bob.user_id, status=None, wallet_id=bob.id, limit=10,
                                        after=None)] == [for_bob.id]
    assert holds.page_of(eve.user_id, status=None, wallet_id=None, limit=10, after=None) == []
    # A page holds `limit` + 1 rows at most, and the next page starts below the cursor
    page = holds.page_of(ada.user_id, status=None, wallet_id=None, limit=1, after=None)
    assert [h.id for h in page] == [for_bob.id, mine.id]
    assert [h.id for h in holds.page_of(ada.user_id, status=None, wallet_id=None, limit=1,
                                        after=for_bob.id)] == [mine.id]
    settled(void(Hold.get_by_id(for_bob.id)))
