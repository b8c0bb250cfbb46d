"""The routing rules a gateway applies, compiled once per change and looked up per alert.

`RuleBook` holds every compiled rule set (actors/domain/rules): each service's
`ServiceRules`, each router integration's `RouterRules` with its wire format, and the global
`InhibitRules`. Its contract:

- Lookups (`service`, `router`, `inhibit`, `has_service`) are dict or set gets on what the last load compiled;
  nothing is compiled per alert. Before the first load every lookup finds nothing (`ready()`
  waits for it).
- `refresh()` reads `rule_generation` (one small query) and, when it moved, loads every set
  in one snapshot and recompiles only the sets whose rules changed (by rule ids and
  versions, and a router's options). The new tables replace the old ones at once.
- `start()` polls `refresh()` every `poll_s` (at most a second) in the background of the
  running event loop; a database that is away is retried at the next poll.
- A set stored that no longer compiles (the core grew stricter) keeps its last compiled
  version, or none; its problems are in `problems` and the log.

Also here, shared by the gateway and the rules API's test: the view of an alert event
(`event_view`) and the index of the open incidents that are sources of inhibit rules
(`load_inhibit_index`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from tocsin.actors.background import Background
from tocsin.actors.domain.events import AlertEvent
from tocsin.actors.domain.rules import (
    FORMATS,
    AlertView,
    InhibitIndex,
    InhibitRules,
    RouterRules,
    RuleErrors,
    ServiceRules,
    compile_inhibit_rules,
    compile_router_rules,
    compile_service_rules,
    view_of,
)
from tocsin.actors.store import rules as store
from tocsin.actors.store.database import UNAVAILABLE, Database

log = logging.getLogger(__name__)

POLL_S = 1.0
NO_INHIBIT_RULES = InhibitRules(())
OTHER_FORMAT = "generic"  # how rules read an alert whose format is not known (none of FORMATS)

SetKey = tuple[store.Kind, str | None]


@dataclass(frozen=True, slots=True)
class Router:
    """A router integration's compiled routes and catch-all, and the format its source sends."""

    integration_id: str
    format: str
    rules: RouterRules


def router_format(config: Mapping[str, Any]) -> str:
    """The wire format a router integration's options name."""
    return str(config.get("format", OTHER_FORMAT))


def compile_router(integration_id: str, config: Mapping[str, Any], specs: Sequence[Any]) -> Router:
    """A router integration's routes (specs in order) with the catch-all of its options;
    RuleErrors naming every problem."""
    return Router(integration_id, router_format(config), compile_router_rules(list(specs), config.get("catch_all")))


@dataclass(frozen=True, slots=True)
class _Tables:
    generation: int
    services: Mapping[str, ServiceRules] = field(default_factory=dict)
    routers: Mapping[str, Router] = field(default_factory=dict)
    inhibit: InhibitRules = NO_INHIBIT_RULES
    existing: frozenset[str] = frozenset()  # the ids of the services that exist
    # What each set was compiled from, so that an unchanged set is not compiled again.
    signatures: Mapping[SetKey, Hashable] = field(default_factory=dict)


