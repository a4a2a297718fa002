"""The scale test: the service on a 3-node Galera cluster behind HAProxy (one writer, two
backups) and a 3-node RabbitMQ cluster with quorum queues (tests/scale/cluster.py), with
two web processes behind HAProxy too, two workers and the sweeper (and a Redis of its own).

The migrations run through the proxy; a node that is not synced makes /readyz 503; and
transfers under load survive the SIGKILL of the Galera primary and of the RabbitMQ node
leading the transfers queue: every accepted request is settled exactly once, and the
ledger audit is clean.
"""
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import redis
import requests

from tests.helpers import (
    PASSWORD,
    ROOT,
    Client,
    free_port,
    process_env,
    redis_server,
    scratch_name,
    start_sweeper,
    start_web,
    start_worker,
    unique,
    wait_for,
)
from tests.scale.galera import GaleraCluster
from tests.scale.galera_clients import Load, accepted_on, post_from, settled, writer_node
from tests.scale.haproxy import HAProxy

pytestmark = pytest.mark.slow

USERS = 6
TRANSFERS = 120
CLIENT_THREADS = 8
KILL_AFTER_ACCEPTED = 40
STARTED = {}


@pytest.fixture(scope="module")
def galera():
    began = time.monotonic()
    cluster = GaleraCluster()
    try:
        cluster.start()
        STARTED["galera_s"] = time.monotonic() - began
        print(f"\nGalera cluster of 3 nodes synced in {STARTED['galera_s']:.1f} s "
              f"({', '.join(f'{k} {v:.1f} s' for k, v in cluster.timings.items())})")
        yield cluster
    finally:
        cluster.stop()


