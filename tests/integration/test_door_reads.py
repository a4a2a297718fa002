"""A money request reads its caller and the wallets (or the hold) it names in one query:
that query answers exactly what the two it replaces answered (accounts.users.user_for_token
and accounts.wallets.at_the_door or payments.holds.by_id), and the door handed its answer
reads no wallet or hold again.

Real MariaDB; the statements a call runs are counted with MariaDB's own session counter.
"""
import pytest

from accounts import users, wallets
from errors import HoldNotFound, RequestNotFound, Unauthorized, WalletNotFound
from ledger.system import EXTERNAL, system_wallet_id
from models import Hold, TransactionRequest, User, Wallet, utcnow
from payments import door, holds, refunds, two_phase, visible, waits
from tests.helpers import unique
from tests.integration.factories import (
    accept,
    accept_transfer,
    active_hold,
    capture,
    funded,
    new_wallet,
    refund,
    reloaded,
    session_count,
    settled,
    signed_up,
    token_for,
)


def selects(call) -> int:
    """The SELECT statements this connection ran while `call` ran (give or take the
    counting itself, the same for every call)."""
    return session_count("Com_select", call)


def funded_of(user: User, currency: str = "USD") -> Wallet:
    """A wallet of `user`, credited by a settled deposit of 10.00."""
    wallet = new_wallet(user, currency)
    settled(accept(wallet, "deposit", "10.00"))
    return reloaded(wallet)


def closed_wallet() -> Wallet:
    wallet = new_wallet()
    Wallet.update(deleted_at=utcnow()).where(Wallet.id == wallet.id).execute()
    return wallet


@pytest.mark.parametrize("case", ["own and another's", "own only", "own and a closed one",
                                  "own and a missing id", "own and a system account"])
def test_the_caller_and_the_wallets_read_together_are_what_the_two_reads_return(case):
    # Given a user with a wallet, and a second id of each kind
    user = signed_up()
    token = token_for(user)
    own = new_wallet(user)
    second = {"own and another's": lambda: new_wallet().id,
              "own only": lambda: own.id,
              "own and a closed one": lambda: closed_wallet().id,
              "own and a missing id": lambda: Wallet.select().order_by(Wallet.id.desc())
              .first().id + 1000,
              "own and a system account": lambda: system_wallet_id(EXTERNAL, "USD")}[case]()
    ids = sorted({own.id, second})
    # When both are read in one query
    caller, found = users.user_and_door_wallets(token, ids)
    # Then the user is the token's and the wallets are the door's own answer
    assert caller.id == user.id and caller.token_generation == user.token_generation
    assert caller.__data__ == users.user_for_token(token).__data__
    assert found == wallets.at_the_door(ids)
    assert own.id in found and found[own.id].user_id == user.id


def test_a_revoked_token_reads_no_wallets_even_when_they_exist():
    user = signed_up()
    token = token_for(user)
    own = new_wallet(user)
    users.log_out(user)
    with pytest.raises(Unauthorized):
        users.user_and_door_wallets(token, [own.id])


def test_a_deleted_users_token_reads_no_wallets():
    user = signed_up()
    token = token_for(user)
    own = new_wallet(user)
    User.update(deleted_at=utcnow()).where(User.id == user.id).execute()
    with pytest.raises(Unauthorized):
        users.user_and_door_wallets(token, [own.id])


def test_a_transfer_handed_its_wallets_reads_none_at_the_door():
    # Given a funded wallet, a target, and the door's answer read with the caller
    source, target = funded("10.00"), new_wallet()
    user, found = source.user, wallets.at_the_door([source.id, target.id])

    def transfer(**given):
        request, replayed = door.accept_transfer(user, key=unique("k"), from_wallet_id=source.id,
                                                 to_wallet_id=target.id, amount="1.00", **given)
        assert not replayed and request.status == "pending"

    # When one transfer is accepted reading its wallets, and one handed them
    read_itself, handed = selects(transfer), selects(lambda: transfer(found=found))
    # Then the second ran one SELECT fewer (the door's), and both were accepted
    assert read_itself - handed == 1


def test_a_deposit_handed_an_empty_answer_is_refused_as_not_found():
    # The door decides on what it is handed: no wallet found is 404, whatever exists
    wallet = new_wallet()
    with pytest.raises(WalletNotFound):
        door.accept(wallet.user, kind="deposit", key=unique("k"), amount="1.00",
                    wallet_id=wallet.id, found={})


