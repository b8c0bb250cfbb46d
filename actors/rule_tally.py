"""How often routing rules acted, counted where alerts come in and added to Postgres every few
seconds.

`RuleTally` counts in memory each rule that matched an alert, per minute (what the Rules page's
last hour and last day read, `rule_matches`), and each alert dropped, by the service whose rules
dropped it or the router whose catch-all did. `flush()` adds what was counted since the last
flush to `rule_matches` and to the running totals /metrics reports (`rule_totals`) in one
transaction, and forgets it only once committed: a database that is away keeps the counts for
the next flush. `start()` flushes every `flush_s` in the background of the running loop,
`stop()` once more at the end. Counting is a few dict updates; nothing waits on the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime

from tocsin.actors.background import Background
from tocsin.actors.domain.rule_verdict import Verdict
from tocsin.actors.domain.rules import Disposition
from tocsin.actors.store import rules as store
from tocsin.actors.store.database import UNAVAILABLE, Database

log = logging.getLogger(__name__)

FLUSH_S = 3.0


class RuleTally:
    """Matches per rule per minute and dropped alerts, counted here and flushed (see the module)."""

    def __init__(self, database: Database, flush_s: float = FLUSH_S) -> None:
        self._database = database
        self._flush_s = flush_s
        self._matches: Counter[tuple[str, datetime]] = Counter()
        self._totals: Counter[tuple[store.Total, str]] = Counter()
        self._lock = asyncio.Lock()
        self._background = Background(self._flushing)

    def count(self, verdict: Verdict, router_id: str | None, now: datetime) -> None:
        """One alert's verdict, at `now`; `router_id`: the router integration it came through."""
        minute = now.replace(second=0, microsecond=0)
        for rule_id in verdict.rules:
            self._matches[rule_id, minute] += 1
            self._totals["matched", rule_id] += 1
        if verdict.disposition == Disposition.DROP:
            if verdict.service_id is None:
                self._totals["dropped_by_router", router_id or ""] += 1
            else:
                self._totals["dropped_by_rules", verdict.service_id] += 1

    @property
    def pending(self) -> int:
        """How many counts wait for the next flush."""
        return len(self._matches) + len(self._totals)

    async def flush(self) -> None:
        """Add what was counted to Postgres; kept for the next flush when that fails."""
        async with self._lock:
            if not self._matches and not self._totals:
                return
            matches, totals = self._matches, self._totals
            self._matches, self._totals = Counter(), Counter()
            try:
                async with self._database.connection() as conn, conn.transaction():
                    await store.add_matches(conn, matches)
                    await store.add_totals(conn, totals)
            except BaseException:
                self._matches.update(matches)
                self._totals.update(totals)
                raise

    def start(self) -> None:
        """Flush every `flush_s` from now on (once; later calls do nothing)."""
        self._background.start()

    async def stop(self) -> None:
        """Stop flushing in the background, and flush what is left."""
        await self._background.stop()
        await self.flush()

    async def _flushing(self) -> None:
        while True:
            await asyncio.sleep(self._flush_s)
            try:
                await self.flush()
            except UNAVAILABLE as exc:
                log.warning("cannot add the routing rules' match counts, keeping them: %r", exc)