def manage(command: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def stack(galera, rabbit_cluster, log_dir):
    """HAProxy, the migrated database, two web processes, two workers and the sweeper, on
    the Galera and RabbitMQ clusters; yields (proxy, env, webs)."""
    web_ports = (free_port(), free_port())
    proxy = HAProxy(galera.sql_ports, web_ports)
    procs = []
    try:
        with redis_server() as redis_url:
            env = {"DATABASE_URL": f"{proxy.database_url_base}/{scratch_name('galera')}",
                   "DB_SESSION_VARIABLES": "wsrep_sync_wait=1",
                   "BROKER_URL": rabbit_cluster.url(),
                   "RABBITMQ_MANAGEMENT_URL": rabbit_cluster.management_url(),
                   "REDIS_URL": redis_url, "TRUSTED_PROXIES": "127.0.0.1",
                   "SWEEP_AFTER_S": "2", "SWEEP_EVERY_S": "1", "DB_POOL_SIZE": "24",
                   "WEB_THREADS": "16"}
            migrated = manage("migrate", process_env(**env))
            STARTED["migrate"] = migrated
            with ThreadPoolExecutor(2) as pool:  # each waits for its process to answer
                webs = list(pool.map(lambda port: start_web(log_dir, port=port, **env),
                                     web_ports))
            procs += [web for web, _ in webs]
            procs += [start_worker(log_dir, **env), start_worker(log_dir, **env),
                      start_sweeper(log_dir, **env)]
            wait_for(lambda: proxied_ready(proxy), timeout_s=30, what="HAProxy to see a web")
            yield proxy, env, [base for _, base in webs]
    finally:
        for proc in procs:  # all at once, then wait for each
            proc.kill(signal.SIGTERM)
        for proc in procs:
            proc.stop()
        proxy.stop()


def proxied_ready(proxy: HAProxy) -> bool:
    try:
        return requests.get(proxy.base_url + "/readyz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_the_migrations_run_on_the_cluster_through_haproxy(galera, stack):
    proxy, env, _ = stack
    done = STARTED["migrate"]
    assert done.returncode == 0, done.stdout + done.stderr
    # Then every node has the schema: the writer's DDL reached the backups
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    migrations = [f for f in os.listdir(os.path.join(ROOT, "migrations"))
                  if f[:3].isdigit() and f.endswith(".py")]
    for node in range(3):
        with galera.connect(node, database=name) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM migratehistory")
            assert cur.fetchone()[0] == len(migrations)


def test_a_primary_node_that_is_not_synced_makes_every_web_process_unready(galera, stack):
    proxy, _, webs = stack
    assert {requests.get(web + "/readyz", timeout=10).status_code for web in webs} == {200}
    # When the node the proxy writes to leaves the synced state (desynced, as a donor is)
    with galera.connect(0) as conn, conn.cursor() as cur:
        cur.execute("SET GLOBAL wsrep_desync = ON")
        try:
            wait_for(lambda: galera.state(0) != 4, timeout_s=10, what="node 1 to desync")
            answers = [requests.get(web + "/readyz", timeout=10) for web in webs]
        finally:
            cur.execute("SET GLOBAL wsrep_desync = OFF")
    # Then each web process says so, and a load balancer sends it nothing
    assert [a.status_code for a in answers] == [503, 503]
    assert [a.json()["database"] for a in answers] == ["error", "error"]
    wait_for(lambda: galera.state(0) == 4, timeout_s=10, what="node 1 to sync again")
    wait_for(lambda: proxied_ready(proxy), timeout_s=30, what="HAProxy to take the webs back")


def test_behind_haproxy_the_throttles_count_the_clients_address_not_the_proxys(stack):
    proxy, env, _ = stack
    counters = redis.Redis.from_url(env["REDIS_URL"])
    user = Client(proxy.base_url).sign_up()
    # When a client at 127.0.0.2 signs up and fails a login through the proxy, once with
    # an X-Forwarded-For of its own making
    signed_up = post_from("127.0.0.2", proxy.web_port, "/v1/users", {
        "email": f"{unique()}@example.com", "username": unique("user_"), "password": PASSWORD})
    wrong = [post_from("127.0.0.2", proxy.web_port, "/v1/auth/token",
                       {"email": user.email, "password": "not the password"}, **forged)
             for forged in ({}, {"X-Forwarded-For": "203.0.113.5"})]
    # Then the web processes (TRUSTED_PROXIES=127.0.0.1) counted both against 127.0.0.2,
    # the address the proxy saw, never against the proxy's or the forged one
    assert signed_up == 201 and wrong == [401, 401]
    assert counters.get("signup:ip:127.0.0.2") == b"1"
    assert counters.get("login:ip:127.0.0.2") == b"2"
    assert counters.get("login:ip:203.0.113.5") is None
    assert counters.get("login:ip:127.0.0.1") in (None, b"0")  # logins given back


def test_a_certification_conflict_is_a_1213_that_settlements_retry(galera, stack):
    import peewee

    from actors.options import retry_when

    # Given one row, and a transaction on node 3 that updated it and has not committed
    with galera.connect(0) as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS conflicts")
        cur.execute("CREATE TABLE IF NOT EXISTS conflicts.hot (id INT PRIMARY KEY, n INT)")
        cur.execute("REPLACE INTO conflicts.hot VALUES (1, 0)")
    loser = peewee.MySQLDatabase("conflicts", host="127.0.0.1", port=galera.sql_ports[2],
                                 user="root")
    loser.connect()
    loser.execute_sql("BEGIN")
    loser.execute_sql("UPDATE hot SET n = n + 10 WHERE id = 1")
    # When node 2 commits a change to the same row first
    with galera.connect(1) as conn, conn.cursor() as cur:
        cur.execute("UPDATE conflicts.hot SET n = n + 1 WHERE id = 1")
    # Then node 3's transaction loses certification as a deadlock (1213), which the
    # settling actors retry as they retry any OperationalError
    with pytest.raises(peewee.OperationalError) as lost:
        loser.execute_sql("COMMIT")
    loser.close()
    assert lost.value.args[0] == 1213
    assert retry_when(0, lost.value)


def test_transfers_under_load_survive_the_sigkill_of_the_galera_primary_and_the_queue_leader(
        galera, rabbit_cluster, stack):
    proxy, env, webs = stack
    began = time.monotonic()
    base = proxy.base_url
    users = [Client(base).sign_up() for _ in range(USERS)]
    wallets = [user.open_wallet()["id"] for user in users]
    for user, wallet in zip(users, wallets, strict=True):
        assert settled(user, user.deposit(wallet, "1000.00")["id"])["status"] == "succeeded"
    total = sum(Decimal(user.wallet(w)["balance"]) for user, w in zip(users, wallets,
                                                                      strict=True))
    assert writer_node(proxy) == "n1"
    # When transfers run through two web processes and the Galera primary and the RabbitMQ
    # node leading the transfers queue are SIGKILLed together
    load = Load(base, users, wallets, kill_after=KILL_AFTER_ACCEPTED)
    pool = ThreadPoolExecutor(CLIENT_THREADS)
    try:
        futures = [pool.submit(load.transfer, i) for i in range(TRANSFERS)]
        assert load.enough.wait(120), "too few transfers accepted before the kill"
        leader = rabbit_cluster.node(rabbit_cluster.leaders()["transfers"])
        galera.kill(0)
        rabbit_cluster.kill(leader)
        killed_at = time.monotonic()
        for future in futures:
            future.result()
    finally:
        load.stop.set()
        pool.shutdown(cancel_futures=True)
    accepted_s = time.monotonic() - killed_at
    # Then the proxy writes to the first backup, the only writer now, and the transfers
    # queue has a new leader on a live node
    assert writer_node(proxy) == "n2"
    assert rabbit_cluster.leaders()["transfers"] != leader.name
    assert galera.cluster_size(1) == 2
    # And every accepted request settled, exactly once
    outcomes = {rid: settled(load.sender[rid], rid) for rid in load.accepted.values()}
    assert len(load.accepted) == TRANSFERS == len(set(load.accepted.values()))
    assert {o["status"] for o in outcomes.values()} == {"succeeded"}
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    with galera.connect(2, database=name) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM transaction_requests WHERE type = 'transfer'")
        assert cur.fetchone()[0] == TRANSFERS  # no retried key made a second request
        cur.execute("SELECT request_id, COUNT(*) FROM transactions GROUP BY request_id")
        entries = dict(cur.fetchall())
    assert {entries.get(rid) for rid in load.accepted.values()} == {2}
    assert sum(Decimal(u.wallet(w)["balance"]) for u, w in zip(users, wallets,
                                                                strict=True)) == total
    # And the ledger audit, run on the cluster through the proxy, finds nothing
    audit = manage("audit", process_env(**env))
    assert audit.returncode == 0, audit.stdout + audit.stderr
    # And each web process counts what it accepted on its own /metrics (scrape each)
    per_process = [accepted_on(web, "transfer") for web in webs]
    # (newly accepted ones: a retry that found its request recorded is a replay, not counted)
    assert all(count > 0 for count in per_process)
    assert sum(per_process) == TRANSFERS - load.replayed
    print(f"\n{TRANSFERS} transfers through 2 web processes; Galera node 1 and RabbitMQ node "
          f"{leader.name} SIGKILLed after "
          f"{KILL_AFTER_ACCEPTED} accepted; tries refused meanwhile: {dict(load.refused)}, "
          f"accepted by a replay: {load.replayed}; "
          f"the rest accepted {accepted_s:.1f} s after the kill; whole test "
          f"{time.monotonic() - began:.1f} s (cluster start {STARTED['galera_s']:.1f} s)")
