"""Dramatiq's Prometheus middleware for the worker processes (never the web process).

The middleware reads `dramatiq_prom_host`, `dramatiq_prom_port` and `dramatiq_prom_db`
from the environment when it is imported (the Procfile sets them per worker instance).
Once a worker process has booted, the `dramatiq` CLI's main process forks the
middleware's exposition server, which serves what every worker process of that
instance wrote into the `dramatiq_prom_db` directory.
"""
import os
import re

import dramatiq

# prometheus_client's multiprocess files are named `<kind>_<pid>.db`.
PID_FILE = re.compile(r"[a-z_]+_([0-9]+)\.db", re.ASCII)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def clear_stale_files(path: str) -> list[str]:
    """Remove the multiprocess files of processes that no longer run, and any an earlier
    process left under this one's pid, so a killed worker's in-progress gauge does not
    haunt the next. Files of running processes stay: their owners are still counting.

    Returns:
      The names of the files removed.
    """
    removed = []
    for name in sorted(os.listdir(path)):
        match = PID_FILE.fullmatch(name)
        if match is None:
            continue
        pid = int(match[1])
        if pid == os.getpid() or not _running(pid):
            os.remove(os.path.join(path, name))
            removed.append(name)
    return removed


def install(broker: dramatiq.Broker) -> None:
    """Add the Prometheus middleware to `broker`, after clearing stale files.

    Call it before the worker process emits "process_boot" (that is when the middleware
    sets up its metrics): from the module the `dramatiq` command line names as its broker.
    """
    # Imported here: on import it reads its settings and creates its directory.
    from dramatiq.middleware import prometheus

    clear_stale_files(prometheus.DB_PATH)
    broker.add_middleware(prometheus.Prometheus())
