"""Carrying out a money request: the one function every settling actor calls.

`settle(request_id)` is safe to run any number of times, concurrently or not: the
request row is locked first and only a `pending` request is acted on, and every write
of one settlement (balances, entries, status, notifications) commits together.
"""
import logging
from dataclasses import dataclass, field

import ledger
import settings
import wallet_cache
from errors import InsufficientFunds, SettlementFailed, VersionConflict, WalletClosed, WalletGone
from ledger import EXTERNAL, FEES, Entry
from locking import WalletState, apply_deltas, read_wallets
from models import Notification, TransactionRequest, db, utcnow
from money import format_amount

log = logging.getLogger(__name__)

NOOP, SUCCEEDED, FAILED = "noop", "succeeded", "failed"


@dataclass
class Plan:
    """What a request does to the ledger: entries, and the user wallets' balance deltas."""

    entries: list[Entry] = field(default_factory=list)
    deltas: dict[int, int] = field(default_factory=dict)


def _check(states: dict[int, WalletState], wallet_id: int) -> WalletState:
    state = states.get(wallet_id)
    if state is None:
        raise WalletGone(f"Wallet {wallet_id} no longer exists.")
    if state.deleted_at is not None:
        raise WalletClosed(f"Wallet {wallet_id} was closed.")
    return state


def plan(req: TransactionRequest, states: dict[int, WalletState]) -> Plan:
    """The entries of `req` given the wallets as they are now.

    Raises:
      SettlementFailed: a business reason the request cannot be carried out.
    """
    amount, fee, cur = req.amount, req.fee, req.currency
    out = Plan()
    wallet = _check(states, req.wallet_id)
    if req.type == "deposit":
        external = ledger.system_wallet_id(EXTERNAL, cur)
        out.deltas[wallet.id] = amount - fee
        out.entries += [Entry(wallet.id, "deposit", amount - fee, fee),
                        Entry(external, "deposit", -amount, counterparty_wallet_id=wallet.id)]
    elif req.type == "withdrawal":
        external = ledger.system_wallet_id(EXTERNAL, cur)
        out.deltas[wallet.id] = -amount
        out.entries += [Entry(wallet.id, "withdrawal", -amount, fee),
                        Entry(external, "withdrawal", amount - fee,
                              counterparty_wallet_id=wallet.id)]
    else:
        recipient = _check(states, req.to_wallet_id)
        out.deltas[wallet.id] = -amount
        out.deltas[recipient.id] = amount - fee
        out.entries += [Entry(wallet.id, "transfer_out", -amount, fee,
                              counterparty_wallet_id=recipient.id),
                        Entry(recipient.id, "transfer_in", amount - fee,
                              counterparty_wallet_id=wallet.id)]
    if out.deltas.get(wallet.id, 0) < 0 and wallet.balance < amount:
        raise InsufficientFunds(f"Wallet {wallet.id} holds less than "
                                f"{format_amount(amount, cur)} {cur}.")
    if fee:
        out.entries.append(Entry(ledger.system_wallet_id(FEES, cur), "fee", fee,
                                 counterparty_wallet_id=wallet.id))
    return out


def _notes(req: TransactionRequest, outcome: str, detail: str,
           states: dict[int, WalletState]) -> list[dict]:
    """The notifications a settled or failed request writes (dedupe keys make them once)."""
    what = f"{req.type.capitalize()} of {format_amount(req.amount, req.currency)} {req.currency}"
    notes = [{"user": req.user_id, "type": f"{req.type}_{outcome}",
              "title": f"{what} {outcome}", "body": detail or f"{what} {outcome}.",
              "request": req.id, "dedupe_key": f"request:{req.id}:sender"}]
    if req.type == "transfer" and outcome == SUCCEEDED:
        notes.append({"user": states[req.to_wallet_id].user_id, "type": "transfer_received",
                      "title": f"You received {format_amount(req.amount - req.fee, req.currency)} "
                               f"{req.currency}",
                      "body": f"Transfer from wallet {req.wallet_id} to wallet {req.to_wallet_id}.",
                      "request": req.id, "dedupe_key": f"request:{req.id}:recipient"})
    return notes


def _finish(req: TransactionRequest, outcome: str, *, code: str | None = None,
            detail: str | None = None, now, states: dict[int, WalletState]) -> None:
    updated = TransactionRequest.update(
        status=outcome, failure_code=code, failure_detail=detail, completed_at=now,
    ).where((TransactionRequest.id == req.id) & (TransactionRequest.status == "pending")).execute()
    if updated != 1:  # cannot happen while we hold the row lock; refuse to guess
        raise RuntimeError(f"request {req.id} changed under its own row lock")
    Notification.insert_many([{**n, "created_at": now}
                              for n in _notes(req, outcome, detail or "", states)]).execute()


def settle_once(request_id: int, *, for_update: bool = False) -> str:
    """One attempt at a request, in one transaction.

    Returns:
      NOOP when the request is unknown or already settled, else SUCCEEDED or FAILED.

    Raises:
      VersionConflict: a wallet changed under the attempt; nothing was written.
    """
    touched: dict[int, int] = {}
    with db.atomic():
        req = TransactionRequest.select().where(TransactionRequest.id == request_id) \
            .for_update().first()
        if req is None or req.status != "pending":
            return NOOP
        now = utcnow()
        ids = [req.wallet_id] + ([req.to_wallet_id] if req.to_wallet_id else [])
        states = read_wallets(ids, for_update=for_update)
        try:
            steps = plan(req, states)
        except SettlementFailed as exc:
            _finish(req, FAILED, code=exc.code, detail=exc.detail, now=now, states=states)
            outcome = FAILED
        else:
            balances = apply_deltas(states, steps.deltas, now=now)
            ledger.write(req.id, [Entry(e.wallet_id, e.type, e.amount, e.fee,
                                        balances.get(e.wallet_id), e.counterparty_wallet_id)
                                  for e in steps.entries], now=now)
            _finish(req, SUCCEEDED, now=now, states=states)
            touched = {wid: states[wid].version + 1 for wid in steps.deltas}
            outcome = SUCCEEDED
    for wid, version in touched.items():
        old = states[wid]
        wallet_cache.store({"id": wid, "user_id": old.user_id, "currency": old.currency,
                            "balance": balances[wid], "version": version,
                            "created_at": old.created_at, "updated_at": now, "deleted": False})
    return outcome


def settle(request_id: int) -> str:
    """Carry out a request exactly once, however often it is called.

    Tries optimistically (version-checked updates) OPTIMISTIC_TRIES times, then takes the
    wallets with SELECT ... FOR UPDATE in ascending id order, which cannot conflict.

    Raises:
      VersionConflict, or a database error: transient; the caller retries later.
    """
    for attempt in range(settings.OPTIMISTIC_TRIES + 1):
        pessimistic = attempt >= settings.OPTIMISTIC_TRIES
        try:
            return settle_once(request_id, for_update=pessimistic)
        except VersionConflict:
            log.info("Version conflict settling request %s (attempt %s).", request_id, attempt + 1)
            if pessimistic:
                raise
    raise AssertionError("unreachable")


def give_up(request_id: int, *, detail: str) -> bool:
    """Mark a still-pending request failed with `retries_exhausted`; nothing else is written.

    Returns:
      Whether this call marked it (False when it had settled meanwhile).
    """
    with db.atomic():
        req = TransactionRequest.select().where(TransactionRequest.id == request_id) \
            .for_update().first()
        if req is None or req.status != "pending":
            return False
        _finish(req, FAILED, code="retries_exhausted", detail=detail[:255], now=utcnow(),
                states={})
    return True
