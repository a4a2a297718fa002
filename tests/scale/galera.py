"""A real 3-node MariaDB Galera cluster of the test's own, from Debian's `galera-4`.

Each node is a `mariadbd --wsrep-on` with its own datadir under a temporary folder and its
own ports (SQL, group communication, IST and SST, picked free for each cluster, so two
runs side by side do not meet); none touches the machine's MariaDB on 3306. The first node
bootstraps the cluster (`--wsrep-new-cluster`), the others join it one after the other by
rsync SST.
Small buffer pool and log, no durability flushes: a test cluster, started in seconds.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pymysql

from tests.helpers import install_mariadb, listen_ports, mariadbd_argv

PROVIDER = "/usr/lib/galera/libgalera_smm.so"
SYNCED = 4
START_ATTEMPTS = 3
# Galera's own failure detection timeouts (shorter ones, on 2 shared cores, let the two
# survivors time out each other's view installation and stay non-primary for good).
GROUP_OPTIONS = "gcache.size=16M"
SERVER_OPTIONS = ("--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M",
                  "--innodb-flush-log-at-trx-commit=0", "--performance-schema=OFF",
                  "--skip-log-bin", "--binlog-format=ROW", "--innodb-autoinc-lock-mode=2",
                  "--default-storage-engine=InnoDB", "--skip-name-resolve",
                  "--max-connections=400")


class GaleraCluster:
    """Three Galera nodes; `start()` returns once all three are synced."""

    def __init__(self, name: str = "wallet") -> None:
        self.name = name
        self.folder = tempfile.mkdtemp(prefix="wallet-galera-")
        self.procs: list[subprocess.Popen | None] = [None, None, None]
        # Each node's ports, kept across its restarts.
        ports = listen_ports(12)
        self.sql_ports, self.group_ports = ports[0:3], ports[3:6]
        self.ist_ports, self.sst_ports = ports[6:9], ports[9:12]

    def datadir(self, i: int) -> str:
        return os.path.join(self.folder, f"n{i + 1}")

    def log(self, i: int) -> str:
        """The error log of node `i` (0-based)."""
        path = os.path.join(self.datadir(i), "err.log")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read()

    def start(self) -> None:
        began = time.monotonic()
        self._install()
        self.timings = {"install": time.monotonic() - began}
        self._start_node(0, "--wsrep-new-cluster")
        for i in (0, 1, 2):
            if i:  # one joiner at a time: the donor serves one rsync SST at once
                self._start_node(i)
            self.timings[f"n{i + 1}"] = time.monotonic() - began - sum(self.timings.values())

    def _install(self) -> None:
        first = self.datadir(0)
        install_mariadb(first)
        for i in (1, 2):
            shutil.copytree(first, self.datadir(i), symlinks=True)
        # A joiner's rsync daemon (started as root) writes as `nobody`.
        for i in range(3):
            os.chmod(self.datadir(i), 0o777)
            for root, dirs, files in os.walk(self.datadir(i)):
                for entry in dirs + files:
                    os.chmod(os.path.join(root, entry), 0o777 if entry in dirs else 0o666)

    def _argv(self, i: int) -> list[str]:
        datadir = self.datadir(i)
        # A joiner names the nodes started before it (trying nodes not started yet would
        # cost it seconds of reconnecting); the first names them all.
        group = self.group_ports
        peers = ",".join(f"127.0.0.1:{port}" for port in (group[:i] if i else group))
        return [*mariadbd_argv(datadir, self.sql_ports[i]), *SERVER_OPTIONS,
                "--wsrep-on=ON", f"--wsrep-provider={PROVIDER}",
                f"--wsrep-cluster-name={self.name}", f"--wsrep-node-name=n{i + 1}",
                f"--wsrep-cluster-address=gcomm://{peers}",
                f"--wsrep-node-address=127.0.0.1:{group[i]}",
                f"--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:{group[i]};"
                f"ist.recv_addr=127.0.0.1:{self.ist_ports[i]};{GROUP_OPTIONS}",
                "--wsrep-sst-method=rsync",
                f"--wsrep-sst-receive-address=127.0.0.1:{self.sst_ports[i]}"]

    def _start_node(self, i: int, *extra: str) -> None:
        deadline = time.monotonic() + 90
        for attempt in range(1, START_ATTEMPTS + 1):
            self.procs[i] = proc = subprocess.Popen(
                [*self._argv(i), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            while self.state(i) != SYNCED:
                assert time.monotonic() < deadline, \
                    f"Galera node {i + 1} did not sync:\n{self.log(i)[-4000:]}"
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
            else:
                return
            # galera-4 26.4 now and then aborts while it opens its group connection ("Failed
            # to read thread schedparams: No such process"); the datadir is untouched yet
            assert attempt < START_ATTEMPTS and "schedparams" in self.log(i), \
                f"Galera node {i + 1} exited:\n{self.log(i)[-4000:]}"

    def connect(self, i: int, **options) -> pymysql.connections.Connection:
        """A connection straight to node `i` (0-based), bypassing any proxy."""
        return pymysql.connect(host="127.0.0.1", port=self.sql_ports[i], user="root",
                               connect_timeout=2, autocommit=True, **options)

    def state(self, i: int) -> int | None:
        """Node `i`'s wsrep_local_state (4: synced), or None while it does not answer."""
        try:
            conn = self.connect(i)
        except pymysql.err.OperationalError:
            return None
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW STATUS LIKE 'wsrep_local_state'")
                row = cur.fetchone()
                return int(row[1]) if row else None
        finally:
            conn.close()

    def cluster_size(self, i: int) -> int:
        with self.connect(i) as conn, conn.cursor() as cur:
            cur.execute("SHOW STATUS LIKE 'wsrep_cluster_size'")
            return int(cur.fetchone()[1])

    def kill(self, i: int) -> None:
        """SIGKILL node `i` (0-based), as a crash would."""
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop(self) -> None:
        """SIGKILL every node (its data is thrown away) and remove the datadirs."""
        for i in range(3):
            self.kill(i)
        shutil.rmtree(self.folder, ignore_errors=True)