@pytest.mark.parametrize("recipient", [True, False], ids=["for a recipient", "for nobody"])
def test_a_hold_handed_its_wallets_reads_none_at_the_door(recipient):
    # Given a funded wallet, maybe a recipient's, and the door's answer read with the caller
    source, target = funded("10.00"), new_wallet()
    ids = [source.id, target.id] if recipient else [source.id]
    user, found = source.user, wallets.at_the_door(ids)
    to = {"to_wallet_id": target.id} if recipient else {}

    def hold(**given):
        request, replayed = two_phase.place_hold(user, key=unique("k"), wallet_id=source.id,
                                                 amount="1.00", **to, **given)
        assert not replayed and request.status == "pending" and request.type == "hold"

    # When one hold is placed reading its wallets, and one handed them
    read_itself, handed = selects(hold), selects(lambda: hold(found=found))
    # Then the second ran one SELECT fewer (the door's)
    assert read_itself - handed == 1


def test_a_hold_handed_an_answer_without_its_recipient_is_refused_as_not_found():
    source, target = funded("10.00"), new_wallet()
    with pytest.raises(WalletNotFound):
        two_phase.place_hold(source.user, key=unique("k"), wallet_id=source.id, amount="1.00",
                             to_wallet_id=target.id,
                             found=wallets.at_the_door([source.id]))


@pytest.mark.parametrize("case", ["the caller's", "for the caller", "another's", "no such hold"])
def test_the_caller_and_the_hold_read_together_are_what_the_two_reads_return(case):
    # Given a user, and a hold of each kind: placed by them, for them, between others, none
    user = signed_up()
    token = token_for(user)
    # (one live wallet per currency: the caller pays in EUR and is paid in USD)
    source, theirs = funded_of(user, "EUR"), new_wallet(None, "EUR")
    mine = new_wallet(user)
    hold_id = {"the caller's": lambda: active_hold(source, "1.00", to=theirs).id,
               "for the caller": lambda: active_hold(funded("10.00"), "1.00", to=mine).id,
               "another's": lambda: active_hold(funded("10.00"), "1.00").id,
               "no such hold": lambda: Hold.select().order_by(Hold.id.desc()).first().id
               + 1000}[case]()
    # When the caller and the hold are read in one query
    caller, found = holds.caller_and_hold(token, hold_id)
    # Then the user is the token's, and the hold is what the ORM reads of it alone
    assert caller.id == user.id and caller.__data__ == users.user_for_token(token).__data__
    alone = Hold.get_or_none(Hold.id == hold_id)
    assert (found[hold_id].__data__ if found else None) == \
        (alone.__data__ if alone is not None else None)
    assert (hold_id in found) is (case != "no such hold")
    # And the party check on what was handed agrees with the one that reads
    party = case in ("the caller's", "for the caller")
    assert (holds.of_party(user.id, hold_id, found) is not None) is party
    assert (holds.of_party(user.id, hold_id) is not None) is party


def test_a_revoked_token_reads_no_hold():
    user = signed_up()
    token = token_for(user)
    hold = active_hold(funded_of(user), "1.00")
    users.log_out(user)
    with pytest.raises(Unauthorized):
        holds.caller_and_hold(token, hold.id)


@pytest.mark.parametrize("kind", ["capture", "void"])
def test_a_capture_or_void_handed_its_hold_reads_none_at_the_door(kind):
    # Given two active holds for a recipient, and the first read with its recipient
    recipient = signed_up()
    target = new_wallet(recipient)
    first, second = (active_hold(funded("10.00"), "1.00", to=target) for _ in range(2))
    _, found = holds.caller_and_hold(token_for(recipient), first.id)

    def decide(hold_id, **given):
        call = two_phase.capture if kind == "capture" else two_phase.void
        request, replayed = call(recipient, key=unique("k"), hold_id=hold_id, **given)
        assert not replayed and request.status == "pending" and request.type == kind

    # When the first is decided on what was handed, and the second reading its hold
    handed = selects(lambda: decide(first.id, found=found))
    read_itself = selects(lambda: decide(second.id))
    # Then the first ran one SELECT fewer (the hold's)
    assert read_itself - handed == 1


def test_a_capture_handed_an_answer_without_its_hold_is_refused_as_not_found():
    target = new_wallet()
    hold = active_hold(funded("10.00"), "1.00", to=target)
    with pytest.raises(HoldNotFound):
        two_phase.capture(User.get_by_id(target.user_id), key=unique("k"), hold_id=hold.id,
                          found={})


