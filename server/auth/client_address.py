"""Who is asking: the client address a request came from, as far as it can be trusted.

Headers a client sends are never taken at their word. `X-Forwarded-For` counts only when
the connection comes from a reverse proxy the clinic named in `trusted_proxies`, and then
only its last entry (the address that proxy saw).
"""

from __future__ import annotations

import ipaddress

from aiohttp import web


def _parse(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def trusted_proxy_set(setting: str) -> frozenset[str]:
    """The addresses of a comma-separated `trusted_proxies` setting, normalised."""
    found = set()
    for item in setting.split(","):
        address = _parse(item)
        if address is not None:
            found.add(str(address))
    return frozenset(found)


def _forwarded_client(request: web.Request) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client a proxy names: the last hop of X-Forwarded-For (the one the proxy added)."""
    return _parse(request.headers.get("X-Forwarded-For", "").split(",")[-1])


def client_ip(request: web.Request, trusted_proxies: frozenset[str]) -> str:
    """The client's IP address as text ('unknown' when the transport has none)."""
    peer = _parse(request.remote)
    if peer is None:
        return "unknown"
    if str(peer) in trusted_proxies:
        client = _forwarded_client(request)
        if client is not None:
            return str(client)
    return str(peer)


def throttle_key(ip: str) -> str:
    """The key an address is throttled under: the IPv4 address, or the IPv6 /64 it sits in
    (one household or phone is handed a whole /64)."""
    address = _parse(ip)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return ip


def is_local_request(request: web.Request) -> bool:
    """The request came over loopback and not through a proxy (no forwarding header)."""
    peer = _parse(request.remote)
    if peer is None or not peer.is_loopback:
        return False
    return "X-Forwarded-For" not in request.headers and "Forwarded" not in request.headers


def from_this_machine(request: web.Request, trusted_proxies: frozenset[str], *,
                      direct_loopback: bool) -> bool:
    """Whether the request comes from this machine, as far as can be trusted: a trusted
    proxy forwarding a loopback client, or (only with `direct_loopback`) a loopback
    connection with no forwarding header. A trusted proxy's request without the header
    is not: it is any client of that proxy."""
    peer = _parse(request.remote)
    if peer is None:
        return False
    if str(peer) in trusted_proxies:
        client = _forwarded_client(request)
        return client is not None and client.is_loopback
    return direct_loopback and is_local_request(request)
