"""Shared test helpers: unique users, an HTTP client for the API, and process control."""
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Process logs and other test artifacts (git-ignored).
ARTIFACTS = os.path.join(ROOT, "tests", "artifacts")
PASSWORD = "correct horse battery"


def install_mariadb(datadir: str) -> None:
    """A new MariaDB data folder at `datadir` (root without a password, no test db), for a
    server of a test's own (`mariadbd_argv`)."""
    done = subprocess.run(
        ["mariadb-install-db", "--no-defaults", "--user=root", f"--datadir={datadir}",
         "--auth-root-authentication-method=normal", "--skip-test-db",
         "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"mariadb-install-db failed:\n{done.stdout}{done.stderr}"


def mariadbd_argv(datadir: str, port: int) -> list[str]:
    """A mariadbd over `datadir` listening on 127.0.0.1:`port` only, its socket, pid file
    and error log (`err.log`) in the folder; the caller adds its own options."""
    return ["mariadbd", "--no-defaults", "--user=root", f"--datadir={datadir}",
            f"--socket={datadir}/mysqld.sock", f"--pid-file={datadir}/mysqld.pid",
            f"--log-error={datadir}/err.log", f"--port={port}", "--bind-address=127.0.0.1"]


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Ports a server of the tests' own listens on for the whole test, restarts included: below
# Linux's ephemeral ports (32768-60999), so no outgoing connection takes one meanwhile.
LISTEN_PORT_RANGE = (20000, 32000)


def listen_ports(count: int) -> list[int]:
    """`count` distinct ports free now, below the ephemeral range (see LISTEN_PORT_RANGE)."""
    taken: list[int] = []
    while len(taken) < count:
        port = random.randint(*LISTEN_PORT_RANGE)
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.append(port)
    return taken


def process_env(**extra: str) -> dict:
    """The environment for a web or worker subprocess: the test settings, the real broker."""
    env = dict(os.environ)
    env["BROKER_URL"] = os.environ["REAL_BROKER_URL"]
    env.update(extra)
    if env.get("WALLET_ENV") != "test":
        # The tests' cheap password hashing stops any other environment from starting.
        env.pop("PASSWORD_HASH_PROFILE", None)
    return env


def run_database() -> str:
    """This run's database (DATABASE_URL's), whose name the run's scratch names derive from."""
    return urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")


def scratch_name(purpose: str) -> str:
    """A database or RabbitMQ vhost name of this run's own for `purpose`: the run's
    database name with `_<purpose>` before its `_test` (wallet_test gives wallet_ops_test),
    so two runs with different DATABASE_URLs never share one."""
    return f"{run_database().removesuffix('_test')}_{purpose}_test"


def broker_url(vhost: str) -> str:
    """The real broker's URL on another virtual host."""
    return urlunsplit(urlsplit(os.environ["REAL_BROKER_URL"])._replace(path="/" + vhost))


# A test needing a whole Redis database (a Redis broker, the chaos run's cache) takes the
# run's own REDIS_URL db plus this: runs whose REDIS_URL dbs differ (and are below 8) never
# share one.
SCRATCH_REDIS_DB_OFFSET = 8


def scratch_redis_url() -> str:
    """A Redis database of this run's own beside REDIS_URL's (see SCRATCH_REDIS_DB_OFFSET)."""
    parts = urlsplit(os.environ["REDIS_URL"])
    own = int(parts.path.lstrip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(own + SCRATCH_REDIS_DB_OFFSET) % 16}"))


@contextlib.contextmanager
def own_vhost() -> Iterator[str]:
    """The real broker's URL on a RabbitMQ virtual host of its own, which lives as long as
    the block: no other test's worker takes its messages, and none are left behind."""
    import manage

    name = unique(f"{run_database()}_")
    assert manage.vhost(name, check_types=False) == 0, (
        f"could not create the RabbitMQ vhost {name} with rabbitmqctl; start RabbitMQ with: "
        "rabbitmq-server -detached")
    try:
        yield broker_url(name)
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True,
                       timeout=60)


@contextlib.contextmanager
def redis_server(*args: str, port: int | None = None) -> Iterator[str]:
    """A Redis server of its own (Debian's redis-server) on `port` (a free one by default),
    with `args` added to its command line, stopped on the way out; yields its URL. For
    faults that must not touch the machine's Redis: a full one, one that refuses writes for
    a while, one stopped and started again."""
    import redis

    port = port or free_port()
    folder = tempfile.mkdtemp(prefix="wallet-redis-")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", folder, *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        wait_for(lambda: _answers(client), timeout_s=10, what="redis-server to answer")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def one_node_cluster() -> Iterator[str]:
    """A Redis Cluster of one node of its own holding every slot; yields its URL."""
    import redis

    folder = tempfile.mkdtemp(prefix="wallet-redis-cluster-")
    try:
        with redis_server("--cluster-enabled", "yes", "--cluster-port", str(free_port()),
                          "--cluster-config-file", os.path.join(folder, "nodes.conf")) as url:
            node = redis.Redis.from_url(url)
            node.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
            wait_for(lambda: b"cluster_state:ok" in node.execute_command("CLUSTER", "INFO"),
                     timeout_s=20, what="the one-node Redis cluster to be ok")
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _answers(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.ResponseError:
        return True  # it answers, if only with an error (the test wanted one that does)
    except redis.ConnectionError:
        return False


def wait_for(condition, *, timeout_s: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` if it never does."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Process:
    """A real service process (web, worker, sweeper) with its output in a log file."""

    def __init__(self, name: str, argv: list[str], *, env: dict, log_dir: str,
                 scratch_dirs: tuple[str, ...] = ()) -> None:
        self.name = name
        self.scratch_dirs = scratch_dirs  # removed once the process has stopped
        self.log_path = os.path.join(log_dir, f"{name}-{uuid.uuid4().hex[:6]}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.prometheus_port: int | None = None  # a worker's exposition server

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout_s: float = 15) -> None:
        """SIGTERM, then SIGKILL if it does not stop in time."""
        if self.proc.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
        for path in self.scratch_dirs:
            shutil.rmtree(path, ignore_errors=True)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


def start_web(log_dir: str, *, port: int | None = None, **env: str) -> tuple[Process, str]:
    port = port or free_port()
    web = Process("web", [sys.executable, "api.py"],  # as the Procfile runs it
                  env=process_env(PORT=str(port), **{"AMQP_HEARTBEAT_S": "0", **env}),
                  log_dir=log_dir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if web.proc.poll() is not None:
            raise RuntimeError(f"web exited early:\n{web.output()}")
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return web, base
        except requests.RequestException:
            time.sleep(0.1)
    web.stop()
    raise RuntimeError(f"web did not come up:\n{web.output()}")


def start_worker(log_dir: str, *, threads: int = 4, queues: tuple[str, ...] = (),
                 **env: str) -> Process:
    """A `dramatiq` worker as the Procfile runs it (every queue, or only `queues`); unless
    `env` says otherwise, its Prometheus exposition server listens on a free local port
    (`proc.prometheus_port`) with files of its own."""
    dramatiq = os.path.join(os.path.dirname(sys.executable), "dramatiq")
    scratch = tempfile.mkdtemp(prefix="wallet-dramatiq-prom-")
    prometheus = {"dramatiq_prom_host": "127.0.0.1", "dramatiq_prom_port": str(free_port()),
                  "dramatiq_prom_db": scratch}
    worker = Process("worker", [dramatiq, "--skip-logging", "--processes", "1", "--threads",
                                str(threads), "actors.worker",
                                *(("--queues", *queues) if queues else ())],
                     env=process_env(**{**prometheus, **env}), log_dir=log_dir,
                     scratch_dirs=(scratch,))
    worker.prometheus_port = int({**prometheus, **env}["dramatiq_prom_port"])
    return worker


def start_sweeper(log_dir: str, **env: str) -> Process:
    return Process("sweeper", [sys.executable, "-m", "payments.sweep"], env=process_env(**env),
                   log_dir=log_dir)


class Client:
    """A user of the API over real HTTP."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.token: str | None = None
        self.email = self.username = None
        self.password = PASSWORD

    def call(self, method: str, path: str, *, json=None, key: str | None = None,
             headers: dict | None = None, **kwargs) -> requests.Response:
        hdrs = dict(headers or {})
        if self.token and "Authorization" not in hdrs:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if key is not None:
            hdrs["Idempotency-Key"] = key
        return self.http.request(method, self.base + path, json=json, headers=hdrs,
                                 timeout=60, **kwargs)

    def sign_up(self, *, password: str = PASSWORD) -> "Client":
        self.username = unique("user_")
        self.email = f"{self.username}@example.com"
        self.password = password
        res = self.call("POST", "/v1/users", json={"email": self.email, "username": self.username,
                                                   "password": password})
        assert res.status_code == 201, res.text
        self.user_id = res.json()["id"]
        return self.log_in()

    def log_in(self) -> "Client":
        res = self.call("POST", "/v1/auth/token", json={"email": self.email,
                                                         "password": self.password})
        assert res.status_code == 200, res.text
        self.token = res.json()["access_token"]
        return self

    def open_wallet(self, currency: str = "USD") -> dict:
        res = self.call("POST", "/v1/wallets", json={"currency": currency}, key=unique("w"))
        assert res.status_code == 201, res.text
        return res.json()

    def move(self, path: str, body: dict) -> dict:
        res = self.call("POST", path, json=body, key=unique("k"))
        assert res.status_code == 202, res.text
        return res.json()

    def deposit(self, wallet_id: int, amount: str) -> dict:
        return self.move(f"/v1/wallets/{wallet_id}/deposits", {"amount": amount})

    def withdraw(self, wallet_id: int, amount: str) -> dict:
        return self.move(f"/v1/wallets/{wallet_id}/withdrawals", {"amount": amount})

    def transfer(self, source: int, target: int, amount: str) -> dict:
        return self.move("/v1/transfers", {"from_wallet_id": source, "to_wallet_id": target,
                                           "amount": amount})

    def settled(self, request_id: int, *, wait_s: int = 30) -> dict:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            res = self.call("GET", f"/v1/requests/{request_id}?wait={wait_s}")
            assert res.status_code == 200, res.text
            if res.json()["status"] != "pending":
                return res.json()
        raise AssertionError(f"request {request_id} still pending after 120 s")

    def wallet(self, wallet_id: int) -> dict:
        res = self.call("GET", f"/v1/wallets/{wallet_id}")
        assert res.status_code == 200, res.text
        return res.json()


def is_problem(res: requests.Response, status: int, code: str) -> bool:
    """The response is an RFC 9457 problem with this status and code."""
    assert res.status_code == status, f"{res.status_code} {res.text}"
    assert res.headers["Content-Type"].startswith("application/problem+json"), res.headers
    body = res.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["title"] and body["type"] and res.headers.get("X-Request-Id")
    return True
