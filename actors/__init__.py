"""Dramatiq actors: thin entry points that receive a request id and call payments.

`dramatiq actors.worker` imports this package: the broker is installed first (with the
worker's middleware), then every actor is declared on it, under the queue and actor
names payments/queues.py gives them.
"""
from actors.middleware import MessageLog, ReleaseBrokenConnections
from infra import broker

broker.install(middleware=[ReleaseBrokenConnections(), MessageLog()])

from actors.maintenance import fail_exhausted_request  # noqa: E402 - after the broker
from actors.settling import settle_deposit, settle_transfer, settle_withdrawal  # noqa: E402

__all__ = ["fail_exhausted_request", "settle_deposit", "settle_transfer", "settle_withdrawal"]
