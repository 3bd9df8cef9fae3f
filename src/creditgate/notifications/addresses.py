"""Which webhook URLs may be called: no request forgery into the operator's own network.

A URL whose host is, or resolves to, a loopback, private, link-local (cloud metadata at
169.254.169.254), shared, multicast or reserved address is refused, at registration and again
before every delivery (a name can be re-pointed after it was registered), unless
CREDITGATE_WEBHOOKS_ALLOW_PRIVATE is on (development, tests).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class AddressRefused(ValueError):
    pass


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str, *, allow_private: bool, resolve: bool) -> None:
    """Raise AddressRefused saying why; `resolve` also looks the name up (delivery time)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise AddressRefused("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise AddressRefused("must not carry a user name or password")
    if allow_private:
        return
    host = parts.hostname
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    elif host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise AddressRefused(f"{host} is a private name")
    elif not resolve:
        return
    else:
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise AddressRefused(f"{host} does not resolve ({exc})") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not _public(address):
            raise AddressRefused(f"{address} is a loopback, private, link-local or reserved "
                                 "address (set CREDITGATE_WEBHOOKS_ALLOW_PRIVATE=on to allow)")
