"""The service's broker on a real 3-node RabbitMQ cluster (tests/scale/cluster.py): quorum
queues with their leaders spread over the nodes, confirmed publishes under load while the
node leading the queue is SIGKILLed, and every broker question answered with that node
down (it comes first in the URLs, so each question has to fail over), up to a deposit that
a web process accepts and a worker settles.
"""
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pika
import pytest
import requests
from dramatiq import Message

from infra.broker import QuorumRabbitmqBroker, _with_defaults
from payments.queues import QUEUES
from tests.helpers import ROOT, Client, start_web, start_worker

PUBLISHERS = 4
PER_PUBLISHER = 750
KILL_AFTER = 1000  # confirmed publishes before the leader's node is killed
DRAIN_TIMEOUT_S = 60


def service_broker(urls: list[str]) -> QuorumRabbitmqBroker:
    """The broker infra.broker builds for a cluster BROKER_URL, with the default settings."""
    return QuorumRabbitmqBroker(url=[_with_defaults(u) for u in urls], confirm_delivery=True,
                                quorum=True, leader_locator="balanced", middleware=[])


def publish(broker: QuorumRabbitmqBroker, count: int, confirmed: list, failed: list,
            tick: threading.Event, total: list) -> None:
    """Send `count` settle messages; a send that returns was confirmed by a majority."""
    for _ in range(count):
        message = Message(queue_name="deposits", actor_name="settle_deposit",
                          args=(uuid.uuid4().hex,), kwargs={}, options={})
        try:
            broker.enqueue(message)
            confirmed.append(message.message_id)
        except Exception:  # noqa: BLE001 - a send that raised: the outbox would resend it
            failed.append(message.message_id)
        total.append(1)
        if len(confirmed) >= KILL_AFTER:
            tick.set()


def drain(url: str, queue: str, want: set[str]) -> set[str]:
    """Consume `queue` until every id in `want` was seen (or the time is up); the ids seen."""
    seen: set[str] = set()
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=500)
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    for method, _props, body in channel.consume(queue, inactivity_timeout=1):
        if method is not None:
            seen.add(Message.decode(body).message_id)
            channel.basic_ack(method.delivery_tag)
        if want <= seen or time.monotonic() > deadline:
            break
    channel.cancel()
    channel.queue_purge(queue)  # what is left: duplicates of sends that raised
    connection.close()
    return seen


def ask(cluster, first) -> dict:
    """infra.broker's answers in a process whose cluster URLs name `first` first."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.scale.questions"], cwd=ROOT, timeout=120,
        capture_output=True, text=True,
        env={**os.environ, "BROKER_URL": cluster.url(first=first),
             "RABBITMQ_MANAGEMENT_URL": cluster.management_url(first=first)})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_confirmed_messages_survive_the_kill_of_the_leaders_node_and_the_broker_stays_ready(
        rabbit_cluster, log_dir):
    cluster = rabbit_cluster
    # Given the service's actor queues declared on the cluster as quorum queues
    broker = service_broker([n.url() for n in cluster.nodes])
    for queue in QUEUES:
        broker.declare_queue(queue, ensure=True)
    leaders = cluster.leaders()
    # Then every queue (and its .DQ and .XQ) is a quorum queue, their leaders spread over
    # every node
    assert len(leaders) == 3 * len(QUEUES)
    assert set(leaders.values()) == {n.name for n in cluster.nodes}, leaders
    types = {q["name"]: q["type"] for q in cluster.api(cluster.nodes[0], "/queues/%2F")}
    assert set(types.values()) == {"quorum"}

    # Given one dead-lettered settle message, and publishers connected to the node that
    # leads `deposits` (it comes first in their URL)
    victim = cluster.node(leaders["deposits"])
    dead = Message(queue_name="deposits", actor_name="settle_deposit", args=(1,), kwargs={},
                   options={"retries": 20})
    broker.channel.basic_publish("", "deposits.XQ", dead.encode(),
                                 pika.BasicProperties(delivery_mode=2), mandatory=True)
    broker.close()
    publisher = service_broker([n.url() for n in cluster._ordered(victim)])
    confirmed: list[str] = []
    failed: list[str] = []
    total: list[int] = []
    tick = threading.Event()
    threads = [threading.Thread(target=publish, args=(publisher, PER_PUBLISHER, confirmed,
                                                      failed, tick, total))
               for _ in range(PUBLISHERS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    # When that node is SIGKILLed in the middle of the load
    assert tick.wait(120), "the publishers never got going"
    killed_at = len(total)
    cluster.kill(victim)
    for thread in threads:
        thread.join(180)
    took = time.monotonic() - began
    publisher.close()
    print(f"\n{len(confirmed)} confirmed, {len(failed)} raised (the outbox resends those) of "
          f"{len(total)} sent in {took:.1f} s; {victim.name} killed after {killed_at}")
    assert len(total) == PUBLISHERS * PER_PUBLISHER and len(confirmed) > killed_at

    # Then every broker question is answered from the nodes left, the first one down
    answers = ask(cluster, victim)
    assert answers["ready"] == "ok"
    assert "deposits" in answers["backlogged"]
    assert answers["dead_letter_counts"]["deposits"] == 1
    assert answers["counts"]["deposits"][1] == 1
    assert answers["dead"] == [dead.message_id] and answers["requeued"] == dead.message_id

    # And nothing confirmed was lost: every message consumed, with the requeued one
    survivor = next(n for n in cluster.nodes if n.alive)
    seen = drain(survivor.url(), "deposits", set(confirmed) | {dead.message_id})
    lost = set(confirmed) - seen
    print(f"{len(seen)} distinct messages consumed; {len(lost)} confirmed ones lost")
    assert not lost and dead.message_id in seen

    # And with that node still down, a web process and a worker on the cluster's URLs (it
    # first) are ready, and a deposit the one accepts the other settles
    env = {"BROKER_URL": cluster.url(first=victim),
           "RABBITMQ_MANAGEMENT_URL": cluster.management_url(first=victim)}
    web, base = start_web(log_dir, **env)
    worker = start_worker(log_dir, **env)
    try:
        ready = requests.get(base + "/readyz", timeout=30)
        client = Client(base).sign_up()
        wallet = client.open_wallet("USD")
        settled = client.settled(client.deposit(wallet["id"], "10.00")["id"])
    finally:
        worker.stop()
        web.stop()
    assert ready.status_code == 200 and ready.json()["broker"] == "ok", ready.text
    assert settled["status"] == "succeeded", settled
