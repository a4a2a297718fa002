"""Stopping a worker with SIGTERM while it holds messages loses nothing: it finishes what
it is doing, the messages it had prefetched go back to RabbitMQ, and every request
settles exactly once when another worker takes over.

Settling takes milliseconds, so to catch a worker with messages in hand the test holds
one wallet's row in an open transaction (as any long transaction might): settlements
that touch that wallet wait on the row lock, the others go through. No sweeper runs, so
a message lost on the way would leave its request pending for good; the web process
and workers have a RabbitMQ virtual host of their own.
"""
import signal
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pika
import pymysql

import settings
from ledger import audit
from models import Transaction, TransactionRequest, database_params
from tests.helpers import Client, own_vhost, start_web, start_worker, wait_for

USERS = 4
FIRST = 20  # transfers that never touch the locked wallet, queued first
TRANSFERS = 200


def statuses(ids: list[int]) -> dict[int, str]:
    rows = TransactionRequest.select(TransactionRequest.id, TransactionRequest.status) \
        .where(TransactionRequest.id.in_(ids))
    return {row.id: row.status for row in rows}


def pending(ids: list[int]) -> int:
    return list(statuses(ids).values()).count("pending")


def entries_per_request(ids: list[int]) -> dict[int, int]:
    counts = dict.fromkeys(ids, 0)
    for entry in Transaction.select(Transaction.request).where(Transaction.request.in_(ids)):
        counts[entry.request_id] += 1
    return counts


def queued_transfers(broker_url: str) -> int:
    """Messages waiting in the transfers queue and its delay queue (retries)."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        return sum(channel.queue_declare(name, passive=True).method.message_count
                   for name in ("transfers", "transfers.DQ"))
    finally:
        connection.close()


def lock_wallet_row(wallet_id: int) -> pymysql.connections.Connection:
    """A connection holding `wallet_id`'s row lock until it rolls back."""
    name, params = database_params(settings.DATABASE_URL)
    connection = pymysql.connect(database=name, **params)
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT id FROM wallets WHERE id = %s FOR UPDATE", (wallet_id,))
    return connection


def test_a_worker_stopped_with_sigterm_while_holding_messages_loses_and_repeats_nothing(
        log_dir):
    with own_vhost() as broker_url:
        web, base = start_web(log_dir, BROKER_URL=broker_url)
        workers, lock = [], None
        try:
            # Given four users whose wallets were funded by a worker since stopped
            users = [Client(base).sign_up() for _ in range(USERS)]
            wallets = [user.open_wallet("USD")["id"] for user in users]
            deposits = [user.deposit(w, "1000.00")["id"]
                        for user, w in zip(users, wallets, strict=True)]
            workers.append(start_worker(log_dir, threads=2, BROKER_URL=broker_url))
            assert {user.settled(rid)["status"]
                    for user, rid in zip(users, deposits, strict=True)} == \
                {"succeeded"}
            workers[-1].kill(signal.SIGTERM)
            assert workers[-1].proc.wait(60) == 0, workers[-1].output()[-3000:]
            total = sum(Decimal(user.wallet(w)["balance"])
                        for user, w in zip(users, wallets, strict=True))

            # And 200 transfers queued while no worker runs: 20 among the first three
            # wallets, then 180 around all four
            def send(i: int) -> int:
                ring = USERS - 1 if i < FIRST else USERS
                source = i % ring
                sender = Client(base)
                sender.token = users[source].token
                return sender.transfer(wallets[source], wallets[(source + 1) % ring],
                                       f"{1 + i % 17}.{i % 100:02d}")["id"]

            with ThreadPoolExecutor(16) as pool:
                ids = list(pool.map(send, range(FIRST)))
                ids += list(pool.map(send, range(FIRST, TRANSFERS)))
            assert pending(ids) == TRANSFERS
            # And a long transaction holding the fourth wallet's row
            lock = lock_wallet_row(wallets[-1])

            # When a worker with two threads has settled some and waits on the row lock
            worker = start_worker(log_dir, threads=2, BROKER_URL=broker_url)
            workers.append(worker)
            wait_for(lambda: pending(ids) <= TRANSFERS - FIRST, timeout_s=60,
                     what="the first transfers to settle")
            # And it gets SIGTERM (to its process group, as honcho sends it)
            worker.kill(signal.SIGTERM)
            wait_for(lambda: "Shutting down..." in worker.output(), timeout_s=30,
                     what="the worker to start shutting down")
            held = pending(ids)
            lock.rollback()  # what it is doing can now finish

            # Then it finishes the settlements in hand and exits cleanly
            assert worker.proc.wait(60) == 0, worker.output()[-3000:]
            assert "Worker has been shut down." in worker.output()
            left = pending(ids)
            assert 0 < left < held
            # And every request still pending has its message back in RabbitMQ
            assert queued_transfers(broker_url) >= left

            # When another worker starts
            workers.append(start_worker(log_dir, threads=4, BROKER_URL=broker_url))
            wait_for(lambda: pending(ids) == 0, timeout_s=120, what="every transfer to settle")

            # Then every request ended once: two entries per success, none per failure
            final, counts = statuses(ids), entries_per_request(ids)
            assert set(final.values()) == {"succeeded"}  # each sends under 500 of its 995
            assert counts == {rid: 2 if final[rid] == "succeeded" else 0 for rid in ids}
            # And not a cent was created or lost, and the books balance
            assert sum(Decimal(user.wallet(w)["balance"])
                       for user, w in zip(users, wallets, strict=True)) == total
            assert all(not rows for rows in audit.findings().values())
        finally:
            if lock is not None:
                lock.close()
            for worker in workers:
                worker.stop()
            web.stop()
