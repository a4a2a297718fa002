"""What the ops page reads from and does to the broker's queues, on a real RabbitMQ (a
scratch virtual host nobody consumes from) and a real Redis (a namespace of its own).

Dead-lettered messages are put in `<q>.XQ` by the test itself, encoded as Dramatiq
encodes them, carrying what a failed delivery adds (a retry count and a traceback).
"""
import os
import subprocess
import sys
import time
import uuid

import pika
import pytest
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

import settings
from errors import BrokerUnavailable, DeadMessageNotFound
from infra.broker import QueueCounts, RabbitQueues, RedisQueues
from infra.broker.quorum import dead_letter_arguments, queue_arguments
from payments.queues import QUEUES
from tests.helpers import ROOT, broker_url, free_port, scratch_name, scratch_redis_url

VHOST = scratch_name("ops")
AMQP_URL = broker_url(VHOST)
REDIS_BROKER_URL = scratch_redis_url()


def dead(actor: str = "settle_deposit", request_id: int = 7) -> Message:
    """A settle message as it sits in a dead-letter queue after its last failed try."""
    return Message(queue_name="deposits", actor_name=actor, args=(request_id,), kwargs={},
                   options={"retries": 20, "traceback": "VersionConflict ...",
                            "requeue_timestamp": 1, "trace_id": "req-1"})


