"""What worker processes set up for themselves: Prometheus files that do not outlive
their process, and a SIGTERM that survives being signalled twice at once."""
import os
import signal
import subprocess
import sys

from actors import sigterm, worker_metrics


def a_dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_files_of_dead_processes_and_of_this_pid_are_removed_and_live_ones_kept(tmp_path):
    # Given multiprocess files of a dead process, of this pid, of a live process, and others
    dead, live = a_dead_pid(), os.getppid()
    names = [f"counter_{dead}.db", f"gauge_livesum_{dead}.db", f"histogram_{os.getpid()}.db",
             f"counter_{live}.db", "notes.txt"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    # When stale files are cleared
    removed = worker_metrics.clear_stale_files(str(tmp_path))
    # Then only the live process's file and the unrelated one remain
    assert sorted(removed) == sorted(names[:3])
    assert sorted(os.listdir(tmp_path)) == sorted(names[3:])


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_a_sigterm_echoed_within_the_window_reaches_the_handler_once_and_a_later_one_again():
    # Given a process whose SIGTERM handler records its calls, behind the echo filter
    calls = []
    clock = Clock()
    original = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(clock.now))
    try:
        assert sigterm.absorb_echoes(window_s=2, clock=clock)
        handler = signal.getsignal(signal.SIGTERM)
        # When SIGTERM arrives, again 10 ms later (the forwarded copy), then 5 s later
        for at in (50.0, 50.01, 55.0):
            clock.now = at
            handler(signal.SIGTERM, None)
        # Then the handler saw the first and the late one, not the echo
        assert calls == [50.0, 55.0]
    finally:
        signal.signal(signal.SIGTERM, original)


def test_no_filter_is_installed_without_a_python_sigterm_handler():
    original = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        assert sigterm.absorb_echoes() is False
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, original)


def procfile_queues(process: str) -> list[str]:
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "Procfile")) as f:
        line = next(line for line in f if line.startswith(f"{process}:"))
    return line.split("--queues", 1)[1].split()


def test_the_procfile_gives_settling_and_webhooks_their_own_worker_processes():
    # Every actor queue is taken, by exactly one kind of worker: a slow webhook receiver
    # can only ever hold the `webhooks` processes' threads, never a settlement's
    from payments.queues import QUEUES, SETTLING_QUEUES

    assert procfile_queues("worker") == sorted(SETTLING_QUEUES)
    assert procfile_queues("webhooks") == ["webhooks"]
    assert sorted(procfile_queues("worker") + procfile_queues("webhooks")) == sorted(QUEUES)


def test_the_procfiles_settling_worker_has_a_thread_for_every_request_a_batch_takes():
    # A batch is what the worker's threads hold at once: with fewer threads than a batch
    # takes, one worker process's batches are capped below SETTLE_BATCH_MAX_REQUESTS and
    # settling falls behind the load (README's Performance, 2026-12-01)
    import settings
    from bench.config import WORKER_THREADS  # the Procfile's worker --threads

    assert WORKER_THREADS >= settings.SETTLE_BATCH_MAX_REQUESTS


FREEZE_CHILD = """
import gc
import dramatiq
from dramatiq.brokers.stub import StubBroker
from actors.middleware import FreezeAfterBoot

broker = StubBroker()
broker.add_middleware(FreezeAfterBoot())
before = gc.get_freeze_count()
worker = dramatiq.Worker(broker, worker_threads=1)
worker.start()
after = gc.get_freeze_count()
worker_frozen = not any(found is worker for found in gc.get_objects())
worker.stop()
print(before, after, worker_frozen)
"""


def test_a_booted_worker_has_frozen_what_its_process_held_the_worker_included():
    # Given a process with a broker that has the middleware, when a worker boots on it
    done = subprocess.run([sys.executable, "-c", FREEZE_CHILD], capture_output=True,
                          text=True, timeout=60, check=True)
    before, after, worker_frozen = done.stdout.split()
    # Then nothing was frozen before, the process's objects are after, the worker's too
    assert int(before) == 0
    assert int(after) > 10_000
    assert worker_frozen == "True"


def test_only_the_worker_processes_broker_module_adds_the_freeze():
    # The actors package, as the web process and the tests import it, leaves it out
    from actors.middleware import FreezeAfterBoot
    from infra import broker

    assert not any(isinstance(m, FreezeAfterBoot) for m in broker.current().middleware)
    # The broker module the Procfile's workers name adds it
    done = subprocess.run([sys.executable, "-c", "import actors.worker\n"
                           "from actors.middleware import FreezeAfterBoot\n"
                           "from infra import broker\n"
                           "print(sum(isinstance(m, FreezeAfterBoot)"
                           " for m in broker.current().middleware))"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "1"
