"""A Redis that cannot be reached costs each call a bounded number of connection attempts.

redis-py retries a failed connection 10 times by default, backing off up to a second: with
every sentinel unreachable, one call took about 4 s, on every request. Here a listener
that hangs up on every connection stands in for an unreachable server, and one that never
answers for a hung one, and each counts how often the client tries.
"""
import socket
import threading
from collections.abc import Iterator

import pytest
import redis

import settings
from infra import cache


class HangingUp:
    """A TCP port that accepts every connection and closes it at once, counting them."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            self._keep(conn)

    def _keep(self, conn: socket.socket) -> None:
        conn.close()


@pytest.fixture
def hanging_up() -> Iterator[HangingUp]:
    found = HangingUp()
    yield found
    found.server.close()


def test_a_call_through_sentinels_that_hang_up_tries_each_at_most_twice(hanging_up,
                                                                         monkeypatch):
    # Given the service told of one sentinel, which hangs up on every connection
    monkeypatch.setattr(settings, "REDIS_SENTINEL_NODES", (("127.0.0.1", hanging_up.port),))
    client = cache.new_client()
    # When one call is made, Then it fails as "no master", having asked the sentinel at most
    # twice for each of the two attempts the command makes
    with pytest.raises(redis.ConnectionError):
        client.get("anything")
    assert 1 <= hanging_up.accepted <= (1 + cache.RECONNECTS) ** 2


def test_a_call_to_a_server_that_hangs_up_is_tried_at_most_twice(hanging_up, monkeypatch):
    # Given the service's client of a server that hangs up on every connection
    monkeypatch.setattr(settings, "REDIS_URL", f"redis://127.0.0.1:{hanging_up.port}/0")
    monkeypatch.setattr(cache, "client", cache.new_client())
    # When the cache is read, Then the caller goes on without Redis, after at most two tries
    assert cache.get("anything") is None
    assert 1 <= hanging_up.accepted <= 1 + cache.RECONNECTS


class Silent(HangingUp):
    """A TCP port that accepts every connection and never answers, counting them."""

    def __init__(self) -> None:
        self.held: list[socket.socket] = []  # open and mute, until the test ends
        super().__init__()

    def _keep(self, conn: socket.socket) -> None:
        self.held.append(conn)


def test_a_call_to_a_server_that_never_answers_waits_out_one_timeout_only(monkeypatch):
    # Given the service's client of a server that accepts and never answers
    silent = Silent()
    try:
        monkeypatch.setattr(settings, "REDIS_URL", f"redis://127.0.0.1:{silent.port}/0")
        monkeypatch.setattr(cache, "client", cache.new_client())
        # When the cache is read, Then the caller goes on without Redis after one connection:
        # a timed-out command is not sent again on a second
        assert cache.get("anything") is None
        assert silent.accepted == 1
    finally:
        silent.server.close()
