"""The actors' loops wait on an event with a time limit, and a close cancels the wait at once."""

from __future__ import annotations

import asyncio
import time

import pytest

from tocsin.actors.waiting import wait_set


async def test_it_answers_whether_the_event_was_set_in_time() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, event.set)

    assert await wait_set(event, 5.0) is True
    assert await wait_set(asyncio.Event(), 0.01) is False


async def test_a_cancelled_wait_ends_at_once_not_when_its_time_is_up() -> None:
    waiting = asyncio.create_task(wait_set(asyncio.Event(), 30.0))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    waiting.cancel()

    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert waiting.cancelled() and time.monotonic() - started < 1.0
