"""The broker: the one global of the worker side, set before any actor is declared."""
import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

import settings
from actors.middleware import MessageLog, ReleaseBrokenConnections

# Fail fast when RabbitMQ is down: the request is already recorded, the sweeper resends it.
AMQP_DEFAULTS = {"connection_attempts": "1", "socket_timeout": "3",
                 "blocked_connection_timeout": "5", "heartbeat": str(settings.AMQP_HEARTBEAT_S)}


def _amqp_url(urls: str) -> str:
    """The broker URL(s) with our connection defaults added where they are not set
    (several `;`-separated URLs name the nodes of a cluster; each gets them)."""
    def one(url: str) -> str:
        present = {part.split("=")[0] for part in url.partition("?")[2].split("&") if part}
        extra = "&".join(f"{k}={v}" for k, v in AMQP_DEFAULTS.items() if k not in present)
        return url if not extra else url + ("&" if "?" in url else "?") + extra
    return ";".join(one(url) for url in urls.split(";"))


def make_broker() -> dramatiq.Broker:
    """A RabbitMQ broker (Redis for redis://..., in-memory for stub:// in tests)."""
    if settings.BROKER_URL.startswith("stub:"):
        broker = StubBroker()
    elif settings.BROKER_URL.startswith("redis"):
        broker = RedisBroker(url=settings.BROKER_URL)
    else:
        broker = RabbitmqBroker(url=_amqp_url(settings.BROKER_URL))
    broker.add_middleware(ReleaseBrokenConnections())
    broker.add_middleware(MessageLog())
    return broker


broker = make_broker()
dramatiq.set_broker(broker)
