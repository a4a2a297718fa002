"""The nemesis: real faults on real processes and services, on a schedule.

Every fault has a matching repair, and `heal()` brings every service back whatever
happened, so a failing run never leaves the machine broken.
"""
import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable

import pymysql
import redis

from infra import health

log = logging.getLogger("nemesis")
READY_TIMEOUT_S = 90


def sh(command: str, *, timeout_s: float = 120) -> None:
    subprocess.run(command, shell=True, check=False, capture_output=True, timeout=timeout_s)


def _wait(probe: Callable[[], None], what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            probe()
            return
        except Exception as exc:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come back within {READY_TIMEOUT_S} s") \
                    from exc
            time.sleep(0.3)


def mariadb_up() -> None:
    pymysql.connect(host="127.0.0.1", user="root", connect_timeout=2).close()


def redis_up() -> None:
    redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).ping()


def rabbitmq_up() -> None:
    subprocess.run(["rabbitmqctl", "-q", "await_startup", "--timeout", "5"], check=True,
                   capture_output=True, timeout=30)
    import pika
    pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", socket_timeout=2)).close()


def restart_rabbitmq() -> None:
    """Stop the RabbitMQ node entirely, then start it again."""
    sh("rabbitmqctl -q shutdown", timeout_s=120)
    sh(health.HOW_TO_START["broker"])
    _wait(rabbitmq_up, "RabbitMQ")


def mariadbd_gone() -> None:
    if subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True).returncode == 0:
        raise RuntimeError("mariadbd is still running")


def error_log_tail(defaults: str, *, lines: int = 5) -> str:
    """The last `lines` lines of the error log that `defaults` (my_print_defaults' output for
    mysqld) names, or "" when it names none or it cannot be read."""
    path = next((option.split("=", 1)[1] for option in defaults.split()
                 if option.startswith("--log-error=")), None)
    try:
        with open(path or "", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def crash_mariadb() -> None:
    """SIGKILL mariadbd (a crash, not a clean shutdown), then start it again once the killed
    one has exited (start-stop-daemon's --oknodo would take a dying server for a live one).

    Raises:
      RuntimeError: when it does not come back, with the end of its error log (a server
        whose own crash recovery fails says so there).
    """
    sh("pkill -9 -x mariadbd")
    _wait(mariadbd_gone, "the killed mariadbd to exit")
    sh(health.HOW_TO_START["database"])
    try:
        _wait(mariadb_up, "MariaDB")
    except RuntimeError as exc:
        defaults = subprocess.run(["my_print_defaults", "--mysqld"], capture_output=True,
                                  text=True).stdout
        raise RuntimeError(f"{exc}; its error log ends:\n{error_log_tail(defaults)}") from exc


def flush_redis() -> None:
    redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).flushall()


def stop_redis() -> None:
    sh("redis-cli shutdown nosave")


def start_redis() -> None:
    sh(health.HOW_TO_START["redis"])
    _wait(redis_up, "Redis")


def heal() -> None:
    """Make sure every service runs, whatever state the run left them in."""
    for probe, start, what in ((mariadb_up, health.HOW_TO_START["database"], "MariaDB"),
                               (redis_up, health.HOW_TO_START["redis"], "Redis"),
                               (rabbitmq_up, health.HOW_TO_START["broker"], "RabbitMQ")):
        try:
            probe()
        except Exception:  # noqa: BLE001
            sh(start)
            _wait(probe, what)


class Schedule(threading.Thread):
    """Runs (at_s, name, action) faults in order; records when each happened."""

    def __init__(self, faults: list[tuple[float, str, Callable[[], None]]]) -> None:
        super().__init__(daemon=True, name="nemesis")
        self.faults = faults
        self.done: list[tuple[str, float, float]] = []  # name, started at, took
        self.errors: list[str] = []
        self.t0 = time.monotonic()

    def run(self) -> None:
        for at_s, name, action in self.faults:
            time.sleep(max(0.0, self.t0 + at_s - time.monotonic()))
            started = time.monotonic() - self.t0
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - record, and keep the schedule going
                self.errors.append(f"{name}: {exc}")
            self.done.append((name, started, time.monotonic() - self.t0 - started))
            log.warning("nemesis: %s at %.1f s", name, started)

    @property
    def last_fault_end(self) -> float:
        """Monotonic time the last fault was repaired."""
        return self.t0 + max((start + took for _, start, took in self.done), default=0.0)


def kill(process) -> None:
    process.kill(signal.SIGKILL)
    process.proc.wait(10)
