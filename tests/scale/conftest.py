"""The scale tests' own clusters, started by the tests and torn down after them."""
import pytest

from tests.scale.cluster import RabbitCluster


@pytest.fixture(scope="module")
def rabbit_cluster():
    """A 3-node RabbitMQ cluster of this run's own (tests/scale/cluster.py), one per module:
    a module's tests SIGKILL its nodes."""
    cluster = RabbitCluster(3).start()
    print(f"\nRabbitMQ cluster of 3 nodes started in {cluster.started_s:.1f} s")
    try:
        yield cluster
    finally:
        cluster.stop()
