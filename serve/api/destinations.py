"""Webhook, Slack, Teams and browser push service URLs checked where they are given: one whose host is, or resolves to,
an internal address is refused (422) unless the operator allows its network. Each send
checks again (actors/providers/resolver.py), where a changed DNS answer cannot slip
through; this check tells the user at once.

Only an admin learns what a name resolves to: anyone else is told that it does not resolve
to a public address, so the refusal maps no part of the internal network.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from tocsin.actors.domain import destinations
from tocsin.actors.domain.accounts.access import Caller, Role
from tocsin.actors.providers.resolver import DestinationRefused, Resolve, allowed_addresses, resolve
from tocsin.actors.settings import Settings
from tocsin.serve.errors import invalid

CHECKED_KINDS = frozenset({"slack", "webhook", "webpush", "teams"})
RESOLVE_TIMEOUT_S = 5.0
_ONLY_PUBLIC = "requests go to public addresses only, unless an operator allows the network"
# Said alike of a name that resolves inside and of one that does not resolve at all.
_NOT_PUBLIC = "{host} does not resolve to a public address"


async def refuse_internal(kind: str, address: str, settings: Settings, caller: Caller,
                          resolver: Resolve = resolve) -> None:
    """422 on `address` when it is a URL (of a kind Tocsin sends requests to) whose host may
    not be reached."""
    problem = await destination_problem(kind, address, settings, caller.has(Role.ADMIN), resolver)
    if problem is not None:
        raise invalid(("address", problem))


async def destination_problem(kind: str, address: str, settings: Settings, detailed: bool,
                              resolver: Resolve = resolve) -> str | None:
    """Why `address` may not be reached, or None. Anything but a URL (a Slack channel id) is
    for address_problem to judge."""
    if kind not in CHECKED_KINDS:
        return None
    host, port = _host_and_port(address)
    if host is None:
        return None
    try:
        await asyncio.wait_for(allowed_addresses(host, port, settings.allowed_destinations, resolver),
                               RESOLVE_TIMEOUT_S)
    except DestinationRefused as refused:
        # What the user typed may be said back; what a name resolves to, to admins only.
        shown = str(refused) if detailed or destinations.literal_address(host) is not None else None
        return _refusal(kind, shown or _NOT_PUBLIC.format(host=host))
    except (OSError, asyncio.TimeoutError):
        return _refusal(kind, f"{host} does not resolve" if detailed else _NOT_PUBLIC.format(host=host))
    return None


def _host_and_port(address: str) -> tuple[str | None, int]:
    try:
        url = urlsplit(address)
        port = url.port
    except ValueError:
        return None, 0
    return url.hostname, port or (443 if url.scheme == "https" else 80)


def _refusal(kind: str, why: str) -> str:
    return f"{kind} destination not allowed: {why}; {_ONLY_PUBLIC}"
