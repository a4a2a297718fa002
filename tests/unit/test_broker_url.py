"""Broker URLs get fail-fast connection defaults, node by node."""
from actors.broker import AMQP_DEFAULTS, _amqp_url


def test_a_single_url_gets_every_default():
    url = _amqp_url("amqp://guest:guest@127.0.0.1:5672/%2F")
    assert url.startswith("amqp://guest:guest@127.0.0.1:5672/%2F?")
    assert all(f"{k}={v}" in url for k, v in AMQP_DEFAULTS.items())


def test_each_node_of_a_cluster_gets_the_defaults_and_keeps_its_own_settings():
    urls = _amqp_url("amqp://mq1/wallet;amqp://mq2/wallet?heartbeat=10").split(";")
    assert len(urls) == 2
    assert urls[0].startswith("amqp://mq1/wallet?") and "heartbeat=30" in urls[0]
    assert urls[1].startswith("amqp://mq2/wallet?heartbeat=10&") and "heartbeat=30" not in urls[1]
    assert all("connection_attempts=1" in url for url in urls)