def orm_visible(user_id: int, request_id: int) -> TransactionRequest | None:
    """What a request's parties may read, as the ORM query it replaced read it: the caller's
    own, or a transfer or capture to a wallet of theirs."""
    recipient = Wallet.select(Wallet.user_id).where(Wallet.id == TransactionRequest.to_wallet)
    return TransactionRequest.get_or_none(
        (TransactionRequest.id == request_id) &
        ((TransactionRequest.user == user_id) |
         (TransactionRequest.type.in_(("transfer", "capture")) & (recipient == user_id))))


@pytest.mark.parametrize("case", ["made by the caller", "a transfer to the caller",
                                  "a capture to the caller", "a refund to the caller",
                                  "a transfer between others", "no such request"])
def test_the_caller_and_the_request_read_together_are_what_the_orm_reads(case):
    # Given a user with two wallets, and a request of each kind
    user = signed_up()
    token = token_for(user)
    mine, payer = funded_of(user, "EUR"), funded("10.00")
    usd = new_wallet(user)

    def refund_to_caller() -> int:
        paid = settled(accept_transfer(mine, new_wallet(None, "EUR"), "2.00"))
        return refund(paid).id

    request_id = {
        "made by the caller": lambda: accept(mine, "withdrawal", "1.00").id,
        "a transfer to the caller": lambda: accept_transfer(payer, usd, "1.00").id,
        "a capture to the caller": lambda: capture(active_hold(payer, "1.00", to=usd)).id,
        "a refund to the caller": refund_to_caller,
        "a transfer between others": lambda: accept_transfer(payer, new_wallet(), "1.00").id,
        "no such request": lambda: TransactionRequest.select().order_by(
            TransactionRequest.id.desc()).first().id + 1000}[case]()
    # When the caller and the request are read in one query, and the request alone
    caller, found = visible.caller_and_request(token, request_id)
    alone = visible.seen_by(user.id, request_id)
    # Then the user is the token's, and the joined read holds the request as the ORM reads
    # it, whoever may see it
    assert caller.id == user.id and caller.__data__ == users.user_for_token(token).__data__
    row = TransactionRequest.get_or_none(TransactionRequest.id == request_id)
    assert (found[request_id].request.__data__ if request_id in found else None) == \
        (row.__data__ if row else None)
    # And on what was handed as on its own read, the caller sees what the ORM query shows
    expected = orm_visible(user.id, request_id)
    for seen in (visible.seen_by(user.id, request_id, found), alone):
        assert (seen.request.__data__ if seen else None) == \
            (expected.__data__ if expected else None)
    assert (expected is not None) is (case in ("made by the caller", "a transfer to the caller",
                                               "a capture to the caller"))
    # And the recipient is named: the caller for what they received
    if case in ("a transfer to the caller", "a capture to the caller"):
        assert found[request_id].recipient_user_id == user.id


def test_a_revoked_token_reads_no_request():
    user = signed_up()
    token = token_for(user)
    request = accept(funded_of(user), "withdrawal", "1.00")
    users.log_out(user)
    with pytest.raises(Unauthorized):
        visible.caller_and_request(token, request.id)


def test_a_refund_or_a_read_handed_its_request_reads_none_again():
    # Given two transfers received by a user, the first read with its recipient
    recipient = signed_up()
    target = new_wallet(recipient)
    first, second = (settled(accept_transfer(funded("10.00"), target, "2.00")) for _ in range(2))
    _, found = visible.caller_and_request(token_for(recipient), first.id)

    def refund_of(request_id, **given):
        request, replayed = refunds.refund(recipient, key=unique("k"), request_id=request_id,
                                           amount="1.00", **given)
        assert not replayed and request.type == "refund"

    # When the first is refunded on what was handed, and the second reading its request
    handed = selects(lambda: refund_of(first.id, found=found))
    read_itself = selects(lambda: refund_of(second.id))
    # Then the first ran one SELECT fewer (the request with its recipient's owner)
    assert read_itself - handed == 1
    # And a read of the request handed its answer runs no SELECT at all
    assert selects(lambda: waits.read(recipient, first.id, found)) == 0
    assert selects(lambda: waits.read(recipient, first.id)) == 1


def test_a_refund_handed_an_answer_without_its_request_is_refused_as_not_found():
    recipient = signed_up()
    paid = settled(accept_transfer(funded("10.00"), new_wallet(recipient), "2.00"))
    with pytest.raises(RequestNotFound):
        refunds.refund(recipient, key=unique("k"), request_id=paid.id, found={})
