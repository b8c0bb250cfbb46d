"""Raw alerts (with source requests and the ids of Twilio requests acted on) are pruned in
the background by the gateway replicas: whichever holds the lock prunes, once an hour, what
is older than the retention period; routing rules' match counts, older than two days; audit
log entries, older than theirs (TOCSIN_AUDIT_RETENTION_DAYS)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg

from tocsin.actors.store import audit as audit_store
from tocsin.actors.store import retention as store
from tocsin.actors.store import rules as rule_store
from tocsin.actors.store.database import UNAVAILABLE

log = logging.getLogger(__name__)

INTERVAL_S = 3600.0
FIRST_RUN_S = 60.0  # after a start, let the replica settle first
MATCHES_KEPT = timedelta(days=2)


class RetentionJob:
    def __init__(self, pool: Callable[[], Awaitable[asyncpg.Pool]], days: int,
                 now: Callable[[], datetime], audit_days: int) -> None:
        self._pool = pool
        self._days = days
        self._audit_days = audit_days
        self._now = now
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Runs in the background from now on (a raw alerts' retention of 0 days keeps them;
        the audit log always has one)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop())

    async def run_once(self) -> int:
        """Prune once; the number of raw alerts and their kin deleted."""
        before = self._now() - timedelta(days=self._days)
        async with (await self._pool()).acquire() as conn:
            deleted = await store.prune(conn, before) if self._days > 0 else 0
            # Rules' match counts are read for the last day only.
            await rule_store.prune_matches(conn, self._now() - MATCHES_KEPT)
            entries = await audit_store.prune(conn, self._now() - timedelta(days=self._audit_days))
        if entries:
            log.info("pruned %d audit log entries older than %d days", entries, self._audit_days)
        if deleted:
            log.info("pruned %d raw alerts, source requests and Twilio request ids received before %s", deleted,
                     before.isoformat())
        return deleted

    async def _loop(self) -> None:
        await asyncio.sleep(FIRST_RUN_S)
        while True:
            try:
                await self.run_once()
            except UNAVAILABLE as exc:
                log.warning("pruning raw alerts failed, retrying in an hour: %r", exc)
            await asyncio.sleep(INTERVAL_S)
