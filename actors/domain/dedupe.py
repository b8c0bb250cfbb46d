"""A service's open incidents and the dedupe rules that fold alerts into them.

PagerDuty semantics: a dedup key names at most one open incident per service. A trigger
opens one or adds an occurrence to it; acknowledge and resolve act on it and are dropped
when there is none; after a resolve the key is free and the next trigger opens anew.

`ServiceIncidents.plan` does not change the incidents it holds: it works on drafts and
returns a `Plan` (the changed drafts, log entries, per-input outcomes). `commit` adopts a
plan once the store has made it durable, so a failed transaction leaves memory exactly as
the database is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from actors.domain.events import Action, AlertEvent, IncidentCommand, ServiceInput, Severity
from actors.domain.incident import (
    Incident,
    Outcome,
    acknowledge,
    add_occurrence,
    draft_of,
    open_incident,
    resolve,
)

DEFAULT_SEVERITY = Severity.CRITICAL


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of an incident's timeline. `incident` is the plan's draft, whose id the
    store fills in for a new incident before it writes the entry."""

    incident: Incident
    at: datetime
    kind: str
    actor: str
    message: str
    input_id: str | None


@dataclass(frozen=True, slots=True)
class Applied:
    """What became of one input."""

    input: ServiceInput
    outcome: Outcome
    incident: Incident | None


@dataclass(slots=True)
class Plan:
    service_id: str
    drafts: dict[str, Incident] = field(default_factory=dict)  # latest draft per dedup key
    changed: dict[int, Incident] = field(default_factory=dict)  # by id(draft): drafts to write
    log: list[LogEntry] = field(default_factory=list)
    applied: list[Applied] = field(default_factory=list)

    @property
    def new_incidents(self) -> list[Incident]:
        return [i for i in self.changed.values() if i.id is None]

    @property
    def updated_incidents(self) -> list[Incident]:
        return [i for i in self.changed.values() if i.id is not None]


class ServiceIncidents:
    """The open incidents of one service, as the shard keeps them in memory."""

    __slots__ = ("service_id", "by_key", "key_by_id")

    def __init__(self, service_id: str, incidents: Iterable[Incident] = ()) -> None:
        self.service_id = service_id
        self.by_key: dict[str, Incident] = {}
        self.key_by_id: dict[int, str] = {}
        for incident in incidents:
            self._put(incident)

    def __len__(self) -> int:
        return len(self.by_key)

    def plan(self, inputs: Iterable[ServiceInput]) -> Plan:
        plan = Plan(self.service_id)
        for item in inputs:
            if isinstance(item, AlertEvent):
                self._plan_alert(plan, item)
            else:
                self._plan_command(plan, item)
        return plan

    def commit(self, plan: Plan) -> None:
        """Adopt a durable plan (the store has filled in the ids of new incidents)."""
        for draft in plan.changed.values():
            if draft.is_open:
                self._put(draft)
            else:
                self._drop(draft)

    # -- planning -------------------------------------------------------------------

    def _open_draft(self, plan: Plan, dedup_key: str) -> Incident | None:
        """The open incident for a key as this plan sees it, as a draft of the plan's own."""
        draft = plan.drafts.get(dedup_key)
        if draft is None:
            current = self.by_key.get(dedup_key)
            if current is None:
                return None
            draft = plan.drafts[dedup_key] = draft_of(current)
        return draft if draft.is_open else None

    def _plan_alert(self, plan: Plan, event: AlertEvent) -> None:
        draft = self._open_draft(plan, event.dedup_key)
        actor = event.source or "integration"
        if event.action is Action.TRIGGER:
            if draft is None:
                draft = plan.drafts[event.dedup_key] = open_incident(
                    service_id=self.service_id,
                    dedup_key=event.dedup_key,
                    summary=event.summary or event.dedup_key,
                    severity=event.severity or DEFAULT_SEVERITY,
                    source=event.source,
                    details=event.payload,
                    at=event.received_at,
                )
                self._record(plan, event, draft, Outcome.OPENED, actor, draft.summary)
            else:
                outcome = add_occurrence(draft, event.received_at)
                message = f"occurrence {draft.occurrences}" + (f": {event.summary}" if event.summary else "")
                self._record(plan, event, draft, outcome, actor, message)
            return
        if draft is None:
            plan.applied.append(Applied(event, Outcome.DROPPED, None))
            return
        self._plan_transition(plan, event, draft, event.action, actor)

    def _plan_command(self, plan: Plan, command: IncidentCommand) -> None:
        key = self.key_by_id.get(command.incident_id)
        draft = self._open_draft(plan, key) if key is not None else None
        if draft is None or draft.id != command.incident_id:
            plan.applied.append(Applied(command, Outcome.UNCHANGED, None))
            return
        self._plan_transition(plan, command, draft, command.action, command.actor)

    def _plan_transition(
        self, plan: Plan, item: ServiceInput, draft: Incident, action: Action, actor: str
    ) -> None:
        if action is Action.ACKNOWLEDGE:
            outcome = acknowledge(draft, item.received_at)
        elif action is Action.RESOLVE:
            outcome = resolve(draft, item.received_at)
        else:
            raise ValueError(f"commands cannot {action.value} an incident")
        if outcome is Outcome.UNCHANGED:
            plan.applied.append(Applied(item, outcome, draft))
            return
        self._record(plan, item, draft, outcome, actor, f"{outcome.value} by {actor}")

    @staticmethod
    def _record(
        plan: Plan, item: ServiceInput, draft: Incident, outcome: Outcome, actor: str, message: str
    ) -> None:
        kind = "triggered" if outcome is Outcome.OPENED else outcome.value
        plan.changed[id(draft)] = draft
        plan.log.append(LogEntry(draft, item.received_at, kind, actor, message, item.input_id))
        plan.applied.append(Applied(item, outcome, draft))

    # -- state ----------------------------------------------------------------------

    def _put(self, incident: Incident) -> None:
        assert incident.id is not None, "only durable incidents are kept"
        self.by_key[incident.dedup_key] = incident
        self.key_by_id[incident.id] = incident.dedup_key

    def _drop(self, incident: Incident) -> None:
        if self.by_key.get(incident.dedup_key) is not None and self.by_key[incident.dedup_key].id == incident.id:
            del self.by_key[incident.dedup_key]
        if incident.id is not None:
            self.key_by_id.pop(incident.id, None)


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer for one input, in the order the inputs were given."""

    outcome: str
    incident_id: int | None = None
    status: str | None = None

    @classmethod
    def of(cls, applied: Applied) -> Reply:
        incident = applied.incident
        if incident is None:
            return cls(applied.outcome.value)
        return cls(applied.outcome.value, incident.id, incident.status.value)
