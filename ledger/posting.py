"""The posting rules: what money requests do to wallets, holds and the ledger. Pure.

`post(orders, world)` applies an ordered list of requests to one snapshot of the user
wallets, holds and refundable requests they name, and returns each one's outcome (its
balanced entries, or why it failed) and the state of everything it touched after all of
them. Each request sees the effect of those before it; one that cannot be carried out fails
alone and changes nothing. No database, no clock, no I/O: the system accounts' ids come in
as values, and the caller writes what comes out.

The rules (a wallet pays only from its available balance: balance - held):
  deposit     the wallet gains amount - fee; the external account gives amount
  withdrawal  the wallet gives amount; the external account takes amount - fee
  transfer    the sender gives amount; the recipient gains amount - fee
  hold        no money moves: the wallet's held amount grows by amount; the hold is active
  capture     the held wallet gives amount, out of its held money, to the hold's recipient
              as a transfer would (or out of the service as a withdrawal would); a capture
              that reaches the hold's amount, or is final, ends it and releases the rest
  void        the hold ends; what it still held is released
  expire      the same as void, by the service itself, once the hold's time is up (no
              request of its own: `order.id` is the hold's request); a hold whose time is
              up can no longer be captured or voided
  refund      the recipient of a transfer or capture gives amount back to its sender, no
              fee, never more in total than the recipient received
  fee         whenever a request has one, the fee account takes it
so a request's entries sum to zero, and a user wallet's entries sum to its balance.
"""
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from errors import (
    ExceedsHold,
    HoldNotActive,
    InsufficientFunds,
    RefundExceedsOriginal,
    SettlementFailed,
    WalletClosed,
    WalletGone,
)
from money import format_amount

DEPOSIT, WITHDRAWAL, TRANSFER = "deposit", "withdrawal", "transfer"
HOLD, CAPTURE, VOID, EXPIRE, REFUND = "hold", "capture", "void", "expire", "refund"
# Hold statuses.
PENDING, ACTIVE, CAPTURED, VOIDED, EXPIRED, FAILED = (
    "pending", "active", "captured", "voided", "expired", "failed")


@dataclass(frozen=True)
class Account:
    """A user wallet as the rules see it."""

    id: int
    user_id: int
    currency: str
    balance: int
    held: int = 0
    closed: bool = False


@dataclass(frozen=True)
class Hold:
    """A hold as the rules see it."""

    id: int
    user_id: int
    wallet_id: int
    to_wallet_id: int | None
    currency: str
    amount: int
    captured: int
    status: str
    to_user_id: int | None = None
    # Whether its time was up when the settlement read it: then it can only expire.
    expired: bool = False

    @property
    def remaining(self) -> int:
        return self.amount - self.captured if self.status in (PENDING, ACTIVE) else 0


@dataclass(frozen=True)
class Original:
    """A succeeded transfer or capture with a recipient, as a refund of it sees it."""

    id: int
    received: int
    refunded: int


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
    hold_id: int | None = None
    refund_of: int | None = None
    final: bool = False


@dataclass(frozen=True)
class SystemAccounts:
    """One currency's system accounts: money entering or leaving the service, and fees."""

    external: int
    fees: int


@dataclass(frozen=True)
class World:
    """What the orders act on, as read: user wallets, holds and refundable requests by
    id (a missing wallet is gone), and the system accounts of each currency."""

    accounts: Mapping[int, Account]
    system: Mapping[str, SystemAccounts]
    holds: Mapping[int, Hold] = field(default_factory=dict)
    originals: Mapping[int, Original] = field(default_factory=dict)


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
    """What became of one order: its entries and the hold as it left it, or the failure
    that left everything as it was. `counterpart_user_id` is the other party told of a
    success: a transfer's recipient, a refund's original sender, a hold's recipient (when
    it is activated or expires) or payer (when it is captured or voided)."""

    order: Order
    entries: tuple[Entry, ...] = ()
    failure: SettlementFailed | None = None
    counterpart_user_id: int | None = None
    hold: Hold | None = None

    @property
    def succeeded(self) -> bool:
        return self.failure is None


