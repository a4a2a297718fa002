"""Events against MariaDB: each change writes its events in its own transaction, to the users
the contract names, with the resource as it stood after the change."""
import pytest

from accounts import resources, wallets
from errors import VersionConflict
from infra import wallet_cache
from models import Event, Hold, TransactionRequest, Wallet
from payments import expiry, outcomes, settle
from tests.helpers import unique
from tests.integration.factories import (
    accept,
    accept_transfer,
    active_hold,
    capture,
    new_user,
    new_wallet,
    refund,
    reloaded,
    settled,
    time_passes,
    void,
)


def events_of(user_id: int, since: int = 0) -> list[tuple[str, dict]]:
    return [(e.type, e.data) for e in Event.select().where(
        (Event.user_id == user_id) & (Event.id > since)).order_by(Event.id)]


def last_event_id() -> int:
    newest = Event.select(Event.id).order_by(Event.id.desc()).first()
    return newest.id if newest else 0


def shown(request: TransactionRequest) -> dict:
    """The Request as GET /v1/requests/{id} shows it now."""
    return resources.request(reloaded(request))


def test_a_new_wallet_writes_wallet_created_with_the_wallet_as_created():
    user = new_user()
    wallet, _ = wallets.create_wallet(user, currency="EUR", key=unique("w"))
    assert events_of(user.id) == [("wallet.created", resources.wallet(
        wallet_cache.state_of(Wallet.get_by_id(wallet.id))))]


def test_a_transfer_tells_its_maker_it_succeeded_and_its_recipient_it_arrived():
    ada, bob = new_wallet(), new_wallet()
    settled(accept(ada, "deposit", "10.00"))
    since = last_event_id()
    transfer = settled(accept_transfer(ada, bob, "4.00"))
    # The data is the Request exactly as it reads after the settlement
    assert events_of(ada.user_id, since) == [("request.succeeded", shown(transfer))]
    assert events_of(bob.user_id, since) == [("transfer.received", shown(transfer))]


def test_a_failed_request_tells_only_its_maker_with_its_failure():
    ada, bob = new_wallet(), new_wallet()
    since = last_event_id()
    request = accept_transfer(ada, bob, "1.00")
    assert settle.settle(request.id) == settle.FAILED
    [(kind, data)] = events_of(ada.user_id, since)
    assert (kind, data["failure_code"], data) == ("request.failed", "insufficient_funds",
                                                  shown(request))
    assert events_of(bob.user_id, since) == []


def test_a_hold_tells_both_parties_of_each_step_and_its_captures_are_received():
    ada, bob = new_wallet(), new_wallet()
    settled(accept(ada, "deposit", "100.00"))
    since = last_event_id()
    hold = active_hold(ada, "30.00", to=bob)
    taken = settled(capture(hold, "10.00"))
    voided = settled(void(Hold.get_by_id(hold.id)))
    after = resources.hold(Hold.get_by_id(hold.id))
    ada_saw = [kind for kind, _ in events_of(ada.user_id, since)]
    bob_saw = [kind for kind, _ in events_of(bob.user_id, since)]
    assert ada_saw == ["request.succeeded", "hold.activated", "hold.captured", "hold.voided"]
    assert bob_saw == ["hold.activated", "request.succeeded", "transfer.received",
                       "hold.captured", "request.succeeded", "hold.voided"]
    # Each carries the Hold as it stood after that step: the last one as it stands now
    assert events_of(bob.user_id, since)[-1][1] == after
    captured = dict(events_of(ada.user_id, since))["hold.captured"]
    assert (captured["captured"], captured["status"], captured["remaining"]) == \
        ("10.00", "active", "20.00")
    assert dict(events_of(bob.user_id, since))["transfer.received"] == shown(taken)
    assert events_of(bob.user_id, since)[-2] == ("request.succeeded", shown(voided))


def test_an_expired_hold_tells_both_parties_and_a_refund_tells_the_sender():
    ada, bob = new_wallet(), new_wallet()
    settled(accept(ada, "deposit", "100.00"))
    hold = active_hold(ada, "5.00", to=bob)
    time_passes(hold, 10**7)
    since = last_event_id()
    assert expiry.expire([hold.id]) == 1
    expired = resources.hold(Hold.get_by_id(hold.id))
    assert events_of(ada.user_id, since) == [("hold.expired", expired)]
    assert events_of(bob.user_id, since) == [("hold.expired", expired)]
    transfer = settled(accept_transfer(ada, bob, "10.00"))
    since = last_event_id()
    back = settled(refund(transfer, "3.00"))
    assert events_of(ada.user_id, since) == [("refund.received", shown(back))]
    assert events_of(bob.user_id, since) == [("request.succeeded", shown(back))]


def test_an_attempt_that_rolls_back_writes_no_event(monkeypatch):
    ada, bob = new_wallet(), new_wallet()
    settled(accept(ada, "deposit", "10.00"))
    request = accept_transfer(ada, bob, "1.00")
    since = last_event_id()

    def conflict(states, deltas, **kwargs):
        raise VersionConflict(ada.id)

    monkeypatch.setattr(outcomes, "balance_update", conflict)
    with pytest.raises(VersionConflict):
        settle.attempt([request.id])
    monkeypatch.undo()
    assert events_of(ada.user_id, since) == events_of(bob.user_id, since) == []
    settled(request)
    assert [k for k, _ in events_of(ada.user_id, since)] == ["request.succeeded"]


def test_a_request_given_up_tells_its_maker_it_failed():
    ada = new_wallet()
    request = accept(ada, "deposit", "1.00")
    since = last_event_id()
    assert settle.give_up(request.id, detail="Gave up after 20 retries.")
    assert events_of(ada.user_id, since) == [("request.failed", shown(request))]
