"""What a webhook URL may be, and which addresses the service may call (SSRF rules).

A URL is `https://` (`http://` too in development and test), at most MAX_URL_CHARS
characters, with a host and no credentials, of the shape URL_PATTERN (the document
publishes the same pattern, so what it calls valid the service accepts): the host a DNS
name (IDNs in their `xn--` form) or an IPv4 address, an optional port, and a path without
spaces or control characters. Outside development and test, unless
WEBHOOK_ALLOW_PRIVATE, every address its host resolves to must be a public unicast one:
not loopback, private, link-local, multicast, unspecified or otherwise reserved. The same
check runs again at delivery time on the address actually connected to (transport.py),
so a name that resolves elsewhere by then gains nothing.
"""
import ipaddress
import re
import socket
from urllib.parse import urlsplit

import settings
from errors import InvalidWebhookUrl

MAX_URL_CHARS = 2048
# Scheme, host (letters, digits, dots, hyphens), port 0-65535, then path, query, fragment.
URL_PATTERN = (r"^https?://[A-Za-z0-9.-]+(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|"
               r"6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?(?:[/?#][^\x00-\x20\s]*)?$")


def private_allowed() -> bool:
    """Whether any address may be called: in development and test, or when configured."""
    return settings.ENV in ("development", "test") or settings.WEBHOOK_ALLOW_PRIVATE


def callable_address(address: str) -> bool:
    """Whether the service may call `address` (an IP address as text)."""
    if private_allowed():
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback
                                 or ip.is_link_local or ip.is_private or ip.is_unspecified)


def _refuse(message: str) -> InvalidWebhookUrl:
    return InvalidWebhookUrl(f"url: {message}", errors=[{"field": "url", "message": message}])


def checked_url(url: object) -> str:
    """A webhook URL the service may register.

    Raises:
      InvalidWebhookUrl: with what is wrong with it.
    """
    if not isinstance(url, str):
        raise _refuse("must be a string")
    if len(url) > MAX_URL_CHARS:
        raise _refuse(f"must be at most {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse("is not a valid URL") from None
    schemes = ("https", "http") if settings.ENV in ("development", "test") else ("https",)
    if parts.scheme not in schemes:
        raise _refuse("must start with " + " or ".join(f"{s}://" for s in schemes))
    if not parts.hostname:
        raise _refuse("must name a host")
    if parts.username is not None or parts.password is not None:
        raise _refuse("must not carry credentials")
    if any(c.isspace() or ord(c) < 0x21 for c in url):
        raise _refuse("must not contain spaces or control characters")
    if not re.fullmatch(URL_PATTERN, url):
        raise _refuse("must be scheme://host[:port][/path], the host a DNS name or an IPv4 "
                      "address")
    if not private_allowed():
        try:
            found = {str(info[4][0]) for info in socket.getaddrinfo(
                parts.hostname, port or (443 if parts.scheme == "https" else 80),
                type=socket.SOCK_STREAM)}
        except (OSError, UnicodeError):
            raise _refuse("names a host that does not resolve") from None
        if not found or not all(callable_address(address) for address in found):
            raise _refuse("resolves to an address the service may not call (loopback, "
                          "private, link-local, multicast or reserved)")
    return url
