"""Reaching a URL a user gave: resolve its host, check every address it resolves to
(tocsin.actors.domain.destinations), and connect to an address so checked.

Checking the name and then letting the HTTP client resolve it again would leave a gap: a
name can answer a public address to the check and an internal one to the connection (DNS
rebinding). `CheckedResolver` closes it: it is aiohttp's resolver with the check in it, so
the TCP connection goes to an address just checked while aiohttp still sends the name in the
Host header and TLS still checks the certificate against the name. (With the connector's DNS
cache off, every new connection asks it again.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from aiohttp.abc import AbstractResolver, ResolveResult

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
    networks = tuple(allowed)
    literal = checked_literal(host, networks)
    if literal is not None:
        return [literal]
    addresses = await resolver(host, port)
    for address in addresses:
        _check(host, address, networks)
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    return addresses


def checked_literal(host: str, allowed: tuple[Network, ...]) -> IPAddress | None:
    """The address `host` spells, in any spelling, once checked (DestinationRefused when it
    may not be reached); None when `host` is a name. An HTTP client connects to an address
    written in a URL without asking a resolver, so this is its check."""
    literal = destinations.literal_address(host)
    if literal is not None:
        _check(host, literal, allowed)
    return literal


def _check(host: str, address: IPAddress, allowed: tuple[Network, ...]) -> None:
    reason = destinations.refusal(address, allowed)
    if reason is not None:
        raise DestinationRefused(host, address, reason)


class CheckedResolver(AbstractResolver):
    """aiohttp's resolver, answering only with addresses requests may go to: the connection
    goes to an address it gave."""

    def __init__(self, allowed: tuple[Network, ...], resolver: Resolve = resolve) -> None:
        self._allowed = allowed
        self._resolver = resolver

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        addresses = await allowed_addresses(host, port, self._allowed, self._resolver)
        return [ResolveResult(hostname=host, host=str(address), port=port,
                              family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST)
                for address in addresses]

    async def close(self) -> None:
        """Nothing held."""
