"""The bank test's clients: random money movement over HTTP, as impatient clients send it.

A client whose call times out or gets a 5xx sends it again with the same
Idempotency-Key, as a real client must; a share of calls are re-sent even after a
202, and every answer to a re-send must name the same request.
"""
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

FEE_BP = {"deposit": 50, "withdrawal": 0, "transfer": 0, "hold": 0, "capture": 0, "void": 0,
          "refund": 0}
# Holds placed by the workload expire after this (the least the contract allows), so the
# service's own expiry runs during the faults.
HOLD_EXPIRES_IN_S = 60
# No hold is placed in the run's last seconds: each one's expiry makes an event up to a
# minute later, and the run waits for every event of the subscribed users to be delivered.
NO_NEW_HOLDS_LAST_S = 40
RESEND_SHARE = 0.15
CALL_TIMEOUT_S = 10
GIVE_UP_S = 45


def fee_for(kind: str, minor: int) -> int:
    """The fee the contract promises, computed independently of the service."""
    return (minor * FEE_BP[kind] + 5000) // 10000


@dataclass
class Accepted:
    id: int
    kind: str
    currency: str
    amount: int | None  # None: the service chose it (all that remains, or is refundable)
    key: str


@dataclass
class Placed:
    """A hold or a transfer the workload got a 202 for: what later captures, voids and
    refunds pick from."""

    id: int  # the hold's id, or the transfer request's
    payer: dict
    recipient: dict | None


@dataclass
class Record:
    accepted: dict[int, Accepted] = field(default_factory=dict)
    resent: int = 0
    resend_mismatches: list[str] = field(default_factory=list)
    refused: Counter = field(default_factory=Counter)
    retried_calls: Counter = field(default_factory=Counter)
    unresolved_keys: list[str] = field(default_factory=list)
    holds: list[Placed] = field(default_factory=list)
    transfers: list[Placed] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def cents(rng: random.Random, low: int, high: int) -> tuple[int, str]:
    minor = rng.randint(low, high)
    return minor, f"{minor // 100}.{minor % 100:02d}"


class Client(threading.Thread):
    """One of the concurrent clients; runs until `deadline` (monotonic)."""

    def __init__(self, index: int, base: str, users: list[dict], record: Record, *,
                 deadline: float, seed: int) -> None:
        super().__init__(daemon=True, name=f"client-{index}")
        self.base, self.users, self.record, self.deadline = base, users, record, deadline
        self.rng = random.Random(seed)
        self.http = requests.Session()
        self.index = index

    def post(self, user: dict, path: str, body: dict, key: str) -> requests.Response | None:
        """POST until the answer is final (2xx or a 4xx), re-sending the same key meanwhile."""
        headers = {"Authorization": f"Bearer {user['token']}", "Idempotency-Key": key}
        give_up = time.monotonic() + GIVE_UP_S
        pause = 0.2
        while True:
            try:
                res = self.http.post(self.base + path, json=body, headers=headers,
                                     timeout=CALL_TIMEOUT_S)
                if res.status_code < 500 and res.status_code != 429:
                    return res
                reason = str(res.status_code)
            except requests.RequestException as exc:
                reason = type(exc).__name__
            with self.record.lock:
                self.record.retried_calls[reason] += 1
            if time.monotonic() > give_up:
                return None
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def two_phase(self, roll: float, user: dict, currency: str):
        """A hold, capture, void or refund: (kind, path, body, minor, acting user), or None
        when there is nothing yet to act on."""
        rng = self.rng
        with self.record.lock:
            holds, transfers = list(self.record.holds[-40:]), list(self.record.transfers[-40:])
        if roll < 0.06 and time.monotonic() < self.deadline - NO_NEW_HOLDS_LAST_S:
            other = rng.choice([u for u in self.users if u is not user])
            minor, amount = cents(rng, 100, 5000)
            body = {"amount": amount, "expires_in_s": HOLD_EXPIRES_IN_S}
            if rng.random() < 0.8:
                body["to_wallet_id"] = other["wallets"][currency]
            return "hold", f"/v1/wallets/{user['wallets'][currency]}/holds", body, minor, user
        if roll < 0.09 and transfers:
            placed = rng.choice(transfers)
            minor, amount = cents(rng, 1, 5000)
            body = {"amount": amount} if rng.random() < 0.7 else {}
            return ("refund", f"/v1/requests/{placed.id}/refunds", body,
                    minor if body else None, placed.recipient)
        if holds:
            placed = rng.choice(holds)
            decides = placed.recipient or placed.payer
            if roll < 0.115:
                minor, amount = cents(rng, 1, 8000)
                body = {"amount": amount} if rng.random() < 0.7 else {}
                if rng.random() < 0.2:
                    body["final"] = True
                return ("capture", f"/v1/holds/{placed.id}/captures", body,
                        minor if "amount" in body else None, decides)
            return "void", f"/v1/holds/{placed.id}/void", {}, None, decides
        return None

    def one_operation(self, n: int) -> None:
        rng, user = self.rng, self.rng.choice(self.users)
        currency = rng.choice(("USD", "EUR"))
        roll = rng.random()
        acting = user
        if roll < 0.125:
            chosen = self.two_phase(roll, user, currency)
            if chosen is None:
                return
            kind, path, body, minor, acting = chosen
        elif roll < 0.5:
            other = rng.choice([u for u in self.users if u is not user])
            minor, amount = cents(rng, 1, 30000)
            kind, path = "transfer", "/v1/transfers"
            body = {"from_wallet_id": user["wallets"][currency],
                    "to_wallet_id": other["wallets"][currency], "amount": amount}
        elif roll < 0.75:
            minor, amount = cents(rng, 100, 50000)
            kind, path = "deposit", f"/v1/wallets/{user['wallets'][currency]}/deposits"
            body = {"amount": amount}
        elif roll < 0.95:
            minor, amount = cents(rng, 1, 40000)
            kind, path = "withdrawal", f"/v1/wallets/{user['wallets'][currency]}/withdrawals"
            body = {"amount": amount}
        else:  # a closed wallet: must be refused at the door, and change nothing
            minor, amount = cents(rng, 100, 1000)
            kind, path = "closed", f"/v1/wallets/{user['closed']}/deposits"
            body = {"amount": amount}
        key = f"c{self.index}-{n}-{rng.getrandbits(32):08x}"
        res = self.post(acting, path, body, key)
        if res is None:
            with self.record.lock:
                self.record.unresolved_keys.append(key)
            return
        if res.status_code != 202:
            with self.record.lock:
                self.record.refused[f"{kind}:{res.status_code}:{res.json().get('code')}"] += 1
            return
        request = res.json()
        with self.record.lock:
            self.record.accepted[request["id"]] = Accepted(request["id"], kind,
                                                           request["currency"], minor, key)
            recipient = next((u for u in self.users if request["to_wallet_id"] in
                              u["wallets"].values()), None)
            if kind == "hold":
                self.record.holds.append(Placed(request["hold_id"], user, recipient))
            elif kind == "transfer":
                self.record.transfers.append(Placed(request["id"], user, recipient))
        if rng.random() < RESEND_SHARE:
            again = self.post(acting, path, body, key)
            with self.record.lock:
                self.record.resent += 1
                if again is None or again.status_code != 202 or again.json()["id"] != request["id"]:
                    self.record.resend_mismatches.append(
                        f"{key}: first {request['id']}, again "
                        f"{again.status_code if again is not None else 'no answer'}")

    def run(self) -> None:
        n = 0
        while time.monotonic() < self.deadline:
            self.one_operation(n)
            n += 1
