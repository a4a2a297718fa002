"""Users, wallets and requests for the integration tests, made as the service makes them.

Requests are accepted with `payments` exactly as the API accepts them (which also puts a
message on the test process's StubBroker) and settled with `settle.settle`.
"""
import contextlib
from collections.abc import Iterator

from ledger import audit
from models import Transaction, TransactionRequest, User, Wallet, db
from payments import door, settle
from tests.helpers import unique


def new_user() -> User:
    name = unique("user_")
    return User.create(email=f"{name}@example.com", username=name,
                       password_hash="not-a-real-hash")


def new_wallet(user: User | None = None, currency: str = "USD") -> Wallet:
    return Wallet.create(user=user or new_user(), currency=currency)


def accept(wallet: Wallet, kind: str, amount: str, *, key: str | None = None
           ) -> TransactionRequest:
    """A deposit or withdrawal accepted at the door as a new request (not a replay)."""
    request, replayed = door.accept(wallet.user, kind=kind, key=key or unique("k"),
                                        amount=amount, wallet_id=wallet.id)
    assert not replayed and request.status == "pending"
    return request


def accept_transfer(source: Wallet, target: Wallet, amount: str, *, key: str | None = None
                    ) -> TransactionRequest:
    request, replayed = door.accept_transfer(source.user, key=key or unique("k"),
                                             from_wallet_id=source.id, to_wallet_id=target.id,
                                             amount=amount)
    assert not replayed and request.status == "pending"
    return request


def settled(request: TransactionRequest) -> TransactionRequest:
    """Settle an accepted request, which must succeed; returns its row as it is now."""
    assert settle.settle(request.id) == settle.SUCCEEDED
    return reloaded(request)


def reloaded(row):
    return type(row).get_by_id(row.id)


def entries(request: TransactionRequest) -> list[Transaction]:
    return list(Transaction.select().where(Transaction.request == request.id)
                .order_by(Transaction.id))


@contextlib.contextmanager
def never_committed() -> Iterator[None]:
    """A transaction on the test's connection that is always rolled back: whatever is
    written in it (a deliberate corruption, say) is seen by this connection's queries, the
    audit's included, and by no one else, and is gone afterwards."""
    with db.atomic() as transaction:
        yield
        transaction.rollback()


# Which kind of row each audit check reports first: a wallet id or a request id.
WALLET_CHECKS = {"user wallet balance equals the sum of its entries",
                 "no user wallet is negative",
                 "latest entry of each user wallet shows its balance"}


def findings_about(wallets: list[Wallet], requests: list[TransactionRequest]
                   ) -> dict[str, list[tuple]]:
    """The audit's findings that name one of these wallets or requests, by check."""
    wallet_ids, request_ids = {w.id for w in wallets}, {r.id for r in requests}
    found = {}
    for name, rows in audit.findings().items():
        ours = wallet_ids if name in WALLET_CHECKS else request_ids
        mine = [row for row in rows if row[0] in ours]
        if mine:
            found[name] = mine
    return found
