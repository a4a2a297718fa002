"""A real waitress web process and a real dramatiq worker, shared by the e2e tests."""
import pytest

from tests.helpers import Client, start_web, start_worker


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
