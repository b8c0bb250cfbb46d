"""Waiting for an event with a time limit, in the loops that actors cancel when they close.

`asyncio.wait_for(event.wait(), timeout)` was seen, on CPython 3.11, to hold up a cancel: a
shard closed after a failed commit waited out its timer's whole sleep (30 s) before its close
returned. `asyncio.timeout` around the wait is cancelled at once.
"""

from __future__ import annotations

import asyncio


async def wait_set(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until `event` is set or `timeout_s` has passed; whether it was set."""
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return False
    return True
