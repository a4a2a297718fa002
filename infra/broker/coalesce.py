"""One send() for what pika has buffered, instead of one per AMQP frame.

pika queues every frame of a message on its own (a publish is three: method, header and
body) and its transport writes the queue one frame per send(). Each send on a TCP socket
with TCP_NODELAY goes out as its own segment, and on loopback the kernel delivers it to the
broker inside the call: three system calls, three segments and up to three wake-ups of
RabbitMQ's reader per message, where one would do. Before it writes, the transport here
joins whatever is queued into one buffer; the rest is pika's own (a partial send puts back
what was not sent, and the byte count it keeps is unchanged).

pika's transport is not public API, so `install` checks what it patches and refuses a pika
whose transport has changed shape (tests/integration/test_coalesce.py runs it against the
pinned one).
"""
from pika.adapters.utils import io_services_utils

_Transport = io_services_utils._AsyncTransportBase  # noqa: SLF001 - see the docstring
_ORIGINAL = _Transport._produce  # noqa: SLF001


def _produce_joined(self) -> None:
    buffers = self._tx_buffers
    if len(buffers) > 1:
        joined = b"".join(buffers)
        buffers.clear()
        buffers.append(joined)
    _ORIGINAL(self)


def install() -> None:
    """Make every pika transport of the process send its queued frames together (once).

    Raises:
      RuntimeError: pika's transport no longer has the queue this relies on.
    """
    if _Transport._produce is _produce_joined:  # noqa: SLF001
        return
    if "_tx_buffers" not in _ORIGINAL.__code__.co_names:
        raise RuntimeError("pika's transport changed: infra/broker/coalesce.py needs a look")
    _Transport._produce = _produce_joined  # noqa: SLF001


def installed() -> bool:
    """Whether `install` has run in this process."""
    return _Transport._produce is _produce_joined  # noqa: SLF001

