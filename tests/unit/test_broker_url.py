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
