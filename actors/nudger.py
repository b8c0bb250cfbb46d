"""Waking channel actors: the shards and the gateway tell the actor of each channel that
rows of its fell due now, instead of leaving them to its next poll.

A nudge is a hint, fired and forgotten: a channel actor also polls (every second), so a
nudge lost, or sent to a channel with no actor, delays a row by a poll at most and never
loses it. Imports Ray and nothing of the providers, so any process may hold a nudger.

Looking an actor up by name (`ray.get_actor`) blocks its caller while Ray asks its control
store: half a second was measured here for a shard's first lookup, during which its whole
event loop stood still, the first page of a new incident waiting in the batch. So inside a
running event loop a lookup happens in a thread, and the nudge goes out once it is done;
`warm` starts the lookups ahead, before anything falls due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

import ray

log = logging.getLogger(__name__)

WARM_RETRY_S = 1.0
WARM_ATTEMPTS = 120  # channels without an actor after two minutes are looked up when nudged


def channel_name(channel: str) -> str:
    """The name the channel's actor is registered under in its Ray namespace."""
    return f"tocsin-channel-{channel}"


class ChannelNudger:
    """Wakes channel actors when rows are due now. Looks each one up by name once and keeps
    the handle (a named actor's handle outlives its restarts); a channel with no actor (no
    provider configured) is looked up again only after `retry_s`, as one may be started."""

    def __init__(self, namespace: str, retry_s: float = 30.0) -> None:
        self._namespace = namespace
        self._retry_s = retry_s
        self._handles: dict[str, tuple[Any, float]] = {}  # channel -> (handle or None, looked up at)
        self._looking: dict[str, asyncio.Task[None]] = {}  # channel -> its lookup under way
        self._nudge_when_found: set[str] = set()  # channels nudged while their lookup was under way
        self._warming: asyncio.Task[None] | None = None

    def nudge(self, channels: Iterable[str]) -> None:
        for channel in channels:
            handle = self._handle(channel, nudge_when_found=True)
            if handle is not None:
                handle.nudge.remote()  # fire and forget: the actor also polls

    def warm(self, channels: Iterable[str]) -> None:
        """Look these channels' actors up now, in the background of the running loop, and
        those not found again every `WARM_RETRY_S` for a while (a shard may start before the
        channel actors do), so that no nudge waits for a lookup. Nudges nothing."""
        if self._warming is None or self._warming.done():
            self._warming = asyncio.create_task(self._keep_warm(tuple(channels)))

    async def close(self) -> None:
        """Cancel the lookups under way (each ends when Ray answers; none is waited for)."""
        for task in [*self._looking.values(), *([self._warming] if self._warming else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_warm(self, channels: tuple[str, ...]) -> None:
        for _ in range(WARM_ATTEMPTS):
            missing = [c for c in channels if self._handles.get(c, (None, 0.0))[0] is None and c not in self._looking]
            for channel in missing:  # a nudge meanwhile goes out once its channel is found
                self._looking[channel] = asyncio.create_task(self._look_up_aside(channel))
            await asyncio.gather(*(self._looking[c] for c in missing if c in self._looking), return_exceptions=True)
            if all(self._handles.get(c, (None, 0.0))[0] is not None for c in channels):
                return
            await asyncio.sleep(WARM_RETRY_S)

    def _handle(self, channel: str, nudge_when_found: bool) -> Any:
        """The channel's actor when it is known; else None, its lookup started when one is due:
        at once outside an event loop, in a thread inside one."""
        handle, looked_at = self._handles.get(channel, (None, float("-inf")))
        if handle is not None or time.monotonic() - looked_at < self._retry_s:
            return handle
        if channel in self._looking:
            if nudge_when_found:
                self._nudge_when_found.add(channel)
            return None
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._looked_up(channel)
        if nudge_when_found:
            self._nudge_when_found.add(channel)
        self._looking[channel] = asyncio.create_task(self._look_up_aside(channel))
        return None

    async def _look_up_aside(self, channel: str) -> None:
        try:
            handle = await asyncio.to_thread(self._looked_up, channel)
        except Exception as exc:  # noqa: BLE001 - Ray away: looked up again after retry_s
            log.warning("channel %s: looking up its actor failed: %r", channel, exc)
            self._handles[channel] = (None, time.monotonic())
            handle = None
        finally:
            self._looking.pop(channel, None)
        if handle is not None and channel in self._nudge_when_found:
            handle.nudge.remote()
        self._nudge_when_found.discard(channel)

    def _looked_up(self, channel: str) -> Any:
        try:
            handle = ray.get_actor(channel_name(channel), namespace=self._namespace)
        except ValueError:
            handle = None  # nothing runs for it: its rows wait, listed by /api/v1/channels
        self._handles[channel] = (handle, time.monotonic())
        return handle
