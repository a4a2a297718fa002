"""The bank test with a nemesis (`make chaos`; `make test` runs it too).

A black-box workload in the spirit of Jepsen's bank test: 16 clients move money among
20 users' USD and EUR wallets over HTTP (deposits, withdrawals, transfers, holds that
expire after a minute, captures, voids and refunds) against a real web process, two real
worker processes and the sweeper, while a nemesis kills workers and restarts RabbitMQ,
MariaDB and Redis. Afterwards every accepted request must be settled exactly once, every
minor unit accounted for, every hold whose time was up expired by the service, and the
audit (held amounts, captures, refunds included) clean. Five users have a webhook to a
local receiver that refuses a fifth of its deliveries and is down for a minute of the run:
afterwards it has received, and verified with `standardwebhooks`, every event of theirs.
It runs in its own database, Redis db and RabbitMQ vhost, and prints a summary table (also
written to tests/artifacts/chaos-summary.md).
"""
import os
import subprocess
import sys
import time
from collections import Counter

import pymysql
import pytest
import redis

from tests.chaos import nemesis
from tests.chaos.workload import Client, Record, fee_for
from tests.helpers import (
    ROOT,
    broker_url,
    scratch_name,
    scratch_redis_url,
    start_sweeper,
    start_web,
    start_worker,
)
from tests.helpers import Client as ApiClient
from tests.receiver import Receiver

# A database, vhost and Redis db of this run's own (see tests/helpers.py).
DB_NAME = VHOST = scratch_name("chaos")
REDIS_URL = scratch_redis_url()
USERS, CLIENTS, WORKERS = 20, 16, 2
WORKLOAD_S = float(os.environ.get("CHAOS_WORKLOAD_S", "72"))
QUIESCE_S = 60
SEED = int(os.environ.get("CHAOS_SEED", "20261124"))
HOLD_EXPIRY_SWEEP_S = 6
ENV = {"DATABASE_URL": f"mysql://root@127.0.0.1:3306/{DB_NAME}",
       "REAL_BROKER_URL": broker_url(VHOST),
       "REDIS_URL": REDIS_URL,
       "SWEEP_AFTER_S": "3", "SWEEP_EVERY_S": "1", "MAX_BACKOFF_MS": "2000",
       "HOLD_EXPIRY_SWEEP_S": str(HOLD_EXPIRY_SWEEP_S),
       # Webhook retries on a short schedule, so the run ends soon after the receiver is back
       "WEBHOOK_FIRST_RETRY_S": "1", "WEBHOOK_MAX_RETRY_GAP_S": "4",
       "WEBHOOK_RESEND_AFTER_S": "15"}
# Users subscribed to the receiver, the share of its answers that fail, and how long
# after the workload starts it goes down, and comes back.
SUBSCRIBED, RECEIVER_FAILS, RECEIVER_DOWN_S, RECEIVER_UP_S = 5, 0.2, 5, 66
MIN_RECEIVER_DOWN_S = 60  # the "a receiver that was down for a minute"
DELIVERED_WITHIN_S = 120
# Ledger entries of a succeeded request, by type, before its fee entry (a hold and a void
# move no money).
ENTRIES = {"deposit": 2, "withdrawal": 2, "transfer": 2, "capture": 2, "refund": 2, "hold": 0,
           "void": 0}


def manage(*args: str) -> None:
    env = {**os.environ, **ENV, "BROKER_URL": ENV["REAL_BROKER_URL"]}
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)


@pytest.fixture
def chaos_env(monkeypatch):
    """A fresh database, vhost and Redis db for this run alone."""
    nemesis.heal()
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", VHOST], capture_output=True, timeout=60)
    manage("vhost", VHOST)
    manage("reset-test-db")
    redis.Redis.from_url(REDIS_URL).flushdb()
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    yield
    nemesis.heal()


