"""Knowing, inside a gateway replica, that the Serve application is going away, so that the
live stream ends cleanly instead of holding the replica's drain until Serve kills it.

Serve has no public hook for a replica that starts draining: it waits for its ongoing
requests (a stream never finishes by itself) up to `graceful_shutdown_timeout_s`, and runs
the destructor only after that. `serve.status()` does say when the application is being
deleted, which is how `tocsin up` stops; while streams are open, one watcher per replica
asks every few seconds. A replica stopped on its own (a scale-down, a redeploy) is still
cut at the timeout, and EventSource resumes from its last id on another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from ray import serve
from ray.serve.exceptions import RayServeException
from ray.serve.schema import ApplicationStatus

log = logging.getLogger(__name__)

POLL_S = 2.0


def app_is_closing() -> bool:
    """Whether this replica's application is being deleted (False outside a replica)."""
    try:
        app_name = serve.get_replica_context().app_name
    except RayServeException:
        return False
    app = serve.status().applications.get(app_name)
    return app is None or app.status == ApplicationStatus.DELETING


class AppClosing:
    """An event set once the application is closing, watched only while someone holds it."""

    def __init__(self, probe: Callable[[], bool] = app_is_closing, poll_s: float = POLL_S) -> None:
        self._probe = probe
        self._poll_s = poll_s
        self._holders = 0
        self._closing: asyncio.Event | None = None
        self._watcher: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[asyncio.Event]:
        if self._closing is None:
            self._closing = asyncio.Event()
        self._holders += 1
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch(self._closing))
        try:
            yield self._closing
        finally:
            self._holders -= 1

    async def _watch(self, closing: asyncio.Event) -> None:
        while self._holders > 0 and not closing.is_set():
            try:
                if await asyncio.to_thread(self._probe):  # a controller call: off the loop
                    closing.set()
                    return
            except Exception as exc:  # noqa: BLE001 - a failed look is not a reason to close
                log.debug("cannot read the Serve status: %r", exc)
            await asyncio.sleep(self._poll_s)


closing = AppClosing()
