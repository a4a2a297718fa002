"""HAProxy (Debian's `haproxy`, installed when missing) as a foreground process of the
test's own, with a generated configuration: the README's, on free ports.

- `galera`: TCP, one primary and two backups (a single writer); a node that stops
  accepting connections is out after two failed checks 500 ms apart, its sessions cut,
  and the first backup takes every connection; a primary that comes back takes new
  connections again and the backup's sessions are cut, so there is still one writer.
- `web`: HTTP, round robin over the web processes, each checked with `GET /readyz`
  (503 takes a process out), `X-Forwarded-For` added.
"""
import os
import shutil
import signal
import subprocess
import tempfile

from tests.helpers import free_port, wait_for

CONFIG = """global
    maxconn 4000

defaults
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout check 1s

listen galera
    bind 127.0.0.1:{db_port}
    mode tcp
    option tcpka
    default-server {db_checks}
{db_servers}

listen web
    bind 127.0.0.1:{web_port}
    mode http
    balance roundrobin
    option forwardfor
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 1
{web_servers}
"""


DB_CHECKS = ("inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions "
             "on-marked-up shutdown-backup-sessions")


def ensure_installed() -> None:
    """Install Debian's haproxy if it is missing (as the Makefile does for wrk)."""
    if shutil.which("haproxy") is None:
        subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                       "apt-get install -y -qq haproxy", shell=True, check=True, timeout=600)


def config(db_port: int, sql_ports: tuple[int, ...], web_port: int,
           web_ports: tuple[int, ...]) -> str:
    """The configuration: the first SQL port is the primary, the others its backups."""
    db_servers = "\n".join(
        f"    server n{i + 1} 127.0.0.1:{port} check{' backup' if i else ''}"
        for i, port in enumerate(sql_ports))
    web_servers = "\n".join(f"    server w{i + 1} 127.0.0.1:{port} check"
                            for i, port in enumerate(web_ports))
    return CONFIG.format(db_port=db_port, db_checks=DB_CHECKS, db_servers=db_servers,
                         web_port=web_port, web_servers=web_servers)


class HAProxy:
    """HAProxy in front of the Galera nodes and the web processes."""

    def __init__(self, sql_ports: tuple[int, ...], web_ports: tuple[int, ...]) -> None:
        ensure_installed()
        self.db_port, self.web_port = free_port(), free_port()
        self.folder = tempfile.mkdtemp(prefix="wallet-haproxy-")
        self.config_path = os.path.join(self.folder, "haproxy.cfg")
        with open(self.config_path, "w") as f:
            f.write(config(self.db_port, sql_ports, self.web_port, web_ports))
        self.log_path = os.path.join(self.folder, "haproxy.log")
        self.log = open(self.log_path, "wb")
        # -db: stay in the foreground, no daemon
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_for(self._listens, timeout_s=20, what="HAProxy to listen")

    def _listens(self) -> bool:
        import socket

        assert self.proc.poll() is None, f"haproxy exited:\n{self.output()}"
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.db_port)) == 0

    @property
    def database_url_base(self) -> str:
        return f"mysql://root@127.0.0.1:{self.db_port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def output(self) -> str:
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
