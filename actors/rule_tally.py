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
from collections.abc import Iterable
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

    def count(self, verdicts: Iterable[Verdict], router_id: str | None, now: datetime) -> None:
        """The verdicts of one request's alerts, at `now`; `router_id`: the router integration
        they came through. Alike verdicts (the same rules matched, the same drop) are added up
        first: in a storm, most of a request's alerts meet the same rules."""
        minute = now.replace(second=0, microsecond=0)
        alike = Counter((verdict.rules, _dropped(verdict, router_id)) for verdict in verdicts)
        matches, totals = self._matches, self._totals
        for (rules, dropped), times in alike.items():
            for rule_id in rules:
                matches[rule_id, minute] += times
                totals["matched", rule_id] += times
            if dropped is not None:
                totals[dropped] += times

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


def _dropped(verdict: Verdict, router_id: str | None) -> tuple[store.Total, str] | None:
    """The total a dropped alert adds to: the service whose rules dropped it, or the router
    whose catch-all did; None for an alert not dropped."""
    if verdict.disposition != Disposition.DROP:
        return None
    if verdict.service_id is None:
        return "dropped_by_router", router_id or ""
    return "dropped_by_rules", verdict.service_id
