"""The client's IP address: X-Forwarded-For is believed only when the peer is a configured proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from litestar.types import Scope


def _parse_networks(proxies: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(p, strict=False) for p in proxies]


def _in(addr: str, nets: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in nets)


def client_ip(scope: Scope, trusted_proxies: Sequence[str]) -> str | None:
    client = scope.get("client")
    peer = client[0] if client else None
    try:
        peer = str(ipaddress.ip_address(peer)) if peer else None
    except ValueError:
        peer = None  # test clients and unix sockets have no IP address
    if peer is None:
        return None
    nets = _parse_networks(trusted_proxies)
    if not nets or not _in(peer, nets):
        return peer
    forwarded = ""
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded = f"{forwarded},{value.decode('latin-1')}" if forwarded else value.decode("latin-1")
    # Walk from the nearest hop back; the first address that is not one of our proxies is the client.
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, nets):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a garbage hop: do not believe anything further back
    return peer
