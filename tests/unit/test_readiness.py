"""Readiness for a load balancer: what takes a process or a Galera node out of rotation."""
import pytest

from infra import health
from models import session_command


@pytest.mark.parametrize(("wsrep_on", "ready", "local_state", "usable"), [
    (0, "OFF", None, True),       # a plain MariaDB: no wsrep at all
    (1, "ON", "4", True),         # a synced node of the primary component
    (1, "ON", "2", False),        # a donor (or desynced) node
    (1, "ON", "1", False),        # joining
    (1, "OFF", "0", False),       # outside the primary component
])
def test_a_galera_node_takes_traffic_only_when_synced_in_the_primary_component(
        wsrep_on, ready, local_state, usable):
    assert health.galera_usable(wsrep_on, ready, local_state) is usable


def test_redis_down_leaves_a_process_ready_but_the_database_or_broker_do_not():
    assert health.is_ready({"database": "ok", "redis": "error", "broker": "ok"})
    assert not health.is_ready({"database": "error", "redis": "ok", "broker": "ok"})
    assert not health.is_ready({"database": "ok", "redis": "ok", "broker": "error"})


def test_every_connection_reads_committed_then_sets_the_configured_variables():
    assert session_command({}) == "SET SESSION tx_isolation = 'READ-COMMITTED'"
    assert session_command({"wsrep_sync_wait": "1", "time_zone": "UTC"}) == (
        "SET SESSION tx_isolation = 'READ-COMMITTED', wsrep_sync_wait = 1, time_zone = 'UTC'")
