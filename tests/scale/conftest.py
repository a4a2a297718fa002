"""The scale tests' own clusters, started by the tests and torn down after them."""
import pytest

from tests.scale.cluster import RabbitCluster

# A node now and then exits while booting, or a cluster never forms (each seen once in a
# full run; the logs of such a start are kept in tests/artifacts): a fresh cluster, on fresh
# ports, is tried before the module fails.
START_ATTEMPTS = 3


def start_cluster() -> RabbitCluster:
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return RabbitCluster(3).start()
        except RuntimeError as exc:
            if attempt == START_ATTEMPTS:
                raise
            print(f"\nRabbitMQ cluster start {attempt} failed ({exc}); trying a fresh one")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def rabbit_cluster():
    """A 3-node RabbitMQ cluster of this run's own (tests/scale/cluster.py), one per module:
    a module's tests SIGKILL its nodes."""
    cluster = start_cluster()
    print(f"\nRabbitMQ cluster of 3 nodes started in {cluster.started_s:.1f} s")
    try:
        yield cluster
    finally:
        cluster.stop()
