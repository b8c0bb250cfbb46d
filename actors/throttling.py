"""Per-person throttles over a claim: which claimed rows go out now, each alone or one row
carrying a bundle of others, and which wait.

Pages to one contact method past its throttle rules go out as one bundle when the window
has room, and wait (back to pending until then, the claim not counted as a round) when it
has none. Counted against the window: what the database says was sent to that contact
method, and what this actor is still sending to it (dispatched, not yet settled), as if sent
just now, so that a decision of one round counts the messages another round (the express
lane beside it) has under way. Rows of any other kind (verification codes) are never held.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from tocsin.actors.domain.throttle import ThrottleRule, decide
from tocsin.actors.holdings import Row
from tocsin.actors.store import outbox


@dataclass(frozen=True, slots=True)
class Send:
    """One message to send: a claimed row, alone or carrying others a throttle held back."""

    row: Row
    bundle: tuple[Row, ...] = ()

    @property
    def rows(self) -> tuple[Row, ...]:
        return (self.row, *self.bundle)


class Throttles:
    def __init__(self, rules: list[ThrottleRule], stats: MutableMapping[str, int]) -> None:
        self._rules = rules
        self._stats = stats  # counts "throttled"
        self._sending_to: dict[str, int] = defaultdict(int)  # contact method -> sends dispatched, not settled

    async def plan(self, conn: asyncpg.Connection, rows: list[Row], now: datetime) -> list[Send]:
        """What to send now. Rows a throttle holds back go back to pending until the window
        has room; rows in no send returned are those."""
        pages: dict[str, list[Row]] = defaultdict(list)
        plan: list[Send] = []
        for row in rows:
            if row["kind"] == "page":
                pages[row["contact_method_id"]].append(row)
            else:
                plan.append(Send(row))
        if not pages:
            return plan
        window = max(rule.window_s for rule in self._rules)
        sent = await outbox.recent_sends(conn, list(pages), now - timedelta(seconds=window))
        for method, waiting in pages.items():
            times = [at.timestamp() for at in sent.get(method, [])]
            times += [now.timestamp()] * self._sending_to.get(method, 0)  # as if sent just now
            decision = decide(self._rules, times, now.timestamp(), len(waiting))
            plan += [Send(row) for row in waiting[: decision.send]]
            if decision.bundle:
                plan.append(Send(waiting[decision.send], tuple(waiting[decision.send + 1:])))
            elif decision.send == 0:
                later = now + timedelta(seconds=decision.wait_s)
                await outbox.hold(conn, [row["id"] for row in waiting], later, now)
                self._stats["throttled"] += len(waiting)
        return plan

    def dispatched(self, send: Send) -> None:
        """`send` is on its way: counted against its contact method's window until `settled`."""
        self._sending_to[send.row["contact_method_id"]] += 1

    def settled(self, send: Send) -> None:
        method = send.row["contact_method_id"]
        self._sending_to[method] -= 1
        if not self._sending_to[method]:
            del self._sending_to[method]
