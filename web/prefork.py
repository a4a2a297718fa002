"""Several web processes on one port: WEB_PROCESSES copies of the app, forked from one parent.

The parent binds the listening socket once (so a port already taken fails it, as it fails a
single process) and forks the copies, which accept from that one socket; the parent only
watches them. One Python process answers with its threads taking turns on one GIL, and
under load a thread whose database answer has arrived waits for the others: two processes
halve that wait (bench/README.md, "several web processes"). The copies share nothing but
the socket and the metrics folder (`share_metrics`): every lasting fact is in MariaDB,
Redis or RabbitMQ already.

They live and die together, as one process would:
- SIGTERM or SIGINT to the parent is passed to every copy (each ends by it, as a single
  process does); once they are gone the parent exits 0;
- a copy that ends on its own ends the others, and the parent exits 1 (honcho, or whatever
  runs it, then sees the web process gone, as it would have seen a single one die);
- a parent that is SIGKILLed takes its copies with it (Linux's parent-death signal), so no
  orphan keeps answering on the port.
"""
import atexit
import ctypes
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable

import settings

log = logging.getLogger(__name__)

# prometheus_client's multiprocess mode: the folder every copy writes its metrics into.
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Linux's prctl(2) option for the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
LISTEN_BACKLOG = 1024


def share_metrics() -> None:
    """With several copies, give prometheus_client a fresh folder of this parent's, so that
    every copy counts into it and any copy's /metrics answers for all (see web.metrics).
    Call it before prometheus_client is first imported: the library decides then."""
    if settings.WEB_PROCESSES == 1:
        return
    folder = tempfile.mkdtemp(prefix="wallet-web-metrics-")
    os.environ[METRICS_DIR_ENV] = folder
    parent = os.getpid()
    atexit.register(lambda: os.getpid() == parent and shutil.rmtree(folder, ignore_errors=True))


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host`:`port` and listening.

    Raises:
      OSError: the address is taken or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress binds its own
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    return sock


def _die_with(parent: int) -> None:
    """SIGKILL this process when its parent dies (Linux), or now if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent:
        os._exit(1)


def _child(serve: Callable[[socket.socket], None], sock: socket.socket, parent: int) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    _die_with(parent)
    serve(sock)
    sys.exit(0)


def _stop(children: set[int]) -> None:
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def run(serve: Callable[[socket.socket], None], *, processes: int, host: str,
        port: int) -> None:
    """Serve with `processes` copies of this process, each calling `serve(sock)` on the
    same listening socket; one process serves in place.

    Parameters:
      serve: serves the socket until the process is stopped; called in each copy.
      processes: how many copies (WEB_PROCESSES).

    Raises:
      OSError: the address cannot be bound.
      SystemExit: in the parent, once every copy is gone: 0 when it was asked to stop,
        1 when a copy ended on its own.
    """
    sock = listening_socket(host, port)
    if processes == 1:
        serve(sock)
        return
    parent, children = os.getpid(), set()
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            _child(serve, sock, parent)  # never returns
        children.add(pid)
    sock.close()  # the copies hold it; the parent only watches them
    stopped_by: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopped_by.append(signum)
        _stop(children)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    log.info("Serving on %s:%d with %d web processes: %s.", host, port, processes,
             ", ".join(map(str, sorted(children))))
    code = 0
    while children:
        pid, status = os.wait()
        children.discard(pid)
        if not stopped_by and code == 0:
            log.error("Web process %d ended on its own (wait status %d); stopping the others.",
                      pid, status)
            code = 1
            _stop(children)
    sys.exit(code)
