"""Business gauges, read when /metrics is scraped: money requests by status, the age of
the oldest pending one, the webhooks' health, and the dead-lettered messages of each actor
queue.

What was read is kept for METRICS_CACHE_TTL_S seconds, so a storm of scrapes costs
MariaDB and RabbitMQ one look per window. A source that cannot be read is counted in
`wallet_metrics_collector_errors_total{source}` and left out; the scrape answers with
the rest, never with a 500. `register()` puts the gauges on `web.metrics.REGISTRY`.
"""
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import peewee
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

import settings
from infra import broker
from models import db, utcnow
from payments import requests
from payments.queues import QUEUES
from web import metrics
from webhooks import health

log = logging.getLogger(__name__)

Source = Callable[[], Iterable[Metric]]


def database_families() -> list[Metric]:
    """`wallet_requests{status}` and `wallet_oldest_pending_request_age_seconds` (0 when
    nothing is pending), from MariaDB."""
    try:
        stats = requests.stats()
    except (peewee.OperationalError, peewee.InterfaceError):
        db.close()  # back to the pool, which pings it before anyone reuses it
        raise
    by_status = GaugeMetricFamily("wallet_requests", "Money requests by status.",
                                  labels=["status"])
    for status, count in sorted(stats.by_status.items()):
        by_status.add_metric([status], count)
    oldest_age = GaugeMetricFamily("wallet_oldest_pending_request_age_seconds",
                                   "Age of the oldest pending money request (0 when none).",
                                   value=stats.oldest_pending_age_s(utcnow()))
    hooks = health.health()
    return [by_status, oldest_age,
            GaugeMetricFamily("wallet_webhook_jobs_pending",
                              "Webhook deliveries waiting for a (first or next) attempt.",
                              value=hooks.pending),
            GaugeMetricFamily("wallet_webhook_oldest_undelivered_event_age_seconds",
                              "Age of the oldest event not yet delivered to every webhook "
                              "that wants it (0 when none).",
                              value=hooks.oldest_undelivered_age_s(utcnow())),
            GaugeMetricFamily("wallet_webhook_failing_endpoints",
                              "Webhooks with deliveries failing (retrying, or given up on "
                              "in the last three days).", value=len(hooks.failing))]


def broker_families() -> list[Metric]:
    """`wallet_dead_lettered_messages{queue}`: messages in each actor queue's dead-letter
    queue (nothing with the in-memory stub broker)."""
    counts = broker.dead_letter_counts(QUEUES)
    if counts is None:
        return []
    family = GaugeMetricFamily("wallet_dead_lettered_messages",
                               "Messages in the dead-letter queue of each actor queue.",
                               labels=["queue"])
    for queue, count in sorted(counts.items()):
        family.add_metric([queue], count)
    return [family]


class WalletCollector(Collector):
    """Reads its sources at most once per `ttl_s` seconds, whoever scrapes.

    Parameters:
      sources: a name (the `source` label of the error counter) and a function returning
        metric families, for each source.
      ttl_s: how long a reading is served before the sources are read again.
      clock: monotonic seconds (replaceable in tests).
    """

    def __init__(self, sources: dict[str, Source], *, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sources = sources
        self.ttl_s = ttl_s
        self.clock = clock
        self.errors = dict.fromkeys(sources, 0)
        self.lock = threading.Lock()  # concurrent scrapes wait for one reading
        self.cached: list[Metric] = []
        self.expires_at = float("-inf")

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            if self.clock() >= self.expires_at:
                self.cached = self._read()
                self.expires_at = self.clock() + self.ttl_s
            families = list(self.cached)
            errors = CounterMetricFamily(
                "wallet_metrics_collector_errors",
                "Failed readings of a business gauge source (database, broker).",
                labels=["source"])
            for source, count in self.errors.items():
                errors.add_metric([source], count)
        yield from families
        yield errors

    def _read(self) -> list[Metric]:
        families: list[Metric] = []
        for source, read in self.sources.items():
            try:
                families.extend(read())
            except Exception as exc:  # noqa: BLE001 - a scrape answers with what it has
                self.errors[source] += 1
                log.warning("Could not read the %s for /metrics: %s: %s", source,
                            type(exc).__name__, exc)
        return families


COLLECTOR = WalletCollector({"database": database_families, "broker": broker_families},
                            ttl_s=settings.METRICS_CACHE_TTL_S)


_registered = threading.Event()


def register() -> None:
    """Put the business gauges on `web.metrics.REGISTRY` (once)."""
    if not _registered.is_set():
        metrics.REGISTRY.register(COLLECTOR)
        _registered.set()
