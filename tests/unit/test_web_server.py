"""waitress as the web process runs it: an answer's head and body leave in one send().

Each test serves a small WSGI app with a real waitress server on a loopback port, in a
thread, with the web process's channel (or waitress's own, to show what it does), and
counts the channel's send() calls per answer.
"""
import http.client
import threading
from collections.abc import Iterator

import pytest
import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel

from web import server

BODY = b'{"id": 7, "status": "pending"}'


def app(environ, start_response):
    """Answers by path: a whole body, a streamed one, no body, or more than it declared."""
    path = environ["PATH_INFO"]
    if path == "/streamed":
        start_response("200 OK", [("Content-Type", "text/csv")])
        return [b"a,b\r\n", b"1,2\r\n"]
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/too-long":
        start_response("200 OK", [("Content-Length", "4")])
        return [b"abcdefgh"]
    if path == "/two-writes":
        start_response("200 OK", [("Content-Length", str(2 * len(BODY)))])
        return [BODY, BODY]
    start_response("202 Accepted", [("Content-Type", "application/json"),
                                    ("Content-Length", str(len(BODY)))])
    return [BODY]


def counting(base: type) -> type:
    """`base` with every send() it makes recorded in the class's `sends`."""
    class Counting(base):
        sends: list[bytes] = []

        def send(self, data, do_close=True):
            Counting.sends.append(bytes(data))
            return super().send(data, do_close=do_close)

    return Counting


@pytest.fixture
def serve() -> Iterator:
    """A function that serves `app` with a channel class; it returns the port and class."""
    servers = []

    def start(channel_base: type) -> tuple[int, type]:
        channel = counting(channel_base)
        srv = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
        srv.channel_class = channel
        loop = threading.Thread(target=srv.run, daemon=True)
        loop.start()
        servers.append((srv, loop))
        return srv.effective_port, channel

    yield start
    for srv, loop in servers:
        # Closed by its own loop (a socket closed under another thread's select() is EBADF
        # there), which then ends with nothing left to watch.
        srv.trigger.pull_trigger(lambda srv=srv: wasyncore.close_all(srv._map))
        loop.join(10)
        srv.task_dispatcher.shutdown()
        assert not loop.is_alive()


def get(port: int, path: str) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


def test_an_answer_with_a_length_leaves_in_one_send_with_its_head(serve):
    port, channel = serve(server.Channel)
    status, headers, body = get(port, "/")
    assert (status, body, headers["Content-Length"]) == (202, BODY, str(len(BODY)))
    assert len(channel.sends) == 1
    assert channel.sends[0].startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert channel.sends[0].endswith(b"\r\n\r\n" + BODY)


def test_waitress_alone_sends_the_head_and_the_body_apart(serve):
    port, channel = serve(HTTPChannel)
    assert get(port, "/")[2] == BODY
    assert len(channel.sends) == 2
    assert channel.sends[1] == BODY


def test_keep_alive_answers_each_leave_in_one_send(serve):
    port, channel = serve(server.Channel)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for _ in range(3):
            conn.request("GET", "/")
            assert conn.getresponse().read() == BODY
    finally:
        conn.close()
    assert len(channel.sends) == 3


def test_a_streamed_answer_without_a_length_is_still_chunked_whole(serve):
    port, channel = serve(server.Channel)
    status, headers, body = get(port, "/streamed")
    assert (status, headers.get("Transfer-Encoding"), body) == (200, "chunked", b"a,b\r\n1,2\r\n")
    assert len(channel.sends) > 1


def test_an_answer_without_a_body_sends_its_head_alone(serve):
    port, channel = serve(server.Channel)
    status, headers, body = get(port, "/empty")
    assert (status, body, "Content-Length" in headers) == (204, b"", False)
    assert len(channel.sends) == 1
    assert channel.sends[0].startswith(b"HTTP/1.1 204 No Content\r\n")
    assert channel.sends[0].endswith(b"\r\n\r\n")


def test_a_body_longer_than_its_length_is_cut_as_waitress_cuts_it(serve):
    port, _ = serve(server.Channel)
    status, headers, body = get(port, "/too-long")
    assert (status, headers["Content-Length"], body) == (200, "4", b"abcd")


def test_a_second_write_follows_the_first_in_order(serve):
    port, channel = serve(server.Channel)
    assert get(port, "/two-writes")[2] == BODY + BODY
    assert channel.sends[0].endswith(b"\r\n\r\n" + BODY)
    assert channel.sends[1:] == [BODY]
