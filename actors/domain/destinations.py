"""Where Tocsin may send a request of its own (webhooks, Slack): public addresses only,
unless an operator allows some of their networks. Pure: the caller resolves names and asks
about each address they resolved to.

A webhook or Slack URL is typed by a user. Sent as it is, it would let anyone with a
responder's role make Tocsin call the cloud's metadata service, its own database or any
host of the private network, and read the answers back from the delivery errors. So a
destination is refused when it is, or resolves to, a loopback, private, link-local, shared
(carrier-grade NAT), multicast, reserved, unspecified or metadata address, also when an
IPv6 address carries such an IPv4 address inside it (IPv4-mapped, 6to4, NAT64).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance metadata services: AWS, GCP, Azure and OpenStack (and AWS over IPv6), ECS
# task metadata, Alibaba Cloud. Most are link-local anyway; named so the refusal says why.
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200",
))
SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT: not on the internet
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits


def parse_networks(text: str) -> tuple[Network, ...]:
    """The networks of a comma-separated list of CIDRs ("10.0.0.0/8, fd00::/8"; a bare address
    is its own /32 or /128). Raises ValueError naming the first entry that is not one."""
    networks: list[Network] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry))
        except ValueError as exc:
            raise ValueError(f"{entry!r} is not a network in CIDR form such as 10.0.0.0/8 or fd00::/8: {exc}") from None
    return tuple(networks)


def literal_address(host: str) -> IPAddress | None:
    """The address `host` spells, in any spelling a resolver takes as an address rather than a
    name: "[::1]", "::ffff:127.0.0.1", and the old IPv4 forms "0x7f000001", "2130706433",
    "0177.0.0.1", "127.1". None when `host` is a name."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return _classic_ipv4(text)


def _classic_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """inet_aton's reading: one to four parts, each decimal, octal (leading 0) or hex (0x);
    the last part fills the bytes the others left."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_number(part) for part in parts]
    if any(n is None for n in numbers):
        return None
    *leading, last = [n for n in numbers if n is not None]
    if any(n > 0xFF for n in leading) or last >= 1 << (8 * (4 - len(leading))):
        return None
    value = last
    for index, byte in enumerate(leading):
        value |= byte << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _number(part: str) -> int | None:
    lowered = part.lower()
    if lowered.startswith("0x"):
        base, digits = 16, lowered[2:]
    elif len(lowered) > 1 and lowered.startswith("0"):
        base, digits = 8, lowered[1:]
    else:
        base, digits = 10, lowered
    # isalnum keeps out what int() would forgive: signs, spaces, underscores.
    if not digits or not digits.isascii() or not digits.isalnum():
        return None
    try:
        return int(digits, base)
    except ValueError:
        return None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through (IPv4-mapped, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress, allowed: Iterable[Network] = ()) -> str | None:
    """Why a request may not go to `address` ("a loopback address"); None when it may: a
    public address, or one in a network the operator allowed."""
    # An IPv6 address carrying an IPv4 one reaches that IPv4 address: it is judged instead.
    target = embedded_ipv4(address) or address
    networks = tuple(allowed)
    if any(candidate in network for candidate in (address, target) for network in networks):
        return None
    return _kind(target)


def _kind(address: IPAddress) -> str | None:
    """What makes `address` internal, or None when it is public."""
    if address in METADATA:
        return "a cloud metadata address"
    named = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address in SHARED, "a shared (carrier-grade NAT) address"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "a site-local address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for matches, reason in named if matches), None)
