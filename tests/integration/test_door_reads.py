"""A money request reads its caller and the wallets it names in one query: that query
answers exactly what the two it replaces answered (accounts.users.user_for_token and
accounts.wallets.at_the_door), and the door handed its answer reads no wallet again.

Real MariaDB; the statements a call runs are counted with MariaDB's own session counter.
"""
import pytest

from accounts import users, wallets
from errors import Unauthorized, WalletNotFound
from ledger.system import EXTERNAL, system_wallet_id
from models import User, Wallet, utcnow
from payments import door, two_phase
from tests.helpers import unique
from tests.integration.factories import funded, new_wallet, session_count, signed_up, token_for


def selects(call) -> int:
    """The SELECT statements this connection ran while `call` ran (give or take the
    counting itself, the same for every call)."""
    return session_count("Com_select", call)


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
    assert caller.email == users.user_for_token(token).email
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
