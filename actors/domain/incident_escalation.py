"""The escalation walk of each incident, applied to drafts while a batch is planned.

`tocsin.actors.domain.escalation_state` says which level to page when; this module ties that to the
incident: the service's policy and urgency at open, ack/resolve stopping the walk, the
commands (escalate, snooze, reassign), deadlines passing. Every page becomes a
`PlannedPage` on the plan; the shard turns pages into notifications.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple
from datetime import datetime, timedelta

from tocsin.actors.domain import escalation_state
from tocsin.actors.domain.batch_plan import Plan, PlannedPage
from tocsin.actors.domain.escalation_state import EscalationState, Level, Policy, Target
from tocsin.actors.domain.events import Command, IncidentCommand, Status, Urgency, urgency_of
from tocsin.actors.domain.incident import Incident, Outcome, acknowledge, retrigger


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """What a service says about paging: its policy, its urgency (high, low, severity), its
    maintenance windows (start, end), and its noise control."""

    policy_id: str | None = None
    urgency: str = "high"
    name: str = ""
    maintenance: tuple[tuple[datetime, datetime], ...] = ()
    auto_resolve_minutes: int | None = None
    max_unacknowledged: int | None = None

    def urgency_for(self, incident: Incident) -> Urgency:
        return urgency_of(incident.severity) if self.urgency == "severity" else Urgency(self.urgency)

    def maintenance_until(self, at: datetime) -> datetime | None:
        """The end of the maintenance window `at` falls in, if any."""
        ends = [end for start, end in self.maintenance if start <= at < end]
        return max(ends) if ends else None

    def auto_resolve_at(self, last_occurrence: datetime) -> datetime | None:
        if self.auto_resolve_minutes is None:
            return None
        return last_occurrence + timedelta(minutes=self.auto_resolve_minutes)


class Note(NamedTuple):
    """A timeline entry about paging that the walk adds: its kind and its message."""

    kind: str
    message: str


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


class CommandRefused(ValueError):
    """A command that cannot apply to this incident; the message says why."""


class Walks:
    def __init__(self, config: ServiceConfig, policies: Mapping[str, Policy]) -> None:
        self.config = config
        self._policies = policies

    def policy_of(self, incident: Incident) -> Policy | None:
        if incident.assigned_user_id is not None:
            # One person, paged once; they are the escalation now.
            return Policy((Level(1, (Target.user(incident.assigned_user_id),)),))
        if incident.policy_id is None:
            return None
        return self._policies.get(incident.policy_id)

    # -- what the incident's state machine did ------------------------------------------

    def opened(self, plan: Plan, draft: Incident, urgency: Urgency | None = None,
               pause: timedelta | None = None) -> Note | None:
        """Start the walk of a new incident, unless it is suppressed (it pages nobody until
        `unsuppressed`) or paused (its first page waits `pause`); a note for the log when it
        does not page at once. `urgency`: set by a rule, instead of the service's."""
        draft.urgency = urgency or self.config.urgency_for(draft)
        draft.policy_id = self.config.policy_id
        if draft.suppressed:
            return Note("suppressed", "suppressed by routing rules: nobody is paged")
        return self._start_paging(plan, draft, draft.created_at, pause)

    def unsuppressed(self, plan: Plan, draft: Incident, at: datetime, urgency: Urgency | None = None,
                     pause: timedelta | None = None) -> Note:
        """An alert no rule suppressed joined a suppressed, triggered incident: paging starts
        now, as if it had just opened."""
        draft.suppressed = False
        draft.updated_at = at
        draft.urgency = urgency or self.config.urgency_for(draft)
        if draft.assigned_user_id is None:
            draft.policy_id = self.config.policy_id
        note = self._start_paging(plan, draft, at, pause)
        lifted = "an alert no rule suppresses arrived: suppression lifted"
        return Note("unsuppressed", f"{lifted}; {note.message}" if note else f"{lifted}, paging starts")

    def _start_paging(self, plan: Plan, draft: Incident, at: datetime, pause: timedelta | None) -> Note | None:
        quiet_until = self.config.maintenance_until(at)
        if quiet_until is not None:
            return Note("unpaged", f"the service is in maintenance until {quiet_until:%Y-%m-%d %H:%M} UTC:"
                                   " nobody is paged")
        policy = self.policy_of(draft)
        if policy is None:
            return Note("unpaged", "the service has no escalation policy: nobody is paged")
        if pause is not None:
            draft.paused_until = at + pause
            return Note("paused", f"paging paused for {_minutes(pause)} min, until"
                                  f" {draft.paused_until:%Y-%m-%d %H:%M} UTC: pages then if still triggered")
        self._walk(plan, draft, *escalation_state.start(policy, at))
        return None

    def stopped(self, plan: Plan, draft: Incident, at: datetime) -> None:
        """Acknowledged or resolved: no more pages, pending notifications cancelled."""
        if draft.escalation is not None:
            stop = escalation_state.resolve if draft.status is Status.RESOLVED else escalation_state.acknowledge
            draft.escalation = stop(draft.escalation, at)[0]
        draft.paused_until = None
        plan.silenced[id(draft)] = draft

    # -- commands ---------------------------------------------------------------------

    def command(self, plan: Plan, draft: Incident, command: IncidentCommand) -> tuple[Outcome, str]:
        """Escalate, snooze or reassign; raises CommandRefused when it cannot apply."""
        at = command.received_at
        if command.action is Command.SNOOZE:
            return self._snooze(plan, draft, command.minutes or 0, at)
        if command.action is Command.REASSIGN:
            return self._reassign(plan, draft, command)
        if command.action is Command.ESCALATE:
            return self._escalate(plan, draft, command.to_level, at)
        raise CommandRefused(f"{command.action.value} is not an escalation command")

    def _escalate(self, plan: Plan, draft: Incident, to_level: int | None, at: datetime) -> tuple[Outcome, str]:
        adopted = draft.policy_id is None and draft.assigned_user_id is None
        if adopted:
            draft.policy_id = self.config.policy_id  # it paged nobody at open; use today's policy
        try:
            policy = self._require_policy(draft)
            state = draft.escalation or EscalationState(0, 0, None)
            if draft.escalation is None and to_level is None:
                result = escalation_state.start(policy, at)
            else:
                result = escalation_state.escalate(escalation_state.fit(state, policy), policy, at, to_level)
        except (CommandRefused, ValueError) as exc:
            if adopted:
                draft.policy_id = None  # a refused command changes nothing
            raise CommandRefused(str(exc)) from exc
        retrigger(draft, at)
        self._walk(plan, draft, *result)
        return Outcome.ESCALATED, f"escalated to level {result[0].level + 1}"

    def _snooze(self, plan: Plan, draft: Incident, minutes: int, at: datetime) -> tuple[Outcome, str]:
        if minutes < 1:
            raise CommandRefused("snooze needs a duration of at least one minute")
        acknowledge(draft, at)
        draft.paused_until = None
        state = draft.escalation or EscalationState(0, 0, None, stopped=True)
        policy = self.policy_of(draft)
        if policy is not None:
            state = escalation_state.fit(state, policy)
        until = escalation_state.snooze(state, policy or _NOBODY, at, minutes)[0]
        draft.escalation = until
        draft.updated_at = at
        plan.silenced[id(draft)] = draft
        return Outcome.SNOOZED, f"snoozed for {minutes} min, until {until.snoozed_until:%Y-%m-%d %H:%M} UTC"

    def _reassign(self, plan: Plan, draft: Incident, command: IncidentCommand) -> tuple[Outcome, str]:
        before = draft.assigned_user_id, draft.policy_id
        if command.user_id is not None:
            draft.assigned_user_id, what = command.user_id, f"user {command.user_id}"
        elif command.policy_id is not None:
            draft.assigned_user_id, draft.policy_id = None, command.policy_id
            what = f"escalation policy {command.policy_id}"
        else:
            raise CommandRefused("reassign needs a user_id or an escalation_policy_id")
        try:
            policy = self._require_policy(draft)
        except CommandRefused:
            draft.assigned_user_id, draft.policy_id = before  # a refused command changes nothing
            raise
        retrigger(draft, command.received_at)
        plan.silenced[id(draft)] = draft  # the previous assignees' pending notifications go
        self._walk(plan, draft, *escalation_state.start(policy, command.received_at))
        return Outcome.REASSIGNED, f"reassigned to {what}"

    def unsnooze(self, plan: Plan, draft: Incident, at: datetime) -> bool:
        """Acknowledging a snoozed incident (already acknowledged) cancels the snooze."""
        state = draft.escalation
        if state is None or state.snoozed_until is None:
            return False
        draft.escalation = escalation_state.acknowledge(state, at)[0]
        draft.updated_at = at
        plan.silenced[id(draft)] = draft
        return True

    # -- deadlines --------------------------------------------------------------------

    def due(self, draft: Incident, now: datetime) -> bool:
        if draft.paused_until is not None and draft.paused_until <= now:
            return True
        state = draft.escalation
        if state is None:
            return False
        deadline = state.snoozed_until or state.next_escalation_at
        return deadline is not None and deadline <= now

    def tick(self, plan: Plan, draft: Incident, now: datetime) -> Note | None:
        """Page whatever fell due; a note for the log when a snooze or a pause ran out."""
        if draft.paused_until is not None and draft.paused_until <= now:
            return self._pause_ended(plan, draft)
        state = draft.escalation
        assert state is not None
        policy = self.policy_of(draft)
        woke = state.snoozed_until is not None and state.snoozed_until <= now
        if woke:
            retrigger(draft, state.snoozed_until or now)
        if policy is None:
            draft.escalation = replace(state, snoozed_until=None, next_escalation_at=None, stopped=False)
            return Note("retriggered", "snooze ended: re-triggered; no escalation policy, nobody is paged") if woke else None
        self._walk(plan, draft, *escalation_state.tick(escalation_state.fit(state, policy), policy, now))
        return Note("retriggered", "snooze ended: re-triggered") if woke else None

    def _pause_ended(self, plan: Plan, draft: Incident) -> Note:
        """Still triggered when the pause ran out (acknowledging or resolving ends a pause):
        paging starts, as at the deadline; a walk that fell behind catches up on the next tick."""
        at = draft.paused_until
        assert at is not None
        draft.paused_until = None
        draft.updated_at = max(draft.updated_at, at)
        note = self._start_paging(plan, draft, at, None)
        ended = "pause ended, still triggered"
        return Note("unpaused", f"{ended}; {note.message}" if note else f"{ended}: paging starts")

    # -- helpers ----------------------------------------------------------------------

    def _require_policy(self, draft: Incident) -> Policy:
        policy = self.policy_of(draft)
        if policy is None:
            raise CommandRefused("the incident has no escalation policy to escalate through")
        return policy

    @staticmethod
    def _walk(plan: Plan, draft: Incident, state: EscalationState, pages: list[escalation_state.Page]) -> None:
        draft.escalation = state
        if pages:  # paging, whatever held it back before (a person escalated or reassigned it)
            draft.suppressed = False
            draft.paused_until = None
        for page in pages:
            draft.pages += 1
            plan.pages.append(PlannedPage(draft, page, draft.pages))


# Stands in for a missing policy where only the snooze bookkeeping of the walk is needed.
_NOBODY = Policy((Level(1, (Target.user("nobody"),)),))
