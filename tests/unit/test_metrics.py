"""The web process's metrics: bounded labels, cached business gauges that never fail a
scrape, and actor queues taken from the broker."""
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from infra import broker
from payments.queues import QUEUES
from web import gauges, metrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def samples(registry: CollectorRegistry) -> dict[tuple, float]:
    """Every sample of a scrape of `registry`, by name and labels."""
    text = generate_latest(registry).decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def counting_source(name: str, calls: list) -> gauges.Source:
    def read():
        calls.append(name)
        return [GaugeMetricFamily(f"test_{name}", "A test gauge.", value=len(calls))]
    return read


def failing_source():
    raise ConnectionError("connection refused")


def registry_with(collector: gauges.WalletCollector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def test_a_scrape_storm_within_the_cache_window_reads_each_source_once():
    # Given a collector with a 5 s cache over two sources
    calls: list = []
    clock = Clock()
    registry = registry_with(gauges.WalletCollector(
        {"database": counting_source("database", calls),
         "broker": counting_source("broker", calls)}, ttl_s=5, clock=clock))
    # When it is scraped 50 times within 4.9 s
    for _ in range(50):
        scraped = samples(registry)
        clock.now += 0.098
    # Then each source was read once, and every scrape answered with both gauges
    assert calls == ["database", "broker"]
    assert scraped[("test_database", ())] == 1 and scraped[("test_broker", ())] == 2


def test_the_sources_are_read_again_once_the_cache_window_has_passed():
    # Given a collector with a 5 s cache, scraped once
    calls: list = []
    clock = Clock()
    registry = registry_with(gauges.WalletCollector(
        {"database": counting_source("database", calls)}, ttl_s=5, clock=clock))
    samples(registry)
    # When it is scraped again 5 s later
    clock.now += 5
    samples(registry)
    # Then the source was read twice
    assert calls == ["database", "database"]


def test_a_source_that_fails_is_counted_and_the_others_still_answer():
    # Given a collector whose broker cannot be reached
    calls: list = []
    clock = Clock()
    registry = registry_with(gauges.WalletCollector(
        {"database": counting_source("database", calls), "broker": failing_source},
        ttl_s=0, clock=clock))
    # When it is scraped twice
    samples(registry)
    scraped = samples(registry)
    # Then both scrapes answered with the database's gauge, and the broker's failures count
    assert scraped[("test_database", ())] == 2
    assert scraped[("wallet_metrics_collector_errors_total", (("source", "broker"),))] == 2
    assert scraped[("wallet_metrics_collector_errors_total", (("source", "database"),))] == 0


def test_a_request_no_route_matched_is_counted_as_unmatched_and_odd_methods_as_other():
    def count(route: str, method: str, status: str) -> float:
        return metrics.REGISTRY.get_sample_value(
            "http_requests_total", {"route": route, "method": method, "status": status}) or 0
    before = count("unmatched", "other", "405"), count("/v1/me", "GET", "200")
    # When a request no route matched, with a made-up method, and one to /v1/me are observed
    metrics.observe_request(None, "BREW", 405, 0.001)
    metrics.observe_request("/v1/me", "GET", "200", 0.02)
    # Then they are counted under bounded labels, and /v1/me's duration lands in a bucket
    assert (count("unmatched", "other", "405"), count("/v1/me", "GET", "200")) == \
        (before[0] + 1, before[1] + 1)
    assert metrics.REGISTRY.get_sample_value("http_request_duration_seconds_bucket", {
        "route": "/v1/me", "method": "GET", "le": "0.025"}) >= 1


def test_the_actor_queues_are_every_settling_queue_and_maintenance():
    import actors  # noqa: F401 - declares every actor on the (stub) broker

    declared = broker.current().get_declared_queues()
    assert set(QUEUES) <= declared and "deposits.DQ" in declared
    assert QUEUES == ("deposits", "holds", "maintenance", "refunds", "transfers", "webhooks",
                      "withdrawals")


def test_the_stub_broker_reports_no_dead_letters():
    assert broker.dead_letter_counts(QUEUES) is None
    assert gauges.broker_families() == []


def test_the_exposition_is_prometheus_text_with_the_wallet_counters():
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert {"http_requests", "http_request_duration_seconds",
            "wallet_requests_accepted"} <= names
