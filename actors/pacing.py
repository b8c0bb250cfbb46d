"""A provider's pace: its rate limit handed out to the messages waiting to be sent.

Each waiting message is woken once, when its token is there, and urgent ones (the first
notification of a page, sent ahead of a round) get theirs before the others. Messages that
each slept and looked again woke hundreds of times a second apiece once dozens waited on a
busy provider: in a storm, that polling cost the channel more CPU than the sending itself.
"""

from __future__ import annotations

import asyncio
from collections import deque

from tocsin.actors.domain.ratelimit import RateLimiter


class ProviderPace:
    def __init__(self, rate_per_s: float, burst: int = 1) -> None:
        self._limiter = RateLimiter(rate_per_s, burst)
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()
        self._pump: asyncio.Task[None] | None = None

    async def take(self, urgent: bool = False) -> None:
        """Returns once this message may go to the provider."""
        if not self._urgent and not self._others and self._limiter.take("") is None:
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._others).append(turn)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._hand_out())
        await turn

    @property
    def waiting(self) -> int:
        return len(self._urgent) + len(self._others)

    async def _hand_out(self) -> None:
        while self._urgent or self._others:
            wait = self._limiter.take("")
            if wait is not None:
                await asyncio.sleep(wait)
                continue
            queue = self._urgent if self._urgent else self._others
            turn = queue.popleft()
            if not turn.done():  # a waiter that was cancelled lets its token go unused
                turn.set_result(None)
