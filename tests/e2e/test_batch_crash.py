"""A worker killed between a batch's commit and the acknowledgements of its messages.

The batch holds a request that must fail (insufficient funds, after an earlier request of
the same batch took the money). Its messages stay unacknowledged after the commit because
the worker's post-commit write to Redis (to a Redis of its own, told to refuse writes for
a while) holds the batch open; the worker is SIGKILLed then. RabbitMQ hands the messages
to a new worker, which must find everything settled and write nothing again.
"""
import json
import signal

import redis

from ledger import audit
from models import PENDING, Transaction, TransactionRequest, Wallet
from tests.helpers import Client, own_vhost, redis_server, start_web, start_worker, wait_for

PAUSE_MS = 20_000


def statuses(ids: list[int]) -> list[str]:
    return [TransactionRequest.get_by_id(i).status for i in ids]


def found_settled_already(output: str) -> set[int]:
    """The requests a worker's log says it found settled already (a redelivery)."""
    lines = (json.loads(line) for line in output.splitlines() if line.startswith("{"))
    return {i for line in lines if "settled already" in line.get("message", "")
            for i in line["money_request_ids"]}


def test_a_worker_killed_after_a_batch_committed_but_before_its_acks_settles_nothing_twice(
        log_dir):
    with own_vhost() as vhost, redis_server() as pausable:
        web, base = start_web(log_dir, BROKER_URL=vhost)
        first = second = None
        try:
            # Given, queued before any worker runs: a deposit of 10.00 into an empty wallet,
            # then two transfers of 6.00 out of it (together more than it will hold)
            ada, bob = Client(base).sign_up(), Client(base).sign_up()
            wallet, other = ada.open_wallet("USD")["id"], bob.open_wallet("USD")["id"]
            ids = [ada.deposit(wallet, "10.00")["id"],
                   ada.transfer(wallet, other, "6.00")["id"],
                   ada.transfer(wallet, other, "6.00")["id"]]
            # And a worker whose Redis refuses writes, so that after a batch commits its
            # announcement waits, and its messages stay unacknowledged
            redis.Redis.from_url(pausable).execute_command("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
            first = start_worker(log_dir, BROKER_URL=vhost, REDIS_URL=pausable,
                                 REDIS_TIMEOUT_MS=str(PAUSE_MS * 2), SETTLE_BATCH_WAIT_MS="500")
            # When the batch has committed (the database and the worker's log say so)
            wait_for(lambda: PENDING not in statuses(ids), timeout_s=60,
                     what="the batch to commit")
            wait_for(lambda: "Settled a batch" in first.output(), timeout_s=30,
                     what="the worker to log its batch")
            # And the worker is SIGKILLed, its messages still unacknowledged
            first.kill(signal.SIGKILL)
            first.proc.wait(10)
            assert "Settled a batch of 3 requests" in first.output(), first.output()[-3000:]
            # Then a new worker gets all three again (RabbitMQ requeued them) ...
            second = start_worker(log_dir, BROKER_URL=vhost)
            wait_for(lambda: found_settled_already(second.output()) == set(ids),
                     timeout_s=60, what="the redelivered messages to be processed")
            # ... and writes nothing twice: the deposit and the first transfer succeeded once,
            # the second transfer failed with insufficient_funds, once
            rows = [TransactionRequest.get_by_id(i) for i in ids]
            assert [(r.status, r.failure_code) for r in rows] == [
                ("succeeded", None), ("succeeded", None), ("failed", "insufficient_funds")]
            assert [Transaction.select().where(Transaction.request == i).count()
                    for i in ids] == [3, 2, 0]
            assert (Wallet.get_by_id(wallet).balance, Wallet.get_by_id(other).balance) == \
                (395, 600)
            assert "Settled a batch" not in second.output()
            bad = {name: [r for r in rows if r[0] in (wallet, other) or r[0] in ids]
                   for name, rows in audit.findings().items()}
            assert {name: rows for name, rows in bad.items() if rows} == {}
        finally:
            for process in (first, second):
                if process is not None:
                    process.stop()
            web.stop()
