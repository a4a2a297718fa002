"""The posting rules: what money requests do to wallets and to the ledger. Pure.

`post(orders, accounts, system)` applies an ordered list of requests to one snapshot of
the user wallets they name, and returns each request's outcome (its balanced entries, or
why it failed), and every touched wallet's balance after all of them. Each request sees
the effect of those before it; one that cannot be carried out (insufficient funds, a
wallet closed or gone) fails alone and changes nothing. No database, no clock, no I/O:
the system accounts' ids come in as values, and the caller writes what comes out.

The rules:
  deposit     the wallet gains amount - fee; the external account gives amount
  withdrawal  the wallet gives amount; the external account takes amount - fee
  transfer    the sender gives amount; the recipient gains amount - fee
  fee         whenever a request has one, the fee account takes it
so a request's entries sum to zero, and a user wallet's entries sum to its balance.
"""
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from errors import InsufficientFunds, SettlementFailed, WalletClosed, WalletGone
from money import format_amount

DEPOSIT, WITHDRAWAL, TRANSFER = "deposit", "withdrawal", "transfer"


@dataclass(frozen=True)
class Account:
    """A user wallet as the rules see it."""

    id: int
    user_id: int
    currency: str
    balance: int
    closed: bool = False


@dataclass(frozen=True)
class Order:
    """A money request as the rules see it: its facts, fixed when it was accepted."""

    id: int
    user_id: int
    type: str
    currency: str
    amount: int
    fee: int
    wallet_id: int
    to_wallet_id: int | None = None


@dataclass(frozen=True)
class SystemAccounts:
    """One currency's system accounts: money entering or leaving the service, and fees."""

    external: int
    fees: int


@dataclass(frozen=True)
class Entry:
    """One line of a request's entries; `balance_after` only on user wallets."""

    wallet_id: int
    type: str
    amount: int
    fee: int = 0
    balance_after: int | None = None
    counterparty_wallet_id: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one order: its entries, or the failure that left everything as it was.

    `recipient_user_id` is the owner of a transfer's receiving wallet (None otherwise).
    """

    order: Order
    entries: tuple[Entry, ...] = ()
    failure: SettlementFailed | None = None
    recipient_user_id: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.failure is None


@dataclass
class Posting:
    """The outcomes in order, and each touched user wallet's balance after all of them."""

    outcomes: list[Outcome] = field(default_factory=list)
    balances: dict[int, int] = field(default_factory=dict)

    def deltas(self, accounts: Mapping[int, Account]) -> dict[int, int]:
        """The net change of each touched wallet (zero changes left out)."""
        return {wid: balance - accounts[wid].balance for wid, balance in self.balances.items()
                if balance != accounts[wid].balance}


def _live(accounts: Mapping[int, Account], wallet_id: int) -> Account:
    account = accounts.get(wallet_id)
    if account is None:
        raise WalletGone(f"Wallet {wallet_id} no longer exists.")
    if account.closed:
        raise WalletClosed(f"Wallet {wallet_id} was closed.")
    return account


def legs(order: Order, accounts: Mapping[int, Account],
         system: SystemAccounts) -> list[Entry]:
    """The entries of `order`, without balances (see the module's rules).

    Raises:
      WalletGone, WalletClosed: a wallet of the order is gone or closed.
    """
    amount, fee = order.amount, order.fee
    wallet = _live(accounts, order.wallet_id)
    if order.type == DEPOSIT:
        out = [Entry(wallet.id, DEPOSIT, amount - fee, fee),
               Entry(system.external, DEPOSIT, -amount, counterparty_wallet_id=wallet.id)]
    elif order.type == WITHDRAWAL:
        out = [Entry(wallet.id, WITHDRAWAL, -amount, fee),
               Entry(system.external, WITHDRAWAL, amount - fee, counterparty_wallet_id=wallet.id)]
    elif order.type == TRANSFER and order.to_wallet_id is not None:
        recipient = _live(accounts, order.to_wallet_id)
        out = [Entry(wallet.id, "transfer_out", -amount, fee,
                     counterparty_wallet_id=recipient.id),
               Entry(recipient.id, "transfer_in", amount - fee, counterparty_wallet_id=wallet.id)]
    else:
        raise ValueError(f"request {order.id}: no rule for type {order.type!r}")
    if fee:
        out.append(Entry(system.fees, "fee", fee, counterparty_wallet_id=wallet.id))
    return out


def post(orders: Sequence[Order], accounts: Mapping[int, Account],
         system: Mapping[str, SystemAccounts]) -> Posting:
    """Apply `orders`, in order, to the wallets in `accounts`.

    Parameters:
      orders: the requests, in the order they are to be applied.
      accounts: the user wallets they name, as read (a missing one is gone).
      system: the system accounts of each currency the orders use.

    Returns:
      The outcomes (in order) and the balances after them.
    """
    result = Posting()
    balances = result.balances

    def balance(wallet_id: int) -> int:
        return balances.get(wallet_id, accounts[wallet_id].balance)

    for order in orders:
        try:
            entries = legs(order, accounts, system[order.currency])
            moves = _user_moves(entries, accounts)
            payer = order.wallet_id
            if moves.get(payer, 0) < 0 and balance(payer) + moves[payer] < 0:
                raise InsufficientFunds(f"Wallet {payer} holds less than "
                                        f"{format_amount(order.amount, order.currency)} "
                                        f"{order.currency}.")
        except SettlementFailed as failure:
            result.outcomes.append(Outcome(order, failure=failure))
            continue
        if sum(e.amount for e in entries) != 0:
            raise AssertionError(f"request {order.id}: entries do not balance")
        for wallet_id, move in moves.items():
            balances[wallet_id] = balance(wallet_id) + move
        recipient = accounts[order.to_wallet_id].user_id if order.to_wallet_id else None
        result.outcomes.append(Outcome(order, tuple(
            Entry(e.wallet_id, e.type, e.amount, e.fee, balances.get(e.wallet_id),
                  e.counterparty_wallet_id) for e in entries), recipient_user_id=recipient))
    return result


def _user_moves(entries: list[Entry], accounts: Mapping[int, Account]) -> dict[int, int]:
    moves: dict[int, int] = {}
    for entry in entries:
        if entry.wallet_id in accounts:
            moves[entry.wallet_id] = moves.get(entry.wallet_id, 0) + entry.amount
    return moves
