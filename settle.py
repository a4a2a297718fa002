"""Carrying out a money request: the one function every settling actor calls.

`settle(request_id)` is safe to run any number of times, concurrently or not: every
write of one settlement (balances, entries, status, notifications) commits together,
the balances only if no wallet changed since it was read (version check), and the
status only while the request is still `pending`; a racing attempt rolls back whole.
"""
import logging
from dataclasses import dataclass, field

import ledger
import settings
import settled
import sqlbatch
from errors import (AlreadySettled, InsufficientFunds, SettlementFailed, VersionConflict,
                    WalletClosed, WalletGone)
from ledger import EXTERNAL, FEES, Entry
from locking import WalletState, balance_update, read_wallets
from models import db, utcnow
from money import format_amount
from sqlbatch import Statement

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


def plan(req: "PendingRequest", states: dict[int, WalletState]) -> Plan:
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


def _notes(req: "PendingRequest", outcome: str, detail: str,
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


def _finish(req: "PendingRequest", outcome: str, *, code: str | None = None,
            detail: str | None = None, now, states: dict[int, WalletState]) -> list[Statement]:
    """The request's status change, only while it is still pending, and its notifications."""
    notes = _notes(req, outcome, detail or "", states)
    return [
        Statement("UPDATE transaction_requests SET status = %s, failure_code = %s, "
                  "failure_detail = %s, completed_at = %s WHERE id = %s AND status = 'pending'",
                  (outcome, code, detail, now, req.id), rows=1,
                  mismatch=lambda: AlreadySettled(f"request {req.id}")),
        Statement("INSERT INTO notifications (user_id, type, title, body, request_id, is_read, "
                  "dedupe_key, created_at) VALUES "
                  + ", ".join("(%s, %s, %s, %s, %s, 0, %s, %s)" for _ in notes),
                  tuple(x for n in notes for x in (n["user"], n["type"], n["title"], n["body"],
                                                   n["request"], n["dedupe_key"], now)))]


@dataclass(frozen=True)
class PendingRequest:
    """The immutable facts of a request, as the settlement reads them."""

    id: int
    user_id: int
    type: str
    status: str
    currency: str
    amount: int
    fee: int
    wallet_id: int
    to_wallet_id: int | None


# One round trip for the request and its wallets; no locks: the version-checked update
# and the conditional status change are what make the attempt safe.
READ_REQUEST = (
    "SELECT r.id, r.user_id, r.type, r.status, r.currency, r.amount, r.fee, r.wallet_id, "
    "r.to_wallet_id, w.id, w.user_id, w.currency, w.balance, w.version, w.deleted_at, "
    "w.created_at FROM transaction_requests r LEFT JOIN wallets w "
    "ON w.id = r.wallet_id OR w.id = r.to_wallet_id WHERE r.id = %s")


def read_request(request_id: int) -> tuple[PendingRequest | None, dict[int, WalletState]]:
    """The request and the wallets it names (a missing wallet is simply absent)."""
    rows = db.execute_sql(READ_REQUEST, (request_id,)).fetchall()
    if not rows:
        return None, {}
    return PendingRequest(*rows[0][:9]), {row[9]: WalletState(*row[9:]) for row in rows
                                          if row[9] is not None}


def _apply(req: PendingRequest, states: dict[int, WalletState], now, *,
           own_transaction: bool) -> tuple[str, dict[int, int]]:
    """Write the request's outcome in one round trip; returns it and the new balances."""
    try:
        steps = plan(req, states)
    except SettlementFailed as exc:
        sqlbatch.run(*_finish(req, FAILED, code=exc.code, detail=exc.detail, now=now,
                              states=states), own_transaction=own_transaction)
        return FAILED, {}
    update, balances = balance_update(states, steps.deltas, now=now)
    entries = [Entry(e.wallet_id, e.type, e.amount, e.fee, balances.get(e.wallet_id),
                     e.counterparty_wallet_id) for e in steps.entries]
    sqlbatch.run(update, ledger.entries_insert(req.id, entries, now=now),
                 *_finish(req, SUCCEEDED, now=now, states=states),
                 own_transaction=own_transaction)
    return SUCCEEDED, balances


def settle_once(request_id: int, *, for_update: bool = False) -> str:
    """One attempt at a request: one read, one all-or-nothing write.

    Returns:
      NOOP when the request is unknown or already settled, else SUCCEEDED or FAILED.

    Raises:
      VersionConflict: a wallet changed under the attempt; nothing was written.
    """
    req, states = read_request(request_id)
    if req is None:
        return NOOP
    if req.status != "pending":
        # Settled by an earlier delivery that may have died before announcing it.
        settled.announce([request_id], [])
        return NOOP
    now = utcnow()
    try:
        if for_update:
            with db.atomic():
                states = read_wallets([req.wallet_id, req.to_wallet_id or req.wallet_id],
                                      for_update=True)
                outcome, balances = _apply(req, states, now, own_transaction=False)
        else:
            outcome, balances = _apply(req, states, now, own_transaction=True)
    except AlreadySettled:
        return NOOP
    settled.announce([request_id], [
        {"id": wid, "user_id": states[wid].user_id, "currency": states[wid].currency,
         "balance": balance, "version": states[wid].version + 1,
         "created_at": states[wid].created_at, "updated_at": now, "deleted": False}
        for wid, balance in balances.items()])
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
    req, _ = read_request(request_id)
    if req is None or req.status != "pending":
        return False
    try:
        sqlbatch.run(*_finish(req, FAILED, code="retries_exhausted", detail=detail[:255],
                              now=utcnow(), states={}))
    except AlreadySettled:
        return False
    settled.announce([request_id], [])
    return True
