"""What the e-mail providers accept as an address: exactly one mailbox, nothing that could
smuggle in a header or a second recipient."""

from __future__ import annotations

import re

from tocsin.actors.providers.base import ProviderError

MAILBOX = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+$")


def check_address(provider: str, address: str) -> None:
    if not MAILBOX.match(address):
        raise ProviderError(f"{provider}: not an e-mail address", retryable=False)
