"""The broker URL is parsed once: every node of a cluster URL gets the fail-fast defaults.

Imported in child processes, each with its own BROKER_URL.
"""
import json
import os
import subprocess
import sys

from tests.helpers import ROOT


def nodes_of(url: str) -> tuple[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", "import json; from infra import broker; "
                               "print(json.dumps([broker.KIND, list(broker.NODES)]))"],
        cwd=ROOT, env={**os.environ, "BROKER_URL": url}, capture_output=True, text=True,
        timeout=60)
    assert done.returncode == 0, done.stderr
    kind, nodes = json.loads(done.stdout)
    return kind, nodes


def test_a_single_url_gets_every_default():
    from infra.broker import AMQP_DEFAULTS

    kind, [url] = nodes_of("amqp://guest:guest@127.0.0.1:5672/%2F")
    assert kind == "amqp" and url.startswith("amqp://guest:guest@127.0.0.1:5672/%2F?")
    assert all(f"{k}={v}" in url for k, v in AMQP_DEFAULTS.items())


def test_each_node_of_a_cluster_gets_the_defaults_and_keeps_its_own_settings():
    kind, urls = nodes_of("amqp://mq1/wallet; amqp://mq2/wallet?heartbeat=10")
    assert kind == "amqp" and len(urls) == 2
    assert urls[0].startswith("amqp://mq1/wallet?") and "heartbeat=" in urls[0]
    assert urls[1].startswith("amqp://mq2/wallet?heartbeat=10&")
    assert urls[1].count("heartbeat=") == 1
    assert all("connection_attempts=1" in url for url in urls)


def test_redis_and_stub_urls_name_one_node_as_given():
    assert nodes_of("redis://127.0.0.1:6379/5") == ("redis", ["redis://127.0.0.1:6379/5"])
    assert nodes_of("stub://") == ("stub", ["stub://"])


def broker_of(**env: str) -> dict:
    """What infra.broker builds in a process with `env` (no connection is opened)."""
    code = ("import json; from infra import broker; b = broker.current(); "
            "print(json.dumps({'type': type(b).__name__, 'confirm': b.confirm_delivery, "
            "'nodes': len(b.parameters), 'args': b._build_queue_arguments('deposits'), "
            "'management': list(broker.MANAGEMENT_URLS)}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_by_default_every_process_publishes_with_confirms_to_quorum_queues_spread_over_nodes():
    built = broker_of(BROKER_URL="amqp://mq1/wallet;amqp://mq2/wallet;amqp://mq3/wallet")
    assert built["type"] == "QuorumRabbitmqBroker" and built["confirm"] is True
    assert built["nodes"] == 3
    assert built["args"] == {"x-dead-letter-exchange": "", "x-dead-letter-routing-key":
                             "deposits.XQ", "x-queue-type": "quorum",
                             "x-queue-leader-locator": "balanced",
                             "x-dead-letter-strategy": "at-least-once",
                             "x-overflow": "reject-publish"}


def test_classic_queues_and_unconfirmed_sends_are_settings_away():
    built = broker_of(BROKER_URL="amqp://mq1/wallet", BROKER_QUORUM_QUEUES="false",
                      BROKER_CONFIRM_DELIVERY="false")
    assert built["confirm"] is False
    assert built["args"] == {"x-dead-letter-exchange": "",
                             "x-dead-letter-routing-key": "deposits.XQ"}


def test_a_client_local_leader_is_taken_and_an_unknown_locator_or_boolean_refused():
    built = broker_of(BROKER_URL="amqp://mq1/wallet", BROKER_QUEUE_LEADER_LOCATOR="client-local")
    assert built["args"]["x-queue-leader-locator"] == "client-local"
    for name, value in (("BROKER_QUEUE_LEADER_LOCATOR", "min-masters"),
                        ("BROKER_QUORUM_QUEUES", "maybe"), ("BROKER_CONFIRM_DELIVERY", "2")):
        done = subprocess.run([sys.executable, "-c", "import settings"], cwd=ROOT,
                              env={**os.environ, name: value}, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode != 0 and name in done.stderr


def test_quorum_queues_leave_out_the_classic_arguments_quorum_refuses():
    from infra.broker import QuorumRabbitmqBroker
    from infra.broker.quorum import dead_letter_arguments

    broker = QuorumRabbitmqBroker(url="amqp://mq1/wallet", max_priority=5, middleware=[])
    args = broker._build_queue_arguments("deposits")
    assert "x-max-priority" not in args and args["x-queue-type"] == "quorum"
    assert dead_letter_arguments(quorum=True, leader_locator="balanced") == {
        "x-message-ttl": 7 * 86400000, "x-queue-type": "quorum",
        "x-queue-leader-locator": "balanced"}
    classic = QuorumRabbitmqBroker(url="amqp://mq1/wallet", quorum=False, max_priority=5,
                                   middleware=[])
    assert classic._build_queue_arguments("deposits")["x-max-priority"] == 5


def test_each_node_of_a_management_url_is_an_api_with_its_own_credentials_asked_in_order():
    from infra.broker import RabbitQueues

    built = broker_of(BROKER_URL="amqp://mq1/wallet",
                      RABBITMQ_MANAGEMENT_URL="http://a:b@mq1:15672 ; http://mq2:15673/rmq/;")
    assert built["management"] == ["http://a:b@mq1:15672", "http://mq2:15673/rmq/"]
    queues = RabbitQueues(lambda: None, "wallet", tuple(built["management"]), ("deposits",))
    assert queues.apis == (("http://mq1:15672/api", ("a", "b")),
                           ("http://mq2:15673/rmq/api", ("guest", "guest")))
    one = RabbitQueues(lambda: None, "wallet", "http://mq1:15672", ("deposits",))
    assert one.apis == (("http://mq1:15672/api", ("guest", "guest")),)
