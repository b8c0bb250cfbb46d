"""A shard's cache of who gets paged: service settings, policies, schedules, people, and
who is on call per schedule.

A storm must not recompute schedules per alert, and a change must be visible to the next
page. So everything is cached, and before paging (or opening an incident, which reads the
service's policy) the shard compares the paging epoch, which every change to this
configuration bumps in the database; when it moved, the cache is emptied and reloaded.
On-call answers are kept per schedule, per schedule version and per minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

import asyncpg

from tocsin.actors.domain.batch_plan import PlannedPage
from tocsin.actors.domain.escalation_state import Policy, Target, TargetKind
from tocsin.actors.domain.incident_escalation import ServiceConfig
from tocsin.actors.domain.paging import Lookup, Person
from tocsin.actors.domain.schedule import on_call
from tocsin.actors.store import paging as store
from tocsin.actors.store.paging import StoredSchedule

# Bound on cached on-call answers (schedules x minutes); past it the oldest half goes.
_ONCALL_ENTRIES = 50_000


class PagingDirectory:
    def __init__(self) -> None:
        self._epoch: int | None = None
        self.configs: dict[str, ServiceConfig] = {}
        self.policies: dict[str, Policy] = {}
        self._schedules: dict[str, StoredSchedule | None] = {}
        self._people: dict[str, Person | None] = {}
        self._oncall: dict[tuple[str, int, datetime], list[str]] = {}
        self.stats = {"oncall_hits": 0, "oncall_misses": 0, "reloads": 0}

    @property
    def ready(self) -> bool:
        """Whether the epoch has been read once: until then nothing cached can be trusted."""
        return self._epoch is not None

    async def refresh(self, conn: asyncpg.Connection) -> bool:
        """True when the configuration changed since it was cached (the cache is then empty)."""
        current = await store.epoch(conn)
        if current == self._epoch:
            return False
        self._epoch = current
        self.configs.clear()
        self.policies.clear()
        self._schedules.clear()
        self._people.clear()
        self.stats["reloads"] += 1
        return True

    async def load(
        self, conn: asyncpg.Connection, service_ids: Iterable[str], policy_ids: Iterable[str | None] = (),
        now: datetime | None = None,
    ) -> None:
        """Make sure these services' settings and these policies (and the services' own) are cached."""
        missing = [s for s in set(service_ids) if s not in self.configs]
        if missing:
            self.configs.update(await store.service_configs(conn, missing, now or datetime.now(timezone.utc)))
        wanted = {p for p in policy_ids if p} | {self.configs[s].policy_id for s in service_ids if s in self.configs}
        lacking = [p for p in wanted if p and p not in self.policies]
        if lacking:
            self.policies.update(await store.policies(conn, lacking))

    def config(self, service_id: str) -> ServiceConfig:
        return self.configs.get(service_id, ServiceConfig())

    async def lookup(self, conn: asyncpg.Connection, pages: Iterable[PlannedPage], at: datetime) -> Lookup:
        """Load what these pages need and answer, for each target, who it is at `at`."""
        targets = {target for planned in pages for target in planned.page.targets}
        await self._load_schedules(conn, [t.id for t in targets if t.kind is TargetKind.SCHEDULE], at)
        minute = at.replace(second=0, microsecond=0)
        users = {t.id for t in targets if t.kind is TargetKind.USER}
        for target in targets:
            if target.kind is TargetKind.SCHEDULE:
                users.update(self._on_call(target.id, minute))
        await self._load_people(conn, users)
        return lambda target: self._who(target, minute)

    def _who(self, target: Target, minute: datetime) -> tuple[list[Person], str | None]:
        if target.kind is TargetKind.USER:
            person = self._people.get(target.id)
            return ([person], None) if person else ([], f"user {target.id} no longer exists")
        stored = self._schedules.get(target.id)
        if stored is None:
            return [], f"schedule {target.id} no longer exists"
        people = [p for uid in self._on_call(target.id, minute) if (p := self._people.get(uid))]
        return people, None if people else f"schedule {stored.name}: nobody on call"

    def _on_call(self, schedule_id: str, minute: datetime) -> list[str]:
        stored = self._schedules.get(schedule_id)
        if stored is None:
            return []
        key = (schedule_id, stored.version, minute)
        found = self._oncall.get(key)
        if found is not None:
            self.stats["oncall_hits"] += 1
            return found
        self.stats["oncall_misses"] += 1
        if len(self._oncall) >= _ONCALL_ENTRIES:
            for stale in list(self._oncall)[: _ONCALL_ENTRIES // 2]:
                del self._oncall[stale]
        found = self._oncall[key] = on_call(stored.schedule, minute)
        return found

    async def _load_schedules(self, conn: asyncpg.Connection, ids: list[str], at: datetime) -> None:
        missing = [s for s in ids if s not in self._schedules]
        if missing:
            found = await store.schedules(conn, missing, at)
            self._schedules.update({s: found.get(s) for s in missing})

    async def _load_people(self, conn: asyncpg.Connection, ids: set[str]) -> None:
        missing = [u for u in ids if u not in self._people]
        if missing:
            found = await store.people(conn, missing)
            self._people.update({u: found.get(u) for u in missing})

    @property
    def cached(self) -> Mapping[str, int]:
        return {"schedules": len(self._schedules), "people": len(self._people), "oncall": len(self._oncall)}
