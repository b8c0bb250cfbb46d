"""Waking channel actors: the shards and the gateway tell the actor of each channel that
rows of its fell due now, instead of leaving them to its next poll.

A nudge is a hint, fired and forgotten: a channel actor also polls (every second), so a
nudge lost, or sent to a channel with no actor, delays a row by a poll at most and never
loses it. Imports Ray and nothing of the providers, so any process may hold a nudger.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import ray


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

    def nudge(self, channels: Iterable[str]) -> None:
        for channel in channels:
            handle = self._handle(channel)
            if handle is not None:
                handle.nudge.remote()  # fire and forget: the actor also polls

    def _handle(self, channel: str) -> Any:
        handle, looked_at = self._handles.get(channel, (None, float("-inf")))
        if handle is None and time.monotonic() - looked_at >= self._retry_s:
            try:
                handle = ray.get_actor(channel_name(channel), namespace=self._namespace)
            except ValueError:
                handle = None  # nothing runs for it: its rows wait, listed by /api/v1/channels
            self._handles[channel] = (handle, time.monotonic())
        return handle