@dataclass
class Posting:
    """The outcomes in order, and the state after all of them of every wallet (balance,
    held), hold and refundable request they touched."""

    outcomes: list[Outcome] = field(default_factory=list)
    balances: dict[int, int] = field(default_factory=dict)
    held: dict[int, int] = field(default_factory=dict)
    holds: dict[int, Hold] = field(default_factory=dict)
    refunded: dict[int, int] = field(default_factory=dict)

    def deltas(self, accounts: Mapping[int, Account]) -> dict[int, int]:
        """The net change of each touched wallet's balance (zero changes left out)."""
        return {wid: balance - accounts[wid].balance for wid, balance in self.balances.items()
                if balance != accounts[wid].balance}

    def held_deltas(self, accounts: Mapping[int, Account]) -> dict[int, int]:
        """The net change of each touched wallet's held amount (zero changes left out)."""
        return {wid: held - accounts[wid].held for wid, held in self.held.items()
                if held != accounts[wid].held}


def _live(accounts: Mapping[int, Account], wallet_id: int | None) -> Account:
    account = accounts.get(wallet_id) if wallet_id is not None else None
    if account is None:
        raise WalletGone(f"Wallet {wallet_id} no longer exists.")
    if account.closed:
        raise WalletClosed(f"Wallet {wallet_id} was closed.")
    return account


def _pay_out(wallet: Account, to: Account | None, amount: int, fee: int,
             system: SystemAccounts) -> list[Entry]:
    """`amount` leaving `wallet`: to `to` less the fee, or out of the service."""
    if to is not None:
        return [Entry(wallet.id, "transfer_out", -amount, fee, counterparty_wallet_id=to.id),
                Entry(to.id, "transfer_in", amount - fee, counterparty_wallet_id=wallet.id)]
    return [Entry(wallet.id, WITHDRAWAL, -amount, fee),
            Entry(system.external, WITHDRAWAL, amount - fee, counterparty_wallet_id=wallet.id)]


class _Run:
    """The running state of one `post`: what each order sees of those before it."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.result = Posting()

    def balance(self, wallet_id: int) -> int:
        return self.result.balances.get(wallet_id, self.world.accounts[wallet_id].balance)

    def held(self, wallet_id: int) -> int:
        return self.result.held.get(wallet_id, self.world.accounts[wallet_id].held)

    def hold(self, hold_id: int | None) -> Hold:
        found = self.result.holds.get(hold_id) if hold_id is not None else None
        found = found or (self.world.holds.get(hold_id) if hold_id is not None else None)
        if found is None:
            raise HoldNotActive(f"Hold {hold_id} does not exist.")
        return found

    def refunded(self, original: Original) -> int:
        return self.result.refunded.get(original.id, original.refunded)

    def check_funds(self, wallet: Account, amount: int, currency: str) -> None:
        if self.balance(wallet.id) - self.held(wallet.id) < amount:
            raise InsufficientFunds(f"Wallet {wallet.id} has less than "
                                    f"{format_amount(amount, currency)} {currency} available.")


Decision = tuple[list[Entry], dict[int, int], Hold | None, int | None]


def _decide_hold(order: Order, run: _Run) -> Decision:
    """A hold's activation, capture, void or expiry (see `_decide`)."""
    hold, accounts = run.hold(order.hold_id), run.world.accounts
    if order.type == EXPIRE:
        if hold.status != ACTIVE or not hold.expired:
            raise HoldNotActive(f"Hold {hold.id} is {hold.status}, not due to expire.")
        return [], {hold.wallet_id: -hold.remaining}, replace(hold, status=EXPIRED), \
            hold.to_user_id
    wallet = _live(accounts, hold.wallet_id)
    to = _live(accounts, hold.to_wallet_id) if hold.to_wallet_id is not None and \
        order.type in (HOLD, CAPTURE) else None
    if order.type == HOLD:
        if hold.status != PENDING:
            raise HoldNotActive(f"Hold {hold.id} is {hold.status}.")
        run.check_funds(wallet, hold.amount, order.currency)
        return [], {wallet.id: hold.amount}, replace(hold, status=ACTIVE), hold.to_user_id
    if hold.status != ACTIVE or hold.expired:
        raise HoldNotActive(f"Hold {hold.id} is {EXPIRED if hold.expired else hold.status}.")
    if order.type == VOID:
        return [], {wallet.id: -hold.remaining}, replace(hold, status=VOIDED), hold.user_id
    if order.amount > hold.remaining:
        raise ExceedsHold(f"Hold {hold.id} has {format_amount(hold.remaining, order.currency)}"
                          f" {order.currency} left to capture.")
    captured = hold.captured + order.amount
    ends = captured == hold.amount or order.final
    after = replace(hold, captured=captured, status=CAPTURED if ends else ACTIVE)
    release = (hold.amount - captured) if ends else 0
    entries = _pay_out(wallet, to, order.amount, order.fee, run.world.system[order.currency])
    return entries, {wallet.id: -order.amount - release}, after, hold.user_id


