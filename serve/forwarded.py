"""The client's address, for the limits that count per address (failed logins, unknown keys).

What a gateway replica sees depends on Serve's ingress:

- Serve's Python proxy hands on the address its client connected from (`request.client`).
- Serve's HAProxy ingress connects to the replica itself: the peer is HAProxy. Started as
  `tocsin-haproxy` (cluster/haproxy_ingress.py), it appends the address its client connected
  from to X-Forwarded-For. That last entry is believed when the peer is an ingress, on
  loopback or at a Ray node's address (HAProxy runs on every node); a request that reached
  the replica's port from anywhere else has no entry believed.
- Each load balancer in front that appends its client (TOCSIN_TRUSTED_PROXY_HOPS) makes one
  more entry believed, counted from the right.

Anything further left was written by the client and could be anything. Uvicorn's own
X-Forwarded-For handling would believe entries from a loopback peer, HAProxy's included;
the Ray that Tocsin starts runs with it off (FORWARDED_ALLOW_IPS empty, cluster/raystart.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

# The launcher cluster/haproxy_ingress.py installs, and the variable through which Ray runs
# it. Spelled again here rather than imported: the launcher imports nothing of Tocsin (it
# runs as a file by its path), and the gateway imports nothing of the cluster's tooling.
LAUNCHER_NAME = "tocsin-haproxy"
RAY_BINARY_VARIABLE = "RAY_SERVE_HAPROXY_BINARY_PATH"

# How often, at most, the nodes' addresses are asked for again when an unknown peer calls.
NODES_REFRESH_S = 30.0


def client_address(peer: str | None, forwarded_for: list[str], trusted_hops: int) -> str:
    """The address to count against: the entry `trusted_hops` from the right of the
    X-Forwarded-For headers (`forwarded_for`, each header's value, in order), or the
    leftmost there is when there are fewer, all of them appended by trusted proxies; the
    peer when no entry is trusted or the one is not an address."""
    if trusted_hops > 0:
        entries = [entry.strip() for value in forwarded_for for entry in value.split(",") if entry.strip()]
        if entries:
            canonical = _canonical(entries[-min(trusted_hops, len(entries))])
            if canonical is not None:
                return canonical
    return peer or "unknown"


def address_key(address: str) -> str:
    """What an address's attempts count against: an IPv6 address's /64, which one client
    is usually given whole; any other address as it is."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class Ingress:
    """Serve's ingress in this process's Ray, as far as client addresses go: whether it
    appends its client's address to X-Forwarded-For, and which peers are it."""

    def __init__(
        self, appends_client: bool, node_addresses: Callable[[], Iterable[str]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.appends_client = appends_client
        self._node_addresses = node_addresses
        self._clock = clock
        self._nodes: frozenset[str] = frozenset()
        self._asked_at: float | None = None

    @classmethod
    def of_this_process(cls, node_addresses: Callable[[], Iterable[str]],
                        environ: Mapping[str, str] = os.environ) -> Ingress:
        """From the environment Ray's processes share (read in a replica, not the driver)."""
        haproxy = environ.get("RAY_SERVE_ENABLE_HA_PROXY") == "1"
        launcher = Path(environ.get(RAY_BINARY_VARIABLE, "")).name == LAUNCHER_NAME
        if haproxy and not launcher:
            log.warning("Serve's HAProxy ingress does not run as %s (%s): it passes on no client address, so "
                        "every client behind it counts as one address in the failed-login and unknown-key limits",
                        LAUNCHER_NAME, RAY_BINARY_VARIABLE)
        return cls(haproxy and launcher, node_addresses)

    async def trusted_hops(self, peer: str | None, configured: int) -> int:
        """How many X-Forwarded-For entries to believe from this peer: `configured` (the
        load balancers in front) plus HAProxy's own; none from a peer that should be
        HAProxy and is not."""
        if not self.appends_client:
            return configured
        return configured + 1 if await self.is_ingress(peer) else 0

    async def is_ingress(self, peer: str | None) -> bool:
        if peer is None:
            return False
        try:
            if ipaddress.ip_address(peer).is_loopback:
                return True
        except ValueError:
            return False
        if peer not in self._nodes and (self._asked_at is None or self._clock() - self._asked_at >= NODES_REFRESH_S):
            self._asked_at = self._clock()
            try:
                self._nodes = frozenset(await asyncio.to_thread(lambda: list(self._node_addresses())))
            except Exception as exc:  # noqa: BLE001 - Ray's GCS away for a while: the nodes known so far
                log.warning("cannot list the Ray nodes' addresses: %r", exc)
        return peer in self._nodes


def _canonical(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
