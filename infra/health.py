"""Reachability of the three services, for /readyz and for the Makefile's pre-flight."""
import pymysql

import settings
from infra import broker, cache
from models import database_params, db

HOW_TO_START = {
    "database": "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
    "redis": 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" '
             "--appendonly no",
    "broker": "rabbitmq-server -detached",
}
TIMEOUT_S = 2


# One round trip: whether this is a Galera node and, if so, whether it is part of the
# primary component (wsrep_ready) and synced with it (wsrep_local_state 4): a joining, donor
# or partitioned node must get no traffic, even though it may still answer queries.
# (Scalar subqueries: in an aggregate query MariaDB 10.11 reads @@global.wsrep_on as 0.)
GALERA_STATE_SQL = (
    "SELECT @@global.wsrep_on, "
    "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
    "WHERE VARIABLE_NAME = 'WSREP_READY'), "
    "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
    "WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE')")
GALERA_SYNCED = "4"
# What a load balancer must not send traffic without; Redis is only an accelerator, so its
# state is reported but never makes the process unready.
REQUIRED = ("database", "broker")


class NodeNotSynced(Exception):
    """Raised when the database is a Galera node outside the primary component or not
    synced with it."""


def galera_usable(wsrep_on: object, ready: object, local_state: object) -> bool:
    """Whether a node with these wsrep values may take traffic (any node without wsrep may)."""
    return not wsrep_on or (ready == "ON" and str(local_state) == GALERA_SYNCED)


def check_database() -> None:
    """The database answers and, if it is a Galera node, is synced in the primary component.

    Raises:
      NodeNotSynced: a Galera node that must not take traffic.
      peewee.OperationalError, peewee.InterfaceError: the database cannot be reached.
    """
    wsrep_on, ready, local_state = db.execute_sql(GALERA_STATE_SQL).fetchone()
    if not galera_usable(wsrep_on, ready, local_state):
        raise NodeNotSynced(f"wsrep_ready={ready}, wsrep_local_state={local_state}")


def check_database_server() -> None:
    """The server answers (the database itself may not exist yet)."""
    name, params = database_params(settings.DATABASE_URL)
    pymysql.connect(connect_timeout=TIMEOUT_S, **params).close()


def check_redis() -> None:
    cache.client.ping()


CHECKS = {"database": check_database, "redis": check_redis, "broker": broker.ping}
PREFLIGHT = {**CHECKS, "database": check_database_server}


def is_ready(state: dict[str, str]) -> bool:
    """Whether a load balancer should send this process traffic: the database and the
    broker are usable (whatever Redis says)."""
    return all(state.get(name) == "ok" for name in REQUIRED)


def readiness() -> dict[str, str]:
    """"ok" or "error" for each service."""
    state = {}
    for name, check in CHECKS.items():
        try:
            check()
            state[name] = "ok"
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            state[name] = "error"
    return state