# -- RabbitMQ -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vhost():
    done = subprocess.run([sys.executable, "manage.py", "vhost", "--fresh", VHOST], cwd=ROOT,
                          timeout=120, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return VHOST


@pytest.fixture
def channel(vhost):
    """A channel on the scratch vhost whose actor queues (declared as the service's broker
    declares them: quorum queues unless BROKER_QUORUM_QUEUES is false) are empty."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    chan = connection.channel()
    kind = {"quorum": settings.BROKER_QUORUM_QUEUES,
            "leader_locator": settings.BROKER_QUEUE_LEADER_LOCATOR}
    for q in QUEUES:
        args = queue_arguments(q, **kind)
        for name, arguments in ((q, args), (f"{q}.DQ", args),
                                (f"{q}.XQ", dead_letter_arguments(**kind))):
            chan.queue_declare(name, durable=True, arguments=arguments)
            chan.queue_purge(name)
    yield chan
    connection.close()


@pytest.fixture
def rabbit() -> RabbitQueues:
    return rabbit_queues(settings.RABBITMQ_MANAGEMENT_URL)


def rabbit_queues(management_url: str) -> RabbitQueues:
    """The ops page's view of the scratch vhost, as infra.broker.for_ops builds it."""
    params = pika.URLParameters(AMQP_URL)
    return RabbitQueues(lambda: pika.BlockingConnection(params), params.virtual_host,
                        management_url, QUEUES)


def publish(chan, queue: str, message: Message) -> None:
    chan.basic_publish("", queue, message.encode(), pika.BasicProperties(delivery_mode=2))


def drain(chan, queue: str) -> list[Message]:
    """Take every message of `queue` (acked: gone)."""
    out = []
    while True:
        method, _, body = chan.basic_get(queue, auto_ack=True)
        if method is None:
            return out
        out.append(Message.decode(body))


def counts_of(rabbit, queue: str, expected: tuple) -> QueueCounts:
    """The counts of `queue` once they show `expected` (RabbitMQ may lag a moment)."""
    deadline = time.monotonic() + 15
    while True:
        row = next(c for c in rabbit.counts() if c.queue == queue)
        if (row.ready, row.unacked, row.delayed, row.dead) == expected or \
                time.monotonic() > deadline:
            return row
        time.sleep(0.2)


def test_rabbitmq_counts_show_ready_delayed_and_dead_messages_per_actor_queue(channel, rabbit):
    # Given 2 ready messages in deposits, 1 delayed and 3 dead-lettered ones
    for _ in range(2):
        publish(channel, "deposits", dead())
    publish(channel, "deposits.DQ", dead())
    for _ in range(3):
        publish(channel, "deposits.XQ", dead())
    # When the ops page reads the counts
    row = counts_of(rabbit, "deposits", (2, 0, 1, 3))
    # Then they are what the queues hold, and every actor queue has a row
    assert (row.ready, row.unacked, row.delayed, row.dead) == (2, 0, 1, 3)
    assert [c.queue for c in rabbit.counts()] == list(QUEUES)
    assert set(QUEUES) == {"deposits", "withdrawals", "transfers", "holds", "refunds",
                           "maintenance", "webhooks"}


def test_rabbitmq_counts_are_none_when_the_management_api_does_not_answer(vhost):
    # Given a management URL where nothing listens
    nowhere = rabbit_queues(f"http://guest:guest@127.0.0.1:{free_port()}")
    # Then the counts and the dead messages are unavailable, not an error
    assert nowhere.counts() is None and nowhere.dead("deposits") is None
    assert not nowhere.management_answers()


def test_a_management_node_that_does_not_answer_is_passed_over_for_the_next(channel):
    # Given a cluster's management URL whose first node is down
    down = f"http://guest:guest@127.0.0.1:{free_port()}"
    cluster = rabbit_queues(f"{down};{settings.RABBITMQ_MANAGEMENT_URL}")
    publish(channel, "deposits.XQ", dead(request_id=11))
    # Then the counts and the dead messages come from the next node
    assert cluster.management_answers()
    assert counts_of(cluster, "deposits", (0, 0, 0, 1)).dead == 1
    assert [m.args for m in cluster.dead("deposits") or []] == [(11,)]


def test_peeking_at_dead_messages_shows_them_and_leaves_them_in_place(channel, rabbit):
    # Given two dead-lettered settle messages
    first, second = dead(request_id=11), dead(request_id=12)
    publish(channel, "deposits.XQ", first)
    publish(channel, "deposits.XQ", second)
    # When the page peeks at them
    shown = rabbit.dead("deposits")
    # Then it shows their ids, actor, arguments and retries
    assert [(m.message_id, m.actor, m.args, m.retries) for m in shown] == [
        (first.message_id, "settle_deposit", (11,), 20),
        (second.message_id, "settle_deposit", (12,), 20)]
    # And both are still there, in order
    assert [m.message_id for m in drain(channel, "deposits.XQ")] == \
        [first.message_id, second.message_id]


def test_requeueing_a_dead_message_moves_only_it_back_with_a_fresh_retry_budget(channel, rabbit):
    # Given three dead-lettered messages
    messages = [dead(request_id=n) for n in (21, 22, 23)]
    for message in messages:
        publish(channel, "deposits.XQ", message)
    # When the middle one is requeued
    rabbit.requeue("deposits", messages[1].message_id)
    # Then it is back on its queue: same id and arguments, no retries or traceback, same trace
    [back] = drain(channel, "deposits")
    assert (back.message_id, back.actor_name, back.args, back.queue_name) == \
        (messages[1].message_id, "settle_deposit", (22,), "deposits")
    assert back.options == {"trace_id": "req-1"}
    # And the other two are still dead-lettered
    assert sorted(m.args[0] for m in drain(channel, "deposits.XQ")) == [21, 23]


def test_deleting_a_dead_message_drops_only_it(channel, rabbit):
    # Given two dead-lettered messages
    keep, drop = dead(request_id=31), dead(request_id=32)
    publish(channel, "deposits.XQ", keep)
    publish(channel, "deposits.XQ", drop)
    # When one is deleted
    rabbit.delete("deposits", drop.message_id)
    # Then only the other is left, and nothing went to the actor queue
    assert [m.message_id for m in drain(channel, "deposits.XQ")] == [keep.message_id]
    assert drain(channel, "deposits") == []


def test_requeueing_an_unknown_message_or_queue_is_not_found_and_changes_nothing(channel,
                                                                                 rabbit):
    # Given one dead-lettered message
    message = dead()
    publish(channel, "deposits.XQ", message)
    # When an operator names another message, or a queue that is not an actor's
    with pytest.raises(DeadMessageNotFound):
        rabbit.requeue("deposits", str(uuid.uuid4()))
    with pytest.raises(DeadMessageNotFound):
        rabbit.delete("payroll", message.message_id)
    # Then the message is still there, and nothing was sent
    assert [m.message_id for m in drain(channel, "deposits.XQ")] == [message.message_id]
    assert drain(channel, "deposits") == []


def test_a_requeue_that_cannot_publish_leaves_the_message_dead_lettered(channel, rabbit):
    # Given a dead-lettered message whose actor queue has gone (so publishing to it fails)
    message = dead()
    publish(channel, "deposits.XQ", message)
    channel.queue_delete("deposits")
    # When an operator requeues it
    with pytest.raises(BrokerUnavailable):
        rabbit.requeue("deposits", message.message_id)
    # Then it was not lost: it is still in the dead-letter queue
    assert [m.message_id for m in drain(channel, "deposits.XQ")] == [message.message_id]


# -- Redis ----------------------------------------------------------------------------------
@pytest.fixture
def redis_queues():
    """Dramatiq's Redis broker under a namespace of this test's own."""
    broker = RedisBroker(url=REDIS_BROKER_URL, namespace=f"ops-test-{uuid.uuid4().hex[:8]}")
    yield RedisQueues(broker, QUEUES)
    keys = broker.client.keys(f"{broker.namespace}:*")
    if keys:
        broker.client.delete(*keys)


def dead_in_redis(rq: RedisQueues, message: Message) -> str:
    """Dead-letter `message` as Dramatiq's Redis broker does; returns its redis id."""
    key = str(uuid.uuid4())
    stored = message.copy(options={"redis_message_id": key})
    rq.client.zadd(rq._key("deposits.XQ"), {key: int(time.time() * 1000)})
    rq.client.hset(rq._key("deposits.XQ.msgs"), key, stored.encode())
    return key


def test_redis_counts_dead_messages_and_a_requeue_moves_one_back(redis_queues):
    # Given two dead-lettered messages and one ready one on Dramatiq's Redis keys
    keep, move = dead(request_id=41), dead(request_id=42)
    dead_in_redis(redis_queues, keep)
    key = dead_in_redis(redis_queues, move)
    redis_queues.broker.enqueue(dead(request_id=43).copy(options={"retries": 0}))
    # Then the counts and the dead list say so
    row = next(c for c in redis_queues.counts() if c.queue == "deposits")
    assert (row.ready, row.unacked, row.delayed, row.dead) == (1, 0, 0, 2)
    assert {m.args for m in redis_queues.dead("deposits")} == {(41,), (42,)}
    # When one is requeued
    redis_queues.requeue("deposits", key)
    # Then it waits on its queue with a fresh retry budget, and one dead message is left
    row = next(c for c in redis_queues.counts() if c.queue == "deposits")
    assert (row.ready, row.dead) == (2, 1)
    bodies = [Message.decode(b) for b in redis_queues.client.hvals(
        redis_queues._key("deposits.msgs"))]
    moved = next(m for m in bodies if m.args == (42,))
    assert moved.message_id == move.message_id and "retries" not in moved.options
    assert [m.args for m in redis_queues.dead("deposits")] == [(41,)]


def test_redis_delete_drops_a_dead_message_and_an_unknown_one_is_not_found(redis_queues):
    key = dead_in_redis(redis_queues, dead())
    with pytest.raises(DeadMessageNotFound):
        redis_queues.delete("deposits", str(uuid.uuid4()))
    redis_queues.delete("deposits", key)
    assert redis_queues.dead("deposits") == []
    assert next(c for c in redis_queues.counts() if c.queue == "deposits").dead == 0


def test_redis_counts_are_none_when_redis_does_not_answer():
    broker = RedisBroker(url=f"redis://127.0.0.1:{free_port()}/0")
    assert RedisQueues(broker, QUEUES).counts() is None


# -- switching queue types ------------------------------------------------------------------
def test_manage_vhost_deletes_empty_queues_of_the_other_type_and_names_those_with_messages():
    # Given a vhost left by a run with classic queues: deposits empty, withdrawals not
    name = scratch_name("retype")
    argv = [sys.executable, "manage.py", "vhost", name]
    assert subprocess.run([*argv, "--fresh"], cwd=ROOT, timeout=120).returncode == 0
    connection = pika.BlockingConnection(pika.URLParameters(broker_url(name)))
    try:
        chan = connection.channel()
        for queue in ("deposits", "withdrawals"):
            chan.queue_declare(queue, durable=True)
        publish(chan, "withdrawals", dead())
        # When `manage.py vhost` runs with quorum queues configured
        done = subprocess.run(argv, cwd=ROOT, timeout=120, capture_output=True, text=True,
                              env={**os.environ, "BROKER_QUORUM_QUEUES": "true"})
        # Then it fails naming the queue that holds a message, and deleted the empty one
        assert done.returncode == 1
        assert "withdrawals (1 messages)" in done.stderr and "deposits" not in done.stderr
        assert chan.queue_declare("withdrawals", passive=True).method.message_count == 1
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            chan.queue_declare("deposits", passive=True)
    finally:
        connection.close()
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True,
                       timeout=60)
