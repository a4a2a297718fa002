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


def check_database() -> None:
    db.execute_sql("SELECT 1")


def check_database_server() -> None:
    """The server answers (the database itself may not exist yet)."""
    name, params = database_params(settings.DATABASE_URL)
    pymysql.connect(connect_timeout=TIMEOUT_S, **params).close()


def check_redis() -> None:
    cache.client.ping()


CHECKS = {"database": check_database, "redis": check_redis, "broker": broker.ping}
PREFLIGHT = {**CHECKS, "database": check_database_server}


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
