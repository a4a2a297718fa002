"""Dramatiq actors: thin entry points that receive an id and call payments or webhooks.

`dramatiq actors.worker` imports this package: the broker is installed first (with the
worker's middleware), then every actor is declared on it, under the queue and actor
names payments/queues.py gives them.
"""
from actors.middleware import MessageLog, ReleaseBrokenConnections
from infra import broker

broker.install(middleware=[ReleaseBrokenConnections(), MessageLog()])

from actors.maintenance import expire_holds, fail_exhausted_request  # noqa: E402 - after it
from actors.settling import (  # noqa: E402
    settle_capture,
    settle_deposit,
    settle_hold,
    settle_refund,
    settle_transfer,
    settle_void,
    settle_withdrawal,
)
from actors.webhooks import deliver_webhook  # noqa: E402

__all__ = ["deliver_webhook", "expire_holds", "fail_exhausted_request", "settle_capture",
           "settle_deposit", "settle_hold", "settle_refund", "settle_transfer", "settle_void",
           "settle_withdrawal"]
