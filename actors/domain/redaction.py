"""What a delivery error says to someone who is not an admin. Pure.

Errors are recorded whole, for admins: a provider's answer, a host, a connection error. To
anyone else they would map what lies behind a URL they typed (which hosts answer, and
what), so others are told which provider did not deliver, and why only when the reason is
one that names nothing of the destination: Tocsin's own reasons (a cancellation, a
breaker), and a few about the address as it was typed.
"""

from __future__ import annotations

import re

HIDDEN = "not delivered (admins see why)"

_OWN = frozenset({
    "circuit breaker open: provider skipped",
    "no provider is configured for this channel",
    "the contact method no longer exists",
    "the contact method is switched off (STOP)",
})
_OWN_PREFIXES = ("the incident is ",)
# About the address as typed, said the same whatever is (or is not) behind it.
_ABOUT_THE_ADDRESS = frozenset({
    "destination not allowed", "not a URL", "not an https URL", "not an http(s) URL", "not an e-mail address",
})
_FROM_PROVIDER = re.compile(r"([a-z][a-z0-9_]{0,31}): (.*)", re.DOTALL)


def for_non_admins(error: str | None) -> str | None:
    """`error` as a viewer or responder may read it."""
    if error is None or error in _OWN or error.startswith(_OWN_PREFIXES):
        return error
    match = _FROM_PROVIDER.fullmatch(error)
    if match is None:
        return HIDDEN
    provider, said = match.groups()
    return error if said in _ABOUT_THE_ADDRESS else f"{provider}: {HIDDEN}"