def _decide(order: Order, run: _Run) -> Decision:
    """What `order` would do given everything before it: its entries (without balances),
    the change of held amounts by wallet, the hold after it, and the counterpart to tell.

    Raises:
      SettlementFailed: a business reason the order cannot be carried out.
    """
    if order.type in (HOLD, CAPTURE, VOID, EXPIRE):
        return _decide_hold(order, run)
    accounts, system = run.world.accounts, run.world.system[order.currency]
    amount, fee = order.amount, order.fee
    held: dict[int, int] = {}  # only holds change what is held
    if order.type == REFUND:
        original = run.world.originals.get(order.refund_of or 0)
        refundable = original.received - run.refunded(original) if original else 0
        if original is None or amount > refundable:
            raise RefundExceedsOriginal(f"Request {order.refund_of} has "
                                        f"{format_amount(refundable, order.currency)} "
                                        f"{order.currency} left to refund.")
        wallet, to = _live(accounts, order.wallet_id), _live(accounts, order.to_wallet_id)
        run.check_funds(wallet, amount, order.currency)
        return [Entry(wallet.id, "refund_out", -amount, counterparty_wallet_id=to.id),
                Entry(to.id, "refund_in", amount, counterparty_wallet_id=wallet.id)], \
            held, None, to.user_id
    wallet = _live(accounts, order.wallet_id)
    if order.type == DEPOSIT:
        return [Entry(wallet.id, DEPOSIT, amount - fee, fee),
                Entry(system.external, DEPOSIT, -amount, counterparty_wallet_id=wallet.id)], \
            held, None, None
    if order.type == WITHDRAWAL:
        run.check_funds(wallet, amount, order.currency)
        return _pay_out(wallet, None, amount, fee, system), held, None, None
    if order.type == TRANSFER:
        to = _live(accounts, order.to_wallet_id)
        run.check_funds(wallet, amount, order.currency)
        return _pay_out(wallet, to, amount, fee, system), held, None, to.user_id
    raise ValueError(f"request {order.id}: no rule for type {order.type!r}")


def post(orders: Sequence[Order], world: World) -> Posting:
    """Apply `orders`, in order, to `world`.

    Returns:
      The outcomes (in order) and the state after them.
    """
    run = _Run(world)
    result = run.result
    for order in orders:
        try:
            entries, held, hold, paid = _decide(order, run)
        except SettlementFailed as failure:
            failed = None
            if order.type == HOLD and order.hold_id is not None:
                pending = result.holds.get(order.hold_id) or world.holds.get(order.hold_id)
                if pending is not None and pending.status == PENDING:
                    failed = result.holds[pending.id] = replace(pending, status=FAILED)
            result.outcomes.append(Outcome(order, failure=failure, hold=failed))
            continue
        if order.fee and entries:
            entries.append(Entry(world.system[order.currency].fees, "fee", order.fee,
                                 counterparty_wallet_id=order.wallet_id))
        if sum(e.amount for e in entries) != 0:
            raise AssertionError(f"request {order.id}: entries do not balance")
        for entry in entries:
            if entry.wallet_id in world.accounts:
                result.balances[entry.wallet_id] = run.balance(entry.wallet_id) + entry.amount
        for wallet_id, change in held.items():
            result.held[wallet_id] = run.held(wallet_id) + change
        if hold is not None:
            result.holds[hold.id] = hold
        if order.type == REFUND and order.refund_of is not None:
            original = world.originals[order.refund_of]
            result.refunded[original.id] = run.refunded(original) + order.amount
        result.outcomes.append(Outcome(order, tuple(
            replace(e, balance_after=result.balances.get(e.wallet_id)) for e in entries),
            counterpart_user_id=paid, hold=hold))
    return result
