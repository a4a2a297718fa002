"""A RabbitMQ cluster of its own: three nodes of Debian's rabbitmq-server on one host.

Each node has its own name (`wsc<i>_<run>@localhost`), AMQP, distribution and management
ports (picked free below the kernel's ephemeral range, so no outgoing connection takes one
meanwhile) and data and log folders under one temporary folder, whose HOME holds the
cluster's Erlang cookie. Its configuration and rabbitmq-env files are its own too, so the
machine's `rabbit@localhost` (its /etc/rabbitmq, its cookie, its data) is never touched;
only epmd, Erlang's name server on port 4369, is shared, as every Erlang node on a host
shares it. The three start in parallel; nodes 2 and 3 join node 1 at boot through
RabbitMQ's classic peer discovery (retrying while node 1 is still booting), so no
`join_cluster` round of stop/start is needed. `stop()` SIGKILLs every node's process
group (only processes this class started) and removes the folder.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass

import pika
import requests

from tests.helpers import ARTIFACTS, listen_ports

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the real script, not Debian's su wrapper
# A cluster boots in 12-18 s here; one that is not clustered after this has hung (seen: a
# start that never clustered, retried by tests/scale/conftest.py after the full 90 s it then
# had), and its logs are kept in tests/artifacts/rabbit-cluster-<run>/.
BOOT_TIMEOUT_S = 45
# The feature flags the service's queues need: quorum queues, and (for their at-least-once
# dead-lettering) the stream queue flag.
NEEDED_FLAGS = ("quorum_queue", "stream_queue")


@dataclass
class Node:
    name: str
    amqp_port: int
    dist_port: int
    management_port: int
    folder: str
    proc: subprocess.Popen | None = None

    def url(self, vhost: str = "%2F") -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/{vhost}"

    def management_url(self) -> str:
        return f"http://guest:guest@127.0.0.1:{self.management_port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class RabbitCluster:
    """Three RabbitMQ nodes clustered together, started by `start()`, gone after `stop()`."""

    def __init__(self, size: int = 3) -> None:
        self.folder = tempfile.mkdtemp(prefix="wallet-rabbit-cluster-")
        run = uuid.uuid4().hex[:6]
        ports = iter(listen_ports(3 * size))
        self.nodes = [Node(f"wsc{i}_{run}@localhost", next(ports), next(ports), next(ports),
                           os.path.join(self.folder, f"node{i}")) for i in range(1, size + 1)]
        self.started_s = 0.0  # how long start() took

    def _write_files(self) -> None:
        home = os.path.join(self.folder, "home")
        os.makedirs(home)
        cookie = os.path.join(home, ".erlang.cookie")
        with open(cookie, "w") as f:
            f.write(uuid.uuid4().hex.upper())
        os.chmod(cookie, 0o400)
        with open(os.path.join(self.folder, "enabled_plugins"), "w") as f:
            f.write("[rabbitmq_management].\n")
        with open(os.path.join(self.folder, "rabbitmq-env.conf"), "w") as f:
            f.write("ERL_EPMD_ADDRESS=127.0.0.1\n")
        seed = self.nodes[0].name
        for i, node in enumerate(self.nodes):
            os.makedirs(node.folder)
            lines = [f"listeners.tcp.default = 127.0.0.1:{node.amqp_port}",
                     f"management.tcp.port = {node.management_port}",
                     "management.tcp.ip = 127.0.0.1"]
            if i:  # join the first node at boot, waiting for it up to a minute
                lines += ["cluster_formation.peer_discovery_backend = classic_config",
                          f"cluster_formation.classic_config.nodes.1 = {seed}",
                          "cluster_formation.discovery_retry_limit = 240",
                          "cluster_formation.discovery_retry_interval = 250"]
            with open(node.folder + ".conf", "w") as f:
                f.write("\n".join(lines) + "\n")

    def _env(self, node: Node) -> dict:
        return {**os.environ, "HOME": os.path.join(self.folder, "home"),
                "RABBITMQ_NODENAME": node.name, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(node.amqp_port),
                "RABBITMQ_DIST_PORT": str(node.dist_port),
                "RABBITMQ_MNESIA_BASE": os.path.join(node.folder, "mnesia"),
                "RABBITMQ_LOG_BASE": os.path.join(node.folder, "log"),
                "RABBITMQ_CONFIG_FILE": node.folder + ".conf",
                "RABBITMQ_ADVANCED_CONFIG_FILE": node.folder + ".advanced.config",
                "RABBITMQ_CONF_ENV_FILE": os.path.join(self.folder, "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.folder, "enabled_plugins")}

    def start(self) -> "RabbitCluster":
        """Boot every node at once and return when all of them are clustered and serve AMQP
        and the management API."""
        began = time.monotonic()
        self._write_files()
        for node in self.nodes:
            with open(node.folder + ".out", "wb") as out:
                node.proc = subprocess.Popen([SERVER], env=self._env(node), stdout=out,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while not self._clustered():
            dead = [n.name for n in self.nodes if not n.alive]
            if dead or time.monotonic() > deadline:
                self._keep_logs()
                self.stop()
                raise RuntimeError(f"the RabbitMQ cluster did not start (exited: {dead}); "
                                   f"see the logs under {self.folder}")
            time.sleep(0.2)
        self.started_s = time.monotonic() - began
        return self

    def _keep_logs(self) -> None:
        """Copy each node's console output and logs to tests/artifacts (stop() removes
        the folder)."""
        kept = os.path.join(ARTIFACTS, f"rabbit-cluster-{os.path.basename(self.folder)}")
        for node in self.nodes:
            name = os.path.basename(node.folder)
            os.makedirs(os.path.join(kept, name), exist_ok=True)
            if os.path.exists(node.folder + ".out"):
                shutil.copy(node.folder + ".out", os.path.join(kept, name, "console.out"))
            if os.path.isdir(os.path.join(node.folder, "log")):
                shutil.copytree(os.path.join(node.folder, "log"),
                                os.path.join(kept, name, "log"), dirs_exist_ok=True)

    def _clustered(self) -> bool:
        names = {n.name for n in self.nodes}
        try:
            for node in self.nodes:
                pika.BlockingConnection(pika.URLParameters(
                    node.url() + "?connection_attempts=1&socket_timeout=1")).close()
            running = {n["name"] for n in self.api(self.nodes[0], "/nodes") if n["running"]}
            # A fresh cluster enables its feature flags a moment after its nodes run, and
            # refuses quorum queues until then.
            flags = {f["name"]: f["state"] for f in self.api(self.nodes[0], "/feature-flags")}
            return running == names and all(flags.get(f) == "enabled" for f in NEEDED_FLAGS)
        except (pika.exceptions.AMQPError, requests.RequestException, OSError):
            return False

    def api(self, node: "Node", path: str):
        """GET the management API of `node`."""
        res = requests.get(f"http://127.0.0.1:{node.management_port}/api{path}",
                           auth=("guest", "guest"), timeout=5)
        res.raise_for_status()
        return res.json()

    def url(self, vhost: str = "%2F", *, first: "Node | None" = None) -> str:
        """The cluster's BROKER_URL: every node, `;`-separated, `first` first."""
        return ";".join(n.url(vhost) for n in self._ordered(first))

    def management_url(self, *, first: "Node | None" = None) -> str:
        """The cluster's RABBITMQ_MANAGEMENT_URL, `first` first."""
        return ";".join(n.management_url() for n in self._ordered(first))

    def _ordered(self, first: "Node | None") -> list["Node"]:
        return sorted(self.nodes, key=lambda n: n is not first)

    def leaders(self, vhost: str = "%2F") -> dict[str, str]:
        """Queue name -> the node holding its leader, as a live node tells it."""
        live = next(n for n in self.nodes if n.alive)
        return {q["name"]: q.get("leader", q.get("node"))
                for q in self.api(live, f"/queues/{vhost}")}

    def node(self, name: str) -> "Node":
        return next(n for n in self.nodes if n.name == name)

    def kill(self, node: "Node") -> None:
        """SIGKILL the node: its whole process group, no goodbye to its peers."""
        if node.alive:
            assert node.proc is not None
            os.killpg(node.proc.pid, signal.SIGKILL)
            node.proc.wait(10)

    def stop(self) -> None:
        for node in self.nodes:
            if node.alive:
                self.kill(node)
        shutil.rmtree(self.folder, ignore_errors=True)
