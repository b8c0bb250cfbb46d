"""Tries whose outcome is unknown: their sender died between a provider's answer and writing
it down, leaving the row "sending" until it was claimed again (its lease ran out, or the
restarted sender released it). Before such a row is sent again, each of the channel's
providers that can be asked (`Traceable`) is asked whether it took the message then; if one
did, the try is recorded as sent with that provider's message id and nothing is sent.

A message found is one that no attempt records yet (another row's message with the same
words is that row's), and one taken for a row here is not taken again for another. A
provider that cannot be asked, or does not answer within the provider timeout, leaves the
message to be sent again: at least once, never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from tocsin.actors.providers.base import Outgoing, Provider, Traceable
from tocsin.actors.sent_keys import SentKeys
from tocsin.actors.settling import Connect
from tocsin.actors.store import outbox

log = logging.getLogger(__name__)

REMEMBERED = 10_000  # messages taken for rows here, remembered so as not to take one twice


class InDoubt:
    def __init__(self, channel: str, providers: Sequence[Provider], connection: Connect, timeout_s: float) -> None:
        self._channel = channel
        self._providers = [p for p in providers if isinstance(p, Traceable)]
        self._connection = connection
        self._timeout_s = timeout_s
        self._taken = SentKeys(REMEMBERED)  # (provider, message id)

    @property
    def askable(self) -> bool:
        """Whether any of the channel's providers can be asked."""
        return bool(self._providers)

    async def find(self, message: Outgoing, since: datetime) -> tuple[str, str] | None:
        """(provider, message id) of the message a provider took for this row since
        `since` (no later than its last try), or None: send it."""
        for provider in self._providers:
            try:
                listed = await asyncio.wait_for(provider.sent_since(message, since), self._timeout_s)
            except Exception as exc:  # noqa: BLE001 - not knowing is sending again, never failing the row
                log.warning("channel %s: cannot ask %s whether it took notification %s, which is sent again: %s",
                            self._channel, provider.name, message.notification_id, exc)
                continue
            candidates = [m for m in listed if (provider.name, m) not in self._taken]
            if not candidates:
                continue
            async with self._connection() as conn:
                known = await outbox.recorded(conn, provider.name, candidates)
            for message_id in candidates:
                if message_id not in known:
                    self._take(provider.name, message_id)
                    log.info("channel %s: %s took notification %s as %s before its sender died; recorded, not sent"
                             " again", self._channel, provider.name, message.notification_id, message_id)
                    return provider.name, message_id
        return None

    def _take(self, provider: str, message_id: str) -> None:
        self._taken.first((provider, message_id))
