"""A service's open incidents and the dedupe rules that fold alerts into them.

PagerDuty semantics: a dedup key names at most one open incident per service. A trigger
opens one or adds an occurrence to it; acknowledge and resolve act on it and are dropped
when there is none; after a resolve the key is free and the next trigger opens anew.

`ServiceIncidents.plan` does not change the incidents it holds: it works on drafts and
returns a `Plan` (the changed drafts, log entries, pages, per-input outcomes). `commit`
adopts a plan once the store has made it durable, so a failed transaction leaves memory
exactly as the database is. The escalation walk of each incident rides along (see
`tocsin.actors.domain.incident_escalation`): opening starts it, acknowledge and resolve stop it, and passing
deadlines (`due`) page the next level. An incident's consecutive occurrences within a batch
are gathered and applied as one step with one timeline entry
(`tocsin.actors.domain.occurrence_run`); every other input is applied in its place.

What the gateway's routing rules decided rides on each alert (see
`tocsin.actors.domain.rule_effects`): the incident it opens may open suppressed (recorded,
paging nobody until an alert no rule suppresses joins it while triggered) or paused (its
first page waits for a deadline, and is not sent if it was acknowledged or resolved by then),
with the urgency, priority, details and tags rules set; later alerts add their tags. The
timeline entry of each alert names the rules that matched and what they did.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tocsin.actors.domain.events import Action, AlertEvent, Command, IncidentCommand, ServiceInput, Severity, Status
from tocsin.actors.domain.incident import NO_DETAILS, Incident, Outcome, acknowledge, draft_of, open_incident, resolve
from tocsin.actors.domain.batch_plan import Applied, LogEntry, Plan
from tocsin.actors.domain.incident_escalation import CommandRefused, ServiceConfig, Walks
from tocsin.actors.domain.occurrence_run import OccurrenceRun
from tocsin.actors.domain.rule_effects import effect_of, enrichment_of, pause_of, same_effect, suppresses

DEFAULT_SEVERITY = Severity.CRITICAL
OVERFLOW_KEY = "tocsin:overflow"  # the dedup key of a service's overflow incident
# The timeline's word for what an input did, where it is not the outcome's own.
_LOG_KINDS = {Outcome.OPENED: "triggered", Outcome.NOTED: "note"}


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

    def incidents(self) -> Iterable[Incident]:
        return self.by_key.values()

    def get(self, incident_id: int) -> Incident | None:
        key = self.key_by_id.get(incident_id)
        return None if key is None else self.by_key.get(key)

    def plan(
        self,
        inputs: Iterable[ServiceInput],
        walks: Walks | None = None,
        due: Iterable[int] = (),
        now: datetime | None = None,
    ) -> Plan:
        """Inputs in order, then the deadlines of the incidents `due` that passed by `now`."""
        walks = walks or Walks(ServiceConfig(), {})
        plan = Plan(self.service_id)
        for item in inputs:
            if isinstance(item, AlertEvent):
                self._plan_alert(plan, walks, item)
            else:
                self._plan_command(plan, walks, item)
        for run in plan.runs.values():
            plan.log.append(run.apply(walks.config))
        plan.runs.clear()
        if now is not None:
            for incident_id in due:
                self._plan_deadline(plan, walks, incident_id, now)
        return plan

    def commit(self, plan: Plan) -> None:
        """Adopt a durable plan (the store has filled in the ids of new incidents)."""
        for draft in plan.changed.values():
            draft.details = draft.rule_details = NO_DETAILS  # written with the row; memory keeps no payloads
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
            plan.before[id(draft)] = current
        return None if draft.status is Status.RESOLVED else draft  # is_open, without the call per alert

    def _plan_alert(self, plan: Plan, walks: Walks, event: AlertEvent) -> None:
        draft = self._open_draft(plan, event.dedup_key)
        actor = event.source or "integration"
        if event.action is Action.TRIGGER:
            if draft is None and not suppresses(event) and self._over_cap(plan, walks.config, event.dedup_key):
                self._plan_overflow(plan, walks, event, actor)
            elif draft is None:
                self._open(plan, walks, event, event.dedup_key, event.summary or event.dedup_key, actor, ruled=True)
            else:
                self._occurrence(plan, walks, event, draft, actor, "occurrence", ruled=True)
            return
        if draft is None:
            plan.applied.append(Applied(event, Outcome.DROPPED, None))
            return
        self._settle(plan, walks, draft)
        self._plan_transition(plan, walks, event, draft, Command(event.action.value), actor)

    def _open(self, plan: Plan, walks: Walks, event: AlertEvent, key: str, summary: str, actor: str,
              message: str | None = None, ruled: bool = False) -> None:
        """Open an incident for `event`; `ruled`: it is the event's own incident, which takes
        what routing rules decided (the overflow incident pages as usual)."""
        draft = plan.drafts[key] = open_incident(
            service_id=self.service_id, dedup_key=key, summary=summary,
            severity=event.severity or DEFAULT_SEVERITY, source=event.source, details=event.payload,
            at=event.received_at,
        )
        draft.integration_id = event.integration_id
        draft.auto_resolve_at = walks.config.auto_resolve_at(draft.last_occurrence_at)
        if ruled:
            enrichment = enrichment_of(event)
            draft.suppressed, draft.priority = suppresses(event), event.priority
            draft.tags, draft.rule_details = enrichment.tags, enrichment.details
        self._record(plan, event, draft, Outcome.OPENED, actor, message or draft.summary)
        note = walks.opened(plan, draft, event.urgency, pause_of(event)) if ruled else walks.opened(plan, draft)
        if note:
            plan.log.append(LogEntry(draft, event.received_at, note.kind, "tocsin", note.message, event.event_id))

    def _occurrence(self, plan: Plan, walks: Walks, event: AlertEvent, draft: Incident, actor: str,
                    label: str, ruled: bool = False) -> None:
        """Gathered into the draft's run of occurrences, applied with it (see
        tocsin.actors.domain.occurrence_run); one that lifts a suppression at once, in its place."""
        plan.applied.append(Applied(event, Outcome.OCCURRENCE, draft))
        run = plan.runs.get(id(draft))
        if not event.rules:
            effect = None
        elif run is not None and run.first.rules and same_effect(event, run.first):
            effect = run.effect
        else:
            effect = effect_of(event)
        lifts = ruled and draft.suppressed and draft.status is Status.TRIGGERED and not suppresses(event)
        if run is not None and not lifts and run.takes(event, actor, label, ruled, effect):
            run.add(event)
            return
        self._settle(plan, walks, draft)
        plan.changed[id(draft)] = draft
        run = OccurrenceRun.start(draft, event, actor, label, ruled, effect)
        if not lifts:
            plan.runs[id(draft)] = run
            return
        plan.log.append(run.apply(walks.config))
        note = walks.unsuppressed(plan, draft, event.received_at, event.urgency, pause_of(event))
        plan.log.append(LogEntry(draft, event.received_at, note.kind, "tocsin", note.message, event.event_id))

    @staticmethod
    def _settle(plan: Plan, walks: Walks, draft: Incident) -> None:
        """Apply the occurrences gathered for `draft`, before anything else touches it."""
        run = plan.runs.pop(id(draft), None)
        if run is not None:
            plan.log.append(run.apply(walks.config))

    def _over_cap(self, plan: Plan, config: ServiceConfig, key: str) -> bool:
        """Whether a new incident would pass the service's cap on unacknowledged incidents
        (suppressed ones page nobody, so they count for nothing)."""
        if config.max_unacknowledged is None or key == OVERFLOW_KEY:
            return False
        keys = set(self.by_key) | set(plan.drafts)
        return sum(1 for k in keys if _pages_unacknowledged(plan.drafts.get(k) or self.by_key[k])) \
            >= config.max_unacknowledged

    def _plan_overflow(self, plan: Plan, walks: Walks, event: AlertEvent, actor: str) -> None:
        """Past the cap, a new alert joins the one overflow incident (opened, and paged, once)."""
        overflow = self._open_draft(plan, OVERFLOW_KEY)
        if overflow is None:
            cap, name = walks.config.max_unacknowledged, walks.config.name or "this service"
            summary = f"More than {cap} unacknowledged incidents on {name}: further alerts are grouped here"
            self._open(plan, walks, event, OVERFLOW_KEY, summary, actor, f"overflow: {event.summary or event.dedup_key}")
        else:
            self._occurrence(plan, walks, event, overflow, actor, "overflow occurrence")

    def _plan_command(self, plan: Plan, walks: Walks, command: IncidentCommand) -> None:
        draft = self._open_by_id(plan, command.incident_id)
        if draft is None:
            plan.applied.append(Applied(command, Outcome.UNCHANGED, None))
            return
        self._settle(plan, walks, draft)
        if command.action in (Command.ACKNOWLEDGE, Command.RESOLVE):
            self._plan_transition(plan, walks, command, draft, command.action, command.actor)
            return
        if command.action is Command.NOTE:
            self._record(plan, command, draft, Outcome.NOTED, command.actor, command.text or "")
            return
        try:
            outcome, message = walks.command(plan, draft, command)
        except CommandRefused as refused:
            plan.applied.append(Applied(command, Outcome.REFUSED, draft, str(refused)))
            return
        self._record(plan, command, draft, outcome, command.actor, f"{message} by {command.actor}")

    def _plan_transition(
        self, plan: Plan, walks: Walks, item: ServiceInput, draft: Incident, action: Command, actor: str
    ) -> None:
        if action is Command.ACKNOWLEDGE:
            outcome = acknowledge(draft, item.received_at)
        elif action is Command.RESOLVE:
            outcome = resolve(draft, item.received_at)
        else:
            raise ValueError(f"cannot {action.value} an incident here")
        if outcome is Outcome.UNCHANGED:
            if action is Command.ACKNOWLEDGE and walks.unsnooze(plan, draft, item.received_at):
                self._record(plan, item, draft, Outcome.ACKNOWLEDGED, actor, f"acknowledged by {actor}; snooze cancelled")
                return
            plan.applied.append(Applied(item, outcome, draft))
            return
        walks.stopped(plan, draft, item.received_at)
        self._record(plan, item, draft, outcome, actor, f"{outcome.value} by {actor}")

    def _plan_deadline(self, plan: Plan, walks: Walks, incident_id: int, now: datetime) -> None:
        draft = self._open_by_id(plan, incident_id)
        if draft is not None and draft.auto_resolve_at is not None and draft.auto_resolve_at <= now:
            self._auto_resolve(plan, walks, draft, now)
            return
        if draft is None or not walks.due(draft, now):
            return  # acknowledged, resolved or moved on since the wake-up was set
        plan.changed[id(draft)] = draft
        note = walks.tick(plan, draft, now)
        if note:
            plan.log.append(LogEntry(draft, now, note.kind, "tocsin", note.message, None))

    @staticmethod
    def _auto_resolve(plan: Plan, walks: Walks, draft: Incident, now: datetime) -> None:
        quiet_since = draft.last_occurrence_at
        resolve(draft, now)
        walks.stopped(plan, draft, now)
        plan.changed[id(draft)] = draft
        message = f"resolved: no new occurrence since {quiet_since:%Y-%m-%d %H:%M} UTC"
        plan.log.append(LogEntry(draft, now, "resolved", "tocsin", message, None))

    def _open_by_id(self, plan: Plan, incident_id: int) -> Incident | None:
        key = self.key_by_id.get(incident_id)
        draft = self._open_draft(plan, key) if key is not None else None
        return draft if draft is not None and draft.id == incident_id else None

    @staticmethod
    def _record(
        plan: Plan, item: ServiceInput, draft: Incident, outcome: Outcome, actor: str, message: str
    ) -> None:
        kind = _LOG_KINDS.get(outcome, outcome.value)
        plan.changed[id(draft)] = draft
        if isinstance(item, AlertEvent) and item.rules:
            effect = effect_of(item) if item.action is Action.TRIGGER else None
            plan.log.append(LogEntry(draft, item.received_at, kind, actor, message, item.input_id, item.rules, effect))
        else:
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


def _pages_unacknowledged(incident: Incident) -> bool:
    return incident.status is Status.TRIGGERED and not incident.suppressed
