"""The system under test: a fresh, isolated namespace and the Procfile's processes.

`prepare` empties the run's database (via `manage.py reset-test-db`), RabbitMQ vhost and
Redis db. `Stack` runs `honcho start` over the Procfile (web, N workers, sweeper) with its
output in one log; `WebProcess` runs one more web process with other settings (cache off).
"""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

import redis

from bench import cpu
from bench.config import PYTHON, ROOT, VENV_BIN, Namespace

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
READY_LINE = "Worker process is ready for action."
STARTED = re.compile(r"\| (\w+)\.\d+ started \(pid=(\d+)\)")
# The settings honcho is handed in its env file, so that a developer's .env never leaks in.
ENV_FILE_KEYS = ("WALLET_ENV", "DATABASE_URL", "BROKER_URL", "REDIS_URL", "JWT_SECRET", "PORT",
                 "LOGIN_MAX_FAILURES_PER_IP", "SIGNUP_MAX_PER_IP", "LOG_LEVEL",
                 "PYTHONUNBUFFERED")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _manage(env: dict, *args: str) -> None:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def prepare(namespace: Namespace, env: dict) -> None:
    """Start the run from nothing: a re-migrated database, an empty vhost and Redis db."""
    _manage(env, "reset-test-db")
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", namespace.vhost], capture_output=True,
                   timeout=60)  # absent the first time: fine
    _manage(env, "vhost", namespace.vhost)
    flush_redis(namespace)


def flush_redis(namespace: Namespace) -> None:
    redis.Redis.from_url(namespace.redis_url).flushdb()


def wait_healthy(base_url: str, proc: subprocess.Popen, log_path: str) -> None:
    """Return once GET /healthz answers 200; raise if the process dies or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the stack exited early; see {log_path}")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=1) as res:
                if res.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{base_url}/healthz did not answer in {START_TIMEOUT_S}s; see {log_path}")


def _children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


class Stack:
    """web=1, worker=N, sweeper=1 from the Procfile, under honcho, logging to one file."""

    def __init__(self, run_dir: str, env: dict, *, workers: int) -> None:
        self.env, self.workers = env, workers
        self.log_path = os.path.join(run_dir, "stack.log")
        self.env_path = os.path.join(run_dir, "bench.env")
        self.base_url = f"http://127.0.0.1:{env['PORT']}"
        self.proc: subprocess.Popen | None = None
        self.started = 0  # where in the log the latest start begins

    def start(self) -> None:
        """Start honcho and wait for the web process and every worker to be ready (again
        after a `stop`: the log goes on)."""
        self.started = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        with open(self.env_path, "w") as f:
            f.writelines(f"{key}={self.env[key]}\n" for key in ENV_FILE_KEYS)
        argv = [os.path.join(VENV_BIN, "honcho"), "start", "-f", "Procfile", "-e", self.env_path,
                "--no-colour", "-c", f"web=1,worker={self.workers},sweeper=1"]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_healthy(self.base_url, self.proc, self.log_path)
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.since(self.started).count(READY_LINE) < self.workers:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the workers did not start; see {self.log_path}")
            time.sleep(0.2)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each process type (web, worker, sweeper; all copies),
        by honcho itself, and by the shared services (bench/cpu.py)."""
        roots: dict[str, list[int]] = {}
        for name, pid in STARTED.findall(self.since(self.started)):
            roots.setdefault(name, []).append(int(pid))
        return cpu.seconds(roots, {"honcho": [self.proc.pid] if self.proc else []})

    def mark(self) -> int:
        """A position in the log, for `since`."""
        self.log.flush()
        return os.path.getsize(self.log_path)

    def since(self, mark: int) -> str:
        """What the stack logged after `mark`."""
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM to honcho (which stops its children), SIGKILL whatever outlives the wait."""
        if self.proc is None or self.proc.poll() is not None:
            return
        children = _children(self.proc.pid)  # each in its own session: honcho's choice
        _terminate(self.proc)
        for child in children:
            _kill_group(child, signal.SIGKILL)
        self.log.close()


def _terminate(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL if it outlives STOP_TIMEOUT_S."""
    _kill_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait(5)


class WebProcess:
    """One more `python api.py`, with its own settings and log."""

    def __init__(self, run_dir: str, env: dict, *, name: str) -> None:
        self.env = env
        self.log_path = os.path.join(run_dir, f"{name}.log")
        self.base_url = f"http://127.0.0.1:{env['PORT']}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([PYTHON, "api.py"], cwd=ROOT, env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_healthy(self.base_url, self.proc, self.log_path)

    def output(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        _terminate(self.proc)
        self.log.close()
