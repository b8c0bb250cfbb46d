"""Rounds: what a detached monitor actor does again and again until it is closed.

A monitor (the heartbeat monitor, the shift-notice monitor) owns a small pool of database
connections and a loop of rounds. One round that fails, or finds the database away, is
logged and the next one follows, so the loop outlives any one bad round; the sleep between
rounds is only the wake-up, since what is due is read from the clock and the rows. Tests
make a monitor without a loop (`background=False`) and drive its rounds themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from tocsin.actors.background import Background
from tocsin.actors.store.database import UNAVAILABLE, Database

log = logging.getLogger(__name__)

RETRY_S = 1.0  # the sleep after a round that failed


class RoundsMonitor:
    """The loop, the statistics and the closing that every monitor shares; a monitor says
    what one round of its loop does."""

    def __init__(self, name: str, label: str, database_url: str, stats: dict[str, int], background: bool,
                 looped_round: Callable[[], Awaitable[float]]) -> None:
        """`name`: the actor's name, reported in stats; `label`: how logs call it;
        `background=False`: no loop of its own; `looped_round`: one round of the loop, answering
        the seconds to sleep before the next."""
        self._one_round = looped_round
        self._name = name
        self._label = label
        self._database = Database(database_url, max_size=2)
        self._stats = stats
        self._rounds = Background(self._loop) if background else None
        with contextlib.suppress(RuntimeError):  # no loop yet: started by the first call
            asyncio.get_running_loop()
            self._start()

    async def stats(self) -> dict[str, Any]:
        self._start()
        return {"name": self._name, "pid": os.getpid(), **self._stats}

    async def close(self) -> None:
        if self._rounds is not None:
            await self._rounds.stop()
        await self._database.close()

    def _start(self) -> None:
        if self._rounds is not None:
            self._rounds.start()

    async def _loop(self) -> None:
        while True:
            wait = RETRY_S
            try:
                wait = await self._one_round()
            except UNAVAILABLE as exc:
                log.warning("%s: cannot reach the database: %r", self._label, exc)
            except Exception:  # noqa: BLE001 - the loop must outlive any one bad round
                log.exception("%s: round failed", self._label)
            if wait > 0:
                await asyncio.sleep(wait)
