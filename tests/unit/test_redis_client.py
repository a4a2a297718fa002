"""The service's Redis client: what it is built with (no Redis is reached here)."""
from redis import connection
from redis._parsers import _HiredisParser
from redis.utils import HIREDIS_AVAILABLE

from infra import cache


def test_redis_replies_are_parsed_and_commands_packed_by_hiredis():
    # hiredis is a requirement for its speed (bench/README.md): redis-py takes it when it is
    # installed and silently falls back to its Python parser when it is not
    assert HIREDIS_AVAILABLE
    assert connection.DefaultParser is _HiredisParser
    pool = cache.client.connection_pool
    made = pool.connection_class(**pool.connection_kwargs)  # not connected, not counted
    assert isinstance(made._parser, _HiredisParser)
