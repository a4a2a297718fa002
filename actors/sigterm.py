"""One stop request, one graceful stop, for worker processes signalled as a group.

honcho (and systemd's default KillMode=control-group) send SIGTERM to every process of
a worker instance: the `dramatiq` worker process gets it once directly and once more
when the CLI's main process forwards its own copy. Dramatiq takes a second SIGTERM as
"exit now", which drops the messages in hand (RabbitMQ redelivers them, but the worker
no longer finishes what it was doing). So a repeat that follows the first within a
moment is taken for the echo it is; a later one still means "exit now".
"""
import signal
import time
from collections.abc import Callable

# Seconds after a SIGTERM during which another one is taken as its echo.
ECHO_WINDOW_S = 2.0


def absorb_echoes(*, window_s: float = ECHO_WINDOW_S,
                  clock: Callable[[], float] = time.monotonic) -> bool:
    """Put a filter in front of the process's SIGTERM handler (Dramatiq's, in a worker
    process): a SIGTERM within `window_s` of the last one handled is dropped.

    Call it from the main thread, after the handler is installed.

    Returns:
      Whether a filter was installed (not when SIGTERM has no Python handler).
    """
    handle = signal.getsignal(signal.SIGTERM)
    if not callable(handle):
        return False
    last: list[float] = []

    def filtered(signum, frame) -> None:
        now = clock()
        if last and now - last[0] < window_s:
            return
        last[:] = [now]
        handle(signum, frame)

    signal.signal(signal.SIGTERM, filtered)
    return True
