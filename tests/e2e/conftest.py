"""A real waitress web process and a real dramatiq worker, shared by the e2e tests."""
from collections.abc import Iterator

import pytest

from tests.helpers import Client, own_vhost, start_web, start_worker


@pytest.fixture(scope="session")
def stack(log_dir):
    """Base URL of a running web process with one worker behind it."""
    web, base = start_web(log_dir)
    worker = start_worker(log_dir)
    try:
        yield base
    finally:
        worker.stop()
        web.stop()


@pytest.fixture
def client(stack) -> Client:
    return Client(stack).sign_up()


@pytest.fixture
def other(stack) -> Client:
    return Client(stack).sign_up()


@pytest.fixture
def vhost() -> Iterator[str]:
    """The broker's URL on a vhost of this test's own: only its own worker takes its
    messages, never the shared one."""
    with own_vhost() as url:
        yield url
