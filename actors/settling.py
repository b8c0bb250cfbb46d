"""Writing how each claimed row's tries went, so that no outcome is lost to a database that
is away for a while.

Outcomes are written many per commit (a channel sending hundreds of messages a second waits
for the disk once per group). An outcome that cannot be written, because the database is
restarting, failing over or dropped the connection, is kept and written again, with
back-off, until it lands: `settle` returns only then. Its row stays with its sender
meanwhile (the sender's claims pass it over), so a message a provider took is never sent
again because its outcome was late. Writing again after a commit whose answer was lost
records nothing twice (`outbox.settle` changes rows still "sending" only).

An outcome the database refuses for its data (split from the rest of its group, written
alone) is given up and logged: its row is claimed again once its lease runs out, and sent
again (at least once). Anything else is taken for the database being away, and retried
for as long as this process lives.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import asyncpg

from tocsin.actors.attempt import storable
from tocsin.actors.batcher import Batcher, BatchFailed
from tocsin.actors.isolation import refuses_data
from tocsin.actors.store import outbox

log = logging.getLogger(__name__)

FIRST_RETRY_S = 0.25
MAX_RETRY_S = 5.0  # back-off cap: an outcome lands within this long of the database's return

Connect = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


class Settler:
    def __init__(self, channel: str, connection: Connect, max_items: int) -> None:
        self._channel = channel
        self._connection = connection
        self._batcher = Batcher[outbox.Settlement, str | None](self._write, max_items=max_items, max_delay_s=0)
        self.waiting = 0  # outcomes kept until the database answers

    async def settle(self, settlement: outbox.Settlement) -> bool:
        """Written: True; refused for its data: False. Until then, kept and written again
        after growing pauses (with jitter, so that the outcomes kept do not all come back
        at once)."""
        delay = 0.0
        try:
            while True:
                try:
                    refused = await self._batcher.submit(settlement)
                    break
                except BatchFailed:
                    if not delay:
                        self.waiting += 1
                    delay = min(MAX_RETRY_S, delay * 2 or FIRST_RETRY_S)
                    await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        finally:
            if delay:
                self.waiting -= 1
        if refused is not None:
            log.error("channel %s: the database refused the outcome of notification %s (%s); it is claimed"
                      " again when its lease runs out", self._channel, settlement.notification_id, refused)
        return refused is None

    async def _write(self, settlements: list[outbox.Settlement]) -> list[str | None]:
        """One commit for the group; when the database refuses its data, one commit per
        outcome, each answered with why it was refused (None: written)."""
        try:
            await self._commit(settlements)
            return [None] * len(settlements)
        except Exception as exc:  # noqa: BLE001 - classified below
            if not refuses_data(exc):
                log.warning("channel %s: cannot write the outcomes of %d notifications, kept until the database"
                            " answers: %r", self._channel, len(settlements), exc)
                raise
        results: list[str | None] = []
        for settlement in settlements:
            try:
                await self._commit([settlement])
                results.append(None)
            except Exception as exc:  # noqa: BLE001 - a refusal is this one's, anything else the group's
                if not refuses_data(exc):
                    raise
                results.append(storable(f"{type(exc).__name__}: {exc}"))
        return results

    async def _commit(self, settlements: list[outbox.Settlement]) -> None:
        async with self._connection() as conn:
            await outbox.settle(conn, settlements)
