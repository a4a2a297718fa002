"""The worker processes' broker module: `dramatiq actors.worker` (see the Procfile).

Importing it declares every actor (through the `actors` package), then sets up what
only workers want: JSON logs, Dramatiq's Prometheus middleware, the start-up objects
frozen out of the collector's sight once the worker has booted, and a SIGTERM that
stops gracefully when the whole process group is signalled. The web process imports
`actors` too, to send messages, so none of this is done in the package itself. Named
as the broker module (not as an extra module after it), this runs before the CLI emits
"process_boot", when the Prometheus middleware sets up its metrics.
"""
from actors import sigterm, worker_metrics
from actors.middleware import FreezeAfterBoot
from infra import broker, logs

logs.configure("worker")
worker_metrics.install(broker.current())
broker.current().add_middleware(FreezeAfterBoot())
sigterm.absorb_echoes()
