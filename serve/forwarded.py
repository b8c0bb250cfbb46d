"""The client's address, for rate limits that count per address.

Behind a proxy, the peer is the proxy. Ray Serve's HAProxy ingress forwards requests as they
came without adding X-Forwarded-For, so the address a client connected from is only known
when a load balancer in front of Tocsin appends it. Only the entries appended by proxies we
trust are believed (`trusted_hops`, counted from the right): anything further left was
written by the client and could be anything.
"""

from __future__ import annotations

import ipaddress


def client_address(peer: str | None, forwarded_for: str | None, trusted_hops: int) -> str:
    """The address to count against: the entry `trusted_hops` from the right of
    X-Forwarded-For when there are trusted proxies and the header has it, else the peer."""
    if trusted_hops > 0 and forwarded_for:
        entries = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
        if len(entries) >= trusted_hops and _is_address(entries[-trusted_hops]):
            return entries[-trusted_hops]
    return peer or "unknown"


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