class RuleBook:
    """Compiled rule sets by owner, reloaded when `rule_generation` moves (see the module)."""

    def __init__(self, database: Database, poll_s: float = POLL_S) -> None:
        self._database = database
        self._poll_s = min(poll_s, POLL_S)
        self._tables = _Tables(generation=-1)
        self._lock = asyncio.Lock()
        self._loaded = asyncio.Event()
        self._changed = asyncio.Event()  # set, then replaced, at each load
        self._background = Background(self._poll)
        self.problems: dict[SetKey, RuleErrors] = {}
        self.polls = 0  # how many times the generation was read, for tests and metrics
        self.loads = 0  # how many times the rules were loaded

    @property
    def database(self) -> Database:
        """Where the rules are read from (and what their users may read beside them)."""
        return self._database

    # -- per alert ---------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """The generation of the rules held; -1 before the first load."""
        return self._tables.generation

    def service(self, service_id: str) -> ServiceRules | None:
        """The service's rules; None when it has none."""
        return self._tables.services.get(service_id)

    def router(self, integration_id: str) -> Router | None:
        """The router integration's routes; None when no such router is known."""
        return self._tables.routers.get(integration_id)

    @property
    def inhibit(self) -> InhibitRules:
        return self._tables.inhibit

    def has_service(self, service_id: str) -> bool:
        """Whether the service existed at the last load (a route may name one deleted since)."""
        return service_id in self._tables.existing

    # -- loading ---------------------------------------------------------------------------

    async def ready(self) -> None:
        """Return once the rules were loaded at least once."""
        await self._loaded.wait()

    async def refresh(self) -> bool:
        """Load the rules if their generation moved since the last load; whether it had."""
        async with self._lock:
            self.polls += 1
            async with self._database.connection() as conn:
                if await store.generation(conn) == self._tables.generation:
                    return False
                snapshot = await store.snapshot(conn)
            self.load(snapshot)
            return True

    def load(self, snapshot: store.Snapshot) -> None:
        """Hold the rules of `snapshot` from now on (what `refresh` does with what it read)."""
        self._tables = self._compiled(snapshot)
        self.loads += 1
        self._loaded.set()
        self._changed.set()
        self._changed = asyncio.Event()

    async def next_load(self) -> None:
        """Return at the next load of the rules."""
        await self._changed.wait()

    def start(self) -> None:
        """Poll in the background of the running loop from now on (once; later calls do nothing)."""
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def _poll(self) -> None:
        while True:
            try:
                await self.refresh()
            except UNAVAILABLE as exc:
                log.warning("cannot load the routing rules, retrying: %r", exc)
            await asyncio.sleep(self._poll_s)

    def _compiled(self, snapshot: store.Snapshot) -> _Tables:
        before = self._tables
        services: dict[str, ServiceRules] = {}
        routers: dict[str, Router] = {}
        inhibit = NO_INHIBIT_RULES
        signatures: dict[SetKey, Hashable] = {}
        routed: set[SetKey] = {("router", integration_id) for integration_id in snapshot.routers}
        keys = {key for key in snapshot.sets if key[0] != "router"} | routed
        self.problems = {key: problems for key, problems in self.problems.items() if key in keys}
        for key in keys:
            rules = snapshot.sets.get(key, [])
            router = snapshot.routers.get(key[1] or "") if key[0] == "router" else None
            signature: Hashable = (tuple((rule_id, version) for rule_id, version, _ in rules),
                                   orjson.dumps(router.config, option=orjson.OPT_SORT_KEYS) if router else b"")
            compiled = self._reused(before, key, signature)
            if compiled is None:
                compiled = self._compile(key, rules, router)
            if compiled is None:  # it does not compile: the last version that did stays, if any
                signature = before.signatures.get(key)
                compiled = self._reused(before, key, signature) if key in before.signatures else None
            if compiled is None:
                continue
            signatures[key] = signature
            if isinstance(compiled, ServiceRules):
                services[key[1] or ""] = compiled
            elif isinstance(compiled, Router):
                routers[compiled.integration_id] = compiled
            else:
                inhibit = compiled
        return _Tables(snapshot.generation, services, routers, inhibit, snapshot.services, signatures)

    @staticmethod
    def _reused(before: _Tables, key: SetKey, signature: Hashable) -> ServiceRules | Router | InhibitRules | None:
        """The set as compiled before, if it was compiled from the same `signature`."""
        if key not in before.signatures or before.signatures[key] != signature:
            return None
        kind, owner = key
        if kind == "service":
            return before.services.get(owner or "")
        if kind == "router":
            return before.routers.get(owner or "")
        return before.inhibit

    def _compile(self, key: SetKey, rules: Sequence[tuple[str, int, dict[str, Any]]],
                 router: store.Router | None) -> ServiceRules | Router | InhibitRules | None:
        """The set compiled; None, with its problems kept and logged, when it does not compile."""
        kind, owner = key
        specs = [spec for _, _, spec in rules]
        try:
            compiled: ServiceRules | Router | InhibitRules
            if kind == "service":
                compiled = compile_service_rules(specs)
            elif router is not None:
                compiled = compile_router(router.integration_id, router.config, specs)
            else:
                compiled = compile_inhibit_rules(specs)
        except RuleErrors as exc:
            log.error("the %s rules of %s do not compile; the last version that did is kept: %s", kind,
                      owner or "every service", exc)
            self.problems[key] = exc
            return None
        self.problems.pop(key, None)
        return compiled


# -- alerts and incidents as rules see them ----------------------------------------------------------

def event_view(format: str, event: AlertEvent, payload: Any = None) -> AlertView:
    """The view of an alert event that came in `format` (its payload as it is stored);
    `payload`: that payload as JSON values, when the format has them at hand (the details
    it wrote), which saves parsing the text again."""
    if payload is None:
        payload = orjson.loads(event.payload) if event.payload else {}
    return view_of(format if format in FORMATS else OTHER_FORMAT, payload if isinstance(payload, dict) else {},
                   summary=event.summary, severity=event.severity, source=event.source, dedup_key=event.dedup_key,
                   action=event.action)


def incident_view(incident: Mapping[str, Any]) -> AlertView:
    """The view of the alert that opened an open incident (a row of `store.open_incident_alerts`);
    an alert pruned since reads as an empty payload."""
    kind = incident["type"]
    format = router_format(incident["config"]) if kind == "router" else kind or OTHER_FORMAT
    payload = incident["payload"]
    return view_of(format if format in FORMATS else OTHER_FORMAT, payload if isinstance(payload, dict) else {},
                   summary=incident["summary"], severity=incident["severity"], source=incident["source"],
                   dedup_key=incident["dedup_key"], action="trigger")


async def load_inhibit_index(conn: asyncpg.Connection, rules: InhibitRules, now: datetime) -> InhibitIndex:
    """An index of every open incident that is the source of one of `rules`, keyed by
    (service id, incident id)."""
    index = InhibitIndex(rules)
    if not any(rule.enabled for rule in rules.rules):
        return index
    for incident in await store.open_incident_alerts(conn):
        index.open((incident["service_id"], incident["id"]), incident_view(incident), now)
    return index
