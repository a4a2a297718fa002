"""Users, wallets and requests for the integration tests, made as the service makes them.

Requests are accepted with `payments` exactly as the API accepts them (which also puts a
message on the test process's StubBroker) and settled with `settle.settle`.
"""
import contextlib
from collections.abc import Iterator

from accounts import users
from ledger import audit
from models import Hold, Transaction, TransactionRequest, User, Wallet, db
from payments import door, refunds, settle, two_phase
from tests.helpers import unique

PASSWORD = "s3cret-pass-1"


def signed_up() -> User:
    """A user signed up as the API signs one up, with PASSWORD."""
    name = unique("user_")
    return users.sign_up(email=f"{name}@example.com", username=name, password=PASSWORD,
                         ip="198.51.100.1")


def token_for(user: User) -> str:
    """A fresh access token of `user`, logged in with PASSWORD."""
    return users.log_in(email=user.email, password=PASSWORD, ip="192.0.2.1",
                        user_agent="test")[0]


def session_count(pattern: str, call) -> int:
    """How much this connection's MariaDB status counters named like `pattern` (summed)
    grew while `call` ran."""
    def counters() -> int:
        rows = db.execute_sql("SHOW SESSION STATUS LIKE %s", (pattern,)).fetchall()
        return sum(int(value) for _, value in rows)

    before = counters()
    call()
    return counters() - before


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


def funded(amount: str = "100.00") -> Wallet:
    """A new user's USD wallet, credited by a settled deposit of `amount` (less its 0.5 %
    fee: 100.00 -> 99.50)."""
    wallet = new_wallet()
    settled(accept(wallet, "deposit", amount))
    return reloaded(wallet)


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
                 "latest entry of each user wallet shows its balance",
                 "user wallet held equals the sum of its active holds' remaining amounts",
                 "no user wallet's available balance is negative"}
# Checks whose rows start with a hold's id.
HOLD_CHECKS = {"each hold's captured total is the sum of its captures, within its amount",
               "each hold's status agrees with its request's"}


def findings_about(wallets: list[Wallet], requests: list[TransactionRequest],
                   holds: list[int] = ()) -> dict[str, list[tuple]]:
    """The audit's findings that name one of these wallets, requests or hold ids, by check."""
    wallet_ids, request_ids = {w.id for w in wallets}, {r.id for r in requests}
    found = {}
    for name, rows in audit.findings().items():
        ours = wallet_ids if name in WALLET_CHECKS else set(holds) if name in HOLD_CHECKS \
            else request_ids
        mine = [row for row in rows if row[0] in ours]
        if mine:
            found[name] = mine
    return found


# -- holds and refunds, accepted at the door as the API accepts them --------------------------
def place_hold(wallet: Wallet, amount: str, *, to: Wallet | None = None,
               expires_in_s: int | None = None) -> TransactionRequest:
    """A hold request on `wallet` (for `to`, if given), accepted, not yet settled."""
    request, replayed = two_phase.place_hold(
        wallet.user, key=unique("k"), wallet_id=wallet.id, amount=amount,
        to_wallet_id=to.id if to else None, expires_in_s=expires_in_s)
    assert not replayed and request.hold_id is not None
    return request


def active_hold(wallet: Wallet, amount: str, *, to: Wallet | None = None) -> Hold:
    """A hold placed and settled: active."""
    hold = Hold.get_by_id(settled(place_hold(wallet, amount, to=to)).hold_id)
    assert hold.status == "active"
    return hold


def capture(hold: Hold, amount: str | None = None, *, final: bool | None = None,
            by: User | None = None) -> TransactionRequest:
    """A capture accepted by whoever decides the hold (its recipient, else its payer)."""
    decides = by or User.get_by_id(hold.to_user_id if hold.to_wallet_id else hold.user_id)
    request, replayed = two_phase.capture(decides, key=unique("k"), hold_id=hold.id,
                                          amount=amount, final=final)
    assert not replayed
    return request


def void(hold: Hold, *, by: User | None = None) -> TransactionRequest:
    decides = by or User.get_by_id(hold.to_user_id if hold.to_wallet_id else hold.user_id)
    request, replayed = two_phase.void(decides, key=unique("k"), hold_id=hold.id)
    assert not replayed
    return request


def refund(original: TransactionRequest, amount: str | None = None, *,
           by: User | None = None) -> TransactionRequest:
    """A refund accepted from the original's recipient (or `by`)."""
    recipient = by or User.get_by_id(Wallet.get_by_id(original.to_wallet_id).user_id)
    request, replayed = refunds.refund(recipient, key=unique("k"), request_id=original.id,
                                       amount=amount)
    assert not replayed
    return request


def time_passes(hold: Hold, seconds: int) -> None:
    """Move a hold's clock: its expiry comes `seconds` earlier (tests cannot wait a minute)."""
    db.execute_sql("UPDATE holds SET expires_at = expires_at - INTERVAL %s SECOND "
                   "WHERE id = %s", (seconds, hold.id))
