"""The HTTP session deliveries go through: it checks the address it actually connected
to (urls.callable_address) before a byte of the request leaves, and ignores proxy settings
of the environment; the caller asks it not to follow redirects (`allow_redirects=False`).

Checking the connected peer, not a name resolved earlier, is what defeats DNS rebinding:
a host that resolved to a public address when it was registered and to 127.0.0.1 now is
refused now.
"""
import socket

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from webhooks.urls import callable_address


class RefusedAddress(OSError):
    """Raised when a delivery connected to an address the service may not call."""


def _checked(sock: socket.socket) -> socket.socket:
    """The freshly connected socket, if its peer may be called; closed otherwise (before
    TLS or a byte of the request)."""
    peer = sock.getpeername()[0]
    if not callable_address(peer):
        sock.close()
        raise RefusedAddress(f"connected to {peer}, which the service may not call")
    return sock


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(super()._new_conn())


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(super()._new_conn())


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool,
                                                   "https": _CheckedHTTPSPool}


def session() -> requests.Session:
    """A session for deliveries (one per thread: sessions are not thread-safe)."""
    out = requests.Session()
    out.trust_env = False  # no proxy from the environment: the peer must be the receiver
    adapter = _CheckedAdapter(pool_connections=4, pool_maxsize=4, max_retries=0)
    out.mount("http://", adapter)
    out.mount("https://", adapter)
    return out
