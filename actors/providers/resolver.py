"""Reaching a URL a user gave: resolve its host, check every address it resolves to
(tocsin.actors.domain.destinations), and connect to an address so checked.

Checking the name and then letting the HTTP client resolve it again would leave a gap: a
name can answer a public address to the check and an internal one to the connection (DNS
rebinding). `PinnedBackend` closes it: it is httpcore's network backend with the check in
`connect_tcp`, so the TCP connection goes to the address just checked while httpx still
sends the name in the Host header and TLS still checks the certificate against the name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpcore

from tocsin.actors.domain import destinations
from tocsin.actors.domain.destinations import IPAddress, Network

Resolve = Callable[[str, int], Awaitable[list[IPAddress]]]

# getaddrinfo blocks a thread until the DNS answers or gives up. Threads of their own, so
# that slow answers for user-given names never hold up what else runs on the default
# executor (password hashing, on the gateway).
_RESOLVING = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tocsin-resolve")


class DestinationRefused(Exception):
    """The destination is, or resolves to, an address requests may not go to. The message
    names the host, the address and why, for operators; users are told less."""

    def __init__(self, host: str, address: IPAddress, reason: str) -> None:
        resolved = "" if destinations.literal_address(host) == address else f" resolves to {address}, which"
        super().__init__(f"{host}{resolved} is {reason}")
        self.host, self.address, self.reason = host, address, reason


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in the resolver's order. Raises OSError
    (socket.gaierror) when it resolves to nothing."""
    infos = await asyncio.get_running_loop().run_in_executor(
        _RESOLVING, lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in found:
            found.append(address)
    return found


async def allowed_addresses(host: str, port: int, allowed: Iterable[Network],
                            resolver: Resolve = resolve) -> list[IPAddress]:
    """The addresses to connect to for `host`, every one of them allowed; DestinationRefused
    when any is not (a name with one internal address among public ones is refused too).
    An address in any spelling is taken as it is, without asking a resolver."""
    literal = destinations.literal_address(host)
    addresses = [literal] if literal is not None else await resolver(host, port)
    networks = tuple(allowed)
    for address in addresses:
        reason = destinations.refusal(address, networks)
        if reason is not None:
            raise DestinationRefused(host, address, reason)
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    return addresses


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the checked addresses of a host, in turn until one answers."""

    def __init__(self, allowed: Sequence[Network], resolver: Resolve = resolve) -> None:
        self._allowed = tuple(allowed)
        self._resolver = resolver
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(allowed_addresses(host, port, self._allowed, self._resolver), timeout)
        except asyncio.TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
        except OSError:
            raise httpcore.ConnectError(f"{host} does not resolve") from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(str(address), port, timeout=timeout,
                                                       local_address=local_address, socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # allowed_addresses never returns an empty list
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("a Unix socket is no destination")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)
