"""Prometheus metrics of the web process, on a registry of their own.

HTTP traffic is recorded by `web.http.RequestIdMiddleware` (one `observe_request` call per
request), accepted money requests by `payments`; the business gauges are collected on
each scrape by `web.gauges`. `GET /metrics` renders the registry with `exposition`.
Label values are bounded: a route is the Bottle rule that matched (never the raw path),
a method outside the usual few is "other".
"""
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry()
# The route label of a request no rule matched (404, and 405 before routing).
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds; up to 30 because `?wait=` holds a request read for up to MAX_WAIT_S.
DURATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered, by route, method and status.",
    ["route", "method", "status"], registry=REGISTRY)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request, by route and method.",
    ["route", "method"], buckets=DURATION_BUCKETS_S, registry=REGISTRY)
# Set to read polls.SLOTS by api.py.
WAITING_POLLS = Gauge(
    "wallet_waiting_polls", "`?wait=` polls holding a thread of this web process now.",
    registry=REGISTRY)
ACCEPTED = Counter(
    "wallet_requests_accepted_total",
    "Money requests newly accepted (202, not replays), by type.", ["type"], registry=REGISTRY)


def observe_request(rule: str | None, method: str | None, status: int | str,
                    duration_s: float) -> None:
    """Count one answered HTTP request and its duration.

    Parameters:
      rule: the Bottle rule that matched (`/v1/wallets/<wallet_id>`), None if none did.
      method: the request method as the client sent it.
      status: the HTTP status answered.
      duration_s: how long the app took to answer.
    """
    route = rule or UNMATCHED
    method = method if method in METHODS else "other"
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_DURATION.labels(route, method).observe(duration_s)


def accepted(kind: str) -> None:
    """Count one newly accepted money request of type `kind` (deposit, withdrawal, transfer)."""
    ACCEPTED.labels(kind).inc()


def exposition() -> tuple[bytes, str]:
    """The registry in the Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