def sql(query: str, *params) -> list[tuple]:
    conn = pymysql.connect(host="127.0.0.1", user="root", database=DB_NAME, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return list(cur.fetchall())
    finally:
        conn.close()


def set_up_users(base: str, receiver: Receiver) -> list[dict]:
    """20 users, each with funded USD and EUR wallets and a closed GBP wallet; the first
    SUBSCRIBED of them with a webhook (every event type) to `receiver`."""
    users = []
    for n in range(USERS):
        api = ApiClient(base).sign_up()
        hook = None
        if n < SUBSCRIBED:
            path = f"/user-{api.user_id}"
            res = api.call("POST", "/v1/webhooks", json={"url": receiver.url(path)},
                           key=f"hook-{n}")
            assert res.status_code == 201, res.text
            receiver.secrets[path] = res.json()["secret"]
            hook = path
        wallets = {c: api.open_wallet(c)["id"] for c in ("USD", "EUR")}
        closed = api.open_wallet("GBP")["id"]
        assert api.call("DELETE", f"/v1/wallets/{closed}").status_code == 204
        for wallet in wallets.values():
            api.settled(api.deposit(wallet, "1000.00")["id"])
        users.append({"token": api.token, "wallets": wallets, "closed": closed,
                      "user_id": api.user_id, "hook": hook})
    return users


def undelivered(users: list[dict], receiver: Receiver) -> list[str]:
    """Every event of a subscribed user that its receiver has not got (verified, 2xx)."""
    missing = []
    for user in users:
        if user["hook"] is None:
            continue
        got = set(receiver.delivered(user["hook"]))
        wanted = [str(row[0]) for row in sql("SELECT id FROM events WHERE user_id = %s",
                                             user["user_id"])]
        missing += [f"event {e} of user {user['user_id']}" for e in wanted if e not in got]
    return missing


def wait_until_delivered(users: list[dict], receiver: Receiver, timeout_s: float) -> float:
    """Seconds until every subscribed user's events were delivered (or the timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s and undelivered(users, receiver):
        time.sleep(1)
    return time.monotonic() - started


def wait_until_settled(deadline: float) -> float:
    """Seconds until no request is pending (or the deadline passes)."""
    started = time.monotonic()
    while time.monotonic() < deadline:
        if not sql("SELECT 1 FROM transaction_requests WHERE status = 'pending' LIMIT 1"):
            break
        time.sleep(0.5)
    return time.monotonic() - started


def anomalies_of(record: Record) -> tuple[list[str], Counter]:
    """Everything the run got wrong, and requests by outcome."""
    found: list[str] = []
    rows = {r[0]: r for r in sql(
        "SELECT r.id, r.type, r.status, r.currency, r.amount, r.fee, r.failure_code, "
        "k.idempotency_key, r.to_wallet_id FROM transaction_requests r "
        "LEFT JOIN idempotency_keys k ON k.request_id = r.id")}
    entries = Counter(dict(sql("SELECT request_id, COUNT(*) FROM transactions "
                               "GROUP BY request_id")))
    outcomes = Counter(f"requests {r[2]}" + (f" ({r[6]})" if r[6] else "")
                       for r in rows.values())
    pending = [rid for rid, r in rows.items() if r[2] == "pending"]
    if pending:
        found.append(f"{len(pending)} request(s) still pending, e.g. {pending[:5]}")
    for rid, acc in record.accepted.items():
        if acc.kind == "closed":
            found.append(f"request {rid} was accepted for a closed wallet")
        row = rows.get(rid)
        if row is None:
            found.append(f"accepted request {rid} is missing")
            continue
        kind = "deposit" if acc.kind == "closed" else acc.kind
        amount = row[4] if acc.amount is None else acc.amount  # None: the service chose it
        if (row[1], row[3], row[4], row[7]) != (kind, acc.currency, amount, acc.key):
            found.append(f"request {rid} differs from what was sent: {row} vs {acc}")
        if row[5] != fee_for(kind, amount):
            found.append(f"request {rid} fee {row[5]} != {fee_for(kind, amount)}")
    for rid, row in rows.items():
        want = (ENTRIES[row[1]] + (row[5] > 0)) if row[2] == "succeeded" else 0
        if entries[rid] != want:
            found.append(f"request {rid} ({row[2]}) has {entries[rid]} entries, expected {want}")
    for currency in ("USD", "EUR"):
        ok = [r for r in rows.values() if r[2] == "succeeded" and r[3] == currency]
        # A capture without a recipient leaves the service as a withdrawal does
        out = [r for r in ok if r[1] == "withdrawal" or (r[1] == "capture" and r[8] is None)]
        dep = sum(r[4] for r in ok if r[1] == "deposit")
        wd = sum(r[4] for r in out)
        fees = sum(r[5] for r in ok)
        wd_fees = sum(r[5] for r in out)
        users = sql("SELECT COALESCE(SUM(balance), 0) FROM wallets WHERE system_key IS NULL "
                    "AND currency = %s", currency)[0][0]
        system = dict(sql("SELECT w.system_key, COALESCE(SUM(t.amount), 0) FROM wallets w "
                          "LEFT JOIN transactions t ON t.wallet_id = w.id "
                          "WHERE w.currency = %s AND w.system_key IS NOT NULL "
                          "GROUP BY w.system_key", currency))
        expect = {"users": dep - fees - wd + wd_fees, f"fees:{currency}": fees,
                  f"external:{currency}": -dep + wd - wd_fees}
        got = {"users": int(users), f"fees:{currency}": int(system.get(f"fees:{currency}", 0)),
               f"external:{currency}": int(system.get(f"external:{currency}", 0))}
        if got != expect:
            found.append(f"{currency} totals {got} != implied {expect}")
    negative = sql("SELECT id, balance, held FROM wallets WHERE system_key IS NULL "
                   "AND (balance < 0 OR held < 0 OR held > balance)")
    if negative:
        found.append(f"negative balances or available balances: {negative}")
    # Every hold whose time is up was released by the service (allowing two rounds)
    overdue = sql("SELECT id, expires_at FROM holds WHERE status = 'active' "
                  "AND expires_at < UTC_TIMESTAMP(6) - INTERVAL %s SECOND",
                  2 * HOLD_EXPIRY_SWEEP_S)
    if overdue:
        found.append(f"{len(overdue)} hold(s) past their time still active: {overdue[:5]}")
    holds = Counter(dict(sql("SELECT status, COUNT(*) FROM holds GROUP BY status")))
    outcomes.update({f"holds {status}": n for status, n in holds.items()})
    # The workload must have exercised every kind of two-phase outcome to prove anything
    done = Counter(r[1] for r in rows.values() if r[2] == "succeeded")
    missing = [kind for kind in ("hold", "capture", "void", "refund") if not done[kind]]
    if missing or not holds["expired"]:
        found.append(f"the workload never saw a succeeded {missing} or an expired hold "
                     f"({dict(holds)})")
    found += [f"re-sent key answered differently: {m}" for m in record.resend_mismatches]
    for key in record.unresolved_keys:  # unanswered calls may have been accepted: then settled
        if any(r[7] == key and r[2] == "pending" for r in rows.values()):
            found.append(f"unanswered key {key} left its request pending")
    audit = subprocess.run([sys.executable, "manage.py", "audit"], cwd=ROOT, capture_output=True,
                           text=True, timeout=120, env={**os.environ, **ENV})
    if audit.returncode != 0:
        found.append("audit: " + audit.stdout[-2000:])
    return found, outcomes


def summary(record: Record, outcomes: Counter, schedule: nemesis.Schedule, quiesce_s: float,
            found: list[str]) -> str:
    lines = ["| measure | value |", "|---|---|",
             f"| requests accepted (202) | {len(record.accepted)} |"]
    lines += [f"| {name} | {n} |" for name, n in sorted(outcomes.items())]
    lines += [f"| refused at the door: {name} | {n} |"
              for name, n in sorted(record.refused.items())]
    lines += [f"| re-sent with the same key | {record.resent} |",
              f"| calls retried by clients (5xx, timeouts) | {sum(record.retried_calls.values())} "
              f"({', '.join(f'{k}: {v}' for k, v in record.retried_calls.most_common(4))}) |",
              f"| calls never answered | {len(record.unresolved_keys)} |"]
    lines += [f"| fault: {name} | at {start:.0f} s, {took:.1f} s |"
              for name, start, took in schedule.done]
    lines += [f"| time to quiesce after the last fault | {quiesce_s:.1f} s |",
              f"| anomalies | {len(found)} |"]
    return "\n".join(lines)


# Set-up, 72 s of load, quiescing, up to DELIVERED_WITHIN_S for the webhooks and the checks:
# more than the suite's 300 s per test on a loaded machine.
@pytest.mark.timeout(600)
def test_the_bank_keeps_every_minor_unit_through_crashes_and_restarts(chaos_env, log_dir):
    web, base = start_web(log_dir)
    workers = [start_worker(log_dir) for _ in range(WORKERS)]
    sweeper = start_sweeper(log_dir)
    receiver = Receiver(fail_share=RECEIVER_FAILS).start()
    try:
        users = set_up_users(base, receiver)
        record = Record()
        port = receiver.port

        def replace_worker(i: int):
            def action():
                nemesis.kill(workers[i])
                workers[i] = start_worker(log_dir)
            return action

        schedule = nemesis.Schedule([
            (RECEIVER_DOWN_S, "webhook receiver down", receiver.stop),
            (8, "SIGKILL worker 1, start another", replace_worker(0)),
            (16, "restart RabbitMQ", nemesis.restart_rabbitmq),
            (40, "crash and restart MariaDB", nemesis.crash_mariadb),
            (50, "flush Redis", nemesis.flush_redis),
            (53, "stop Redis", nemesis.stop_redis),
            (61, "start Redis", nemesis.start_redis),
            (RECEIVER_UP_S, "webhook receiver back", lambda: receiver.start(port=port)),
            (68, "SIGKILL worker 2, start another", replace_worker(1)),
        ])
        deadline = time.monotonic() + WORKLOAD_S
        clients = [Client(i, base, users, record, deadline=deadline, seed=SEED + i)
                   for i in range(CLIENTS)]
        schedule.start()
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        schedule.join()
        quiesce_s = wait_until_settled(schedule.last_fault_end + QUIESCE_S)
        delivered_s = wait_until_delivered(users, receiver, DELIVERED_WITHIN_S)
        found, outcomes = anomalies_of(record)
        missing = undelivered(users, receiver)
        found += [f"webhook: {m} never delivered" for m in missing[:20]]
        # The receiver really was down a minute or more (later faults may push its return)
        # (from the moment its stop returned to the moment its start began; it is scheduled a
        # second more than the minute, as a sleep-driven schedule starts each fault a hair late)
        starts = {name: start for name, start, _ in schedule.done}
        stopped = {name: start + took for name, start, took in schedule.done}
        down_s = starts["webhook receiver back"] - stopped["webhook receiver down"]
        if down_s < MIN_RECEIVER_DOWN_S:
            found.append(f"the webhook receiver was down only {down_s:.0f} s")
        outcomes["seconds the webhook receiver was down"] = round(down_s)
        outcomes["webhook deliveries verified"] = sum(
            len(v) for v in receiver.delivered().values())
        outcomes["webhook deliveries refused by the receiver"] = sum(
            d.status >= 300 for d in receiver.seen)
        outcomes["events of subscribed users"] = sum(
            len(sql("SELECT id FROM events WHERE user_id = %s", u["user_id"]))
            for u in users if u["hook"])
        outcomes["seconds until every event was delivered (after quiescing)"] = \
            round(delivered_s)
        found += [f"nemesis: {e}" for e in schedule.errors]
        table = summary(record, outcomes, schedule, quiesce_s, found)
        print("\n" + table + "\n" + "\n".join(found[:30]))
        with open(os.path.join(log_dir, "chaos-summary.md"), "w") as f:
            f.write(table + "\n")
        assert len(record.accepted) > 500, "the workload accepted too little to prove anything"
        assert not found, "\n".join(found[:30])
    finally:
        nemesis.heal()
        receiver.stop()
        for proc in [sweeper, *workers, web]:
            proc.stop()
