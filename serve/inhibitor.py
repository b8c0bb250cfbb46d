"""The gateway's inhibition: which open incident, if any, silences an alert under the inhibit
rules, answered from memory and kept current from the event bus.

`OpenSources` is the pure part: the core's `InhibitIndex` (tocsin.actors.domain.rules.inhibition)
and the ids of the incidents known to be open, fed with incidents as loaded from Postgres
(`SourceIncident`) and with the bus's incident events. An event of an open incident it does
not know is an opening, whose source alert it asks to have loaded (the bus carries the
incident, not its payload); an event of a resolved one closes it.

`Inhibitor` is the thin feed around it, one per gateway replica:
- `start()` loads every open incident with the alert that opened it (one query), then follows
  the bus in a task of its own: each read is one batch of events, and the openings in it one
  query. When the bus says events were lost (a reset, or a gap), or a read or a load fails,
  it loads everything again from the bus's newest id on.
- `replace_rules(rules)` rebuilds the index for new rules the same way. With no enabled rule
  it follows nothing and holds nothing.
- `inhibited_by(view, now)` answers from memory: the id of the first rule that inhibits the
  alert, or None. An alert is inhibited from when the bus has carried its source's opening to
  this replica (the publisher's pacing plus a read: well under a second) until it carried
  its resolve.

Every open incident is a source, the suppressed included (as in Alertmanager, where silenced
alerts still inhibit). Its view is built from the incident's summary, severity, source and
dedup key (as the shard stored them, rules' rewrites included) and the payload it was opened
with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from tocsin.actors.bus_types import BusEvent, EventBus
from tocsin.actors.domain.rules import AlertView, InhibitIndex, InhibitRules, view_of
from tocsin.actors.store import incidents as store
from tocsin.actors.store.database import Database

log = logging.getLogger(__name__)

READ_BLOCK_S = 5.0
READ_LIMIT = 500
RETRY_S = 1.0
MAX_RETRY_S = 10.0
_RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class SourceIncident:
    """An open incident and the alert that opened it: its wire format and payload (JSON text)."""

    id: int
    format: str
    payload: str
    summary: str | None = None
    severity: str | None = None
    source: str | None = None
    dedup_key: str | None = None

    def view(self) -> AlertView | None:
        """The alert as rules see it; None when its format has no rule mapping or its payload
        is not a JSON object (it can then match nothing)."""
        try:
            payload = orjson.loads(self.payload)
            if not isinstance(payload, dict):
                return None
            return view_of(self.format, payload, summary=self.summary, severity=self.severity,
                           source=self.source, dedup_key=self.dedup_key, action="trigger")
        except (orjson.JSONDecodeError, ValueError):
            return None


class OpenSources:
    """The inhibit index of one version of the rules, and which incidents are known open. Pure."""

    def __init__(self, rules: InhibitRules) -> None:
        self.rules = rules
        self._index = InhibitIndex(rules)
        self._known: set[int] = set()

    @property
    def active(self) -> bool:
        """Whether any rule is enabled: otherwise nothing is inhibited, nothing need be followed."""
        return any(rule.enabled for rule in self.rules.rules)

    def enter(self, incidents: Iterable[SourceIncident], now: datetime) -> None:
        """Open incidents as loaded: each one known, and kept when it is some rule's source."""
        for incident in incidents:
            self._known.add(incident.id)
            view = incident.view()
            if view is not None:
                self._index.open(incident.id, view, now)

    def follow(self, events: Iterable[BusEvent]) -> set[int]:
        """Apply the bus's events in order; the ids of the incidents they opened, to be loaded
        and `enter`ed (each counts as known from now, so it is asked for once)."""
        opened: set[int] = set()
        for event in events:
            if event.kind != "incident":
                continue
            incident_id, status = _id_and_status(event.data)
            if incident_id is None:
                continue
            if status == _RESOLVED:
                self._index.close(incident_id)
                self._known.discard(incident_id)
                opened.discard(incident_id)
            elif incident_id not in self._known:
                self._known.add(incident_id)
                opened.add(incident_id)
        return opened

    def inhibited_by(self, view: AlertView, now: datetime) -> str | None:
        return self._index.inhibited_by(view, now)

    def __len__(self) -> int:
        """How many open incidents are kept as sources."""
        return len(self._index)


def _id_and_status(data: str) -> tuple[int | None, str | None]:
    try:
        incident = orjson.loads(data).get("incident") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return None, None
    incident_id = incident.get("id")
    return (incident_id if isinstance(incident_id, int) else None), incident.get("status")


class Inhibitor:
    """One gateway replica's inhibition (see the module's docstring for the contract).
    `clock` gives the time rules' time conditions are tested at when an incident is entered."""

    def __init__(self, database: Database, bus: EventBus, rules: InhibitRules, clock: Callable[[], datetime]) -> None:
        self._database = database
        self._bus = bus
        self._clock = clock
        self._sources = OpenSources(rules)
        self._cursor: str | None = None  # None: load everything before following
        self._generation = 0  # a rebuild counts up: a read begun before it is not applied
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.stats = {"loads": 0, "openings": 0, "failures": 0}

    def inhibited_by(self, view: AlertView, now: datetime) -> str | None:
        """The id of the first rule whose open source incident inhibits the alert, or None."""
        return self._sources.inhibited_by(view, now)

    @property
    def sources(self) -> int:
        """How many open incidents are kept as sources of some rule."""
        return len(self._sources)

    async def start(self) -> None:
        """Load the open incidents and follow the bus; raises when the first load fails (the
        caller may retry, or go on: following retries by itself)."""
        if self._sources.active:
            async with self._lock:
                await self._rebuild(self._sources.rules)
        self._ensure_following()

    async def replace_rules(self, rules: InhibitRules) -> None:
        """Use new rules: the index is rebuilt from the open incidents before this returns;
        until then alerts are answered by the previous rules."""
        async with self._lock:
            if any(rule.enabled for rule in rules.rules):
                await self._rebuild(rules)
            else:
                self._sources, self._cursor = OpenSources(rules), None
                self._generation += 1
        self._ensure_following()

    async def close(self) -> None:
        """Stop following (the bus and the database are the caller's to close). A blocking
        read of the Redis client may swallow a cancellation; the feed also stops at the end
        of its step, and is cancelled again until it has."""
        self._closed = True
        task, self._task = self._task, None
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)

    # -- the feed -----------------------------------------------------------------------

    def _ensure_following(self) -> None:
        if not self._closed and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._follow())

    async def _rebuild(self, rules: InhibitRules) -> None:
        """Every open incident, from the bus's newest id on (what follows it is applied after:
        entering or closing an incident twice changes nothing). Called under the lock."""
        cursor = await self._bus.tail()
        async with self._database.connection() as conn:
            rows = await store.open_sources(conn)
        sources = OpenSources(rules)
        sources.enter(_incidents(rows), self._clock())
        self._sources, self._cursor = sources, cursor
        self._generation += 1
        self.stats["loads"] += 1

    async def _follow(self) -> None:
        delay = RETRY_S
        while not self._closed:
            try:
                await self._step()
                delay = RETRY_S
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the feed carries on from a fresh load
                self.stats["failures"] += 1
                log.warning("inhibition: cannot follow open incidents (%r); loading them again in %.0f s",
                            exc, delay)
                self._cursor = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)

    async def _step(self) -> None:
        if not self._sources.active:
            await asyncio.sleep(READ_BLOCK_S)  # nothing to follow until rules come
            return
        cursor, generation = self._cursor, self._generation
        if cursor is None:
            async with self._lock:
                await self._rebuild(self._sources.rules)
            return
        found = await self._bus.read(cursor, READ_BLOCK_S, READ_LIMIT)
        async with self._lock:
            if generation != self._generation:
                return  # rebuilt meanwhile, from a newer cursor
            if found.reset or any(event.kind == "gap" for event in found.events):
                await self._rebuild(self._sources.rules)
                return
            opened = self._sources.follow(found.events)
            if opened:
                async with self._database.connection() as conn:
                    rows = await store.open_sources(conn, sorted(opened))
                self._sources.enter(_incidents(rows), self._clock())
                self.stats["openings"] += len(opened)
            self._cursor = found.cursor


def _incidents(rows: Iterable[Any]) -> list[SourceIncident]:
    return [SourceIncident(r["id"], r["format"], r["payload"], r["summary"], r["severity"], r["source"],
                           r["dedup_key"]) for r in rows if r["format"]]
