"""The escalation walk as a service's incidents see it: opening pages level 1, deadlines page
the next levels, acknowledge and resolve stop it, and the escalate, snooze and reassign
commands move it (GoAlert / PagerDuty semantics)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.actors.domain.clock import FakeClock
from tocsin.actors.domain.escalation_state import EscalationState, Level, Page, Policy, Target, walk_order
from tocsin.actors.domain.service_incidents import ServiceIncidents
from tocsin.actors.domain.events import (
    Action,
    AlertEvent,
    Command,
    IncidentCommand,
    ServiceInput,
    Severity,
    Status,
    Urgency,
)
from tocsin.actors.domain.batch_plan import Plan, PlannedPage
from tocsin.actors.domain.incident import Incident, Outcome
from tocsin.actors.domain.incident_escalation import ServiceConfig, Walks

SERVICE = "svc-checkout"
KEY = "disk-full"
OPS = "pol-ops"
DB = "pol-db"

ALICE, BOB, CAROL, DAVE = (Target.user(name) for name in ("alice", "bob", "carol", "dave"))
PRIMARY = Target.schedule("primary")

# Level 1 waits 5 minutes, level 2 waits 10, level 3 waits 15.
THREE = Policy((Level(5, (ALICE,)), Level(10, (BOB,)), Level(15, (PRIMARY, CAROL))))
# Level 1 waits 3 minutes, level 2 waits 7.
TWO = Policy((Level(3, (DAVE,)), Level(7, (PRIMARY,))))

TRIGGER, ACK, RESOLVE = Action.TRIGGER, Action.ACKNOWLEDGE, Action.RESOLVE
NO_POLICY = "the service has no escalation policy: nobody is paged"
NOTHING_TO_ESCALATE = "the incident has no escalation policy to escalate through"

class Shard:
    """ServiceIncidents under one service's paging configuration, with a clock counted in
    minutes from the start, and what the store does around a plan: ids for new incidents,
    then commit."""

    def __init__(
        self, policy: Policy | None = THREE, urgency: str = "high", others: dict[str, Policy] | None = None
    ) -> None:
        self.clock = FakeClock()
        self.t0 = self.clock.now()
        self.config = ServiceConfig(OPS if policy is not None else None, urgency)
        self.policies: dict[str, Policy] = {OPS: policy} if policy is not None else {}
        self.policies.update(others or {})
        self.incidents = ServiceIncidents(SERVICE)
        self.pages: list[PlannedPage] = []  # every page of every committed plan
        self.ids: list[int] = []  # every incident id handed out
        self._incident_ids = itertools.count(1)
        self._input_ids = itertools.count(1)

    def minute(self, minutes: float) -> datetime:
        return self.t0 + timedelta(minutes=minutes)

    def at(self, minutes: float) -> Shard:
        """Move the clock forward to `minutes` after the start."""
        target = self.minute(minutes)
        assert target >= self.clock.now(), "time only moves forward"
        self.clock.advance((target - self.clock.now()).total_seconds())
        return self

    # -- inputs, received now ---------------------------------------------------------

    def alert(self, action: Action = TRIGGER, key: str = KEY, severity: Severity | None = None) -> AlertEvent:
        return AlertEvent(
            event_id=f"event-{next(self._input_ids)}",
            service_id=SERVICE,
            integration_id="integration-1",
            dedup_key=key,
            action=action,
            received_at=self.clock.now(),
            severity=severity,
            source="prometheus",
        )

    def command(self, action: Command, incident_id: int = 1, **args: Any) -> IncidentCommand:
        return IncidentCommand(
            command_id=f"command-{next(self._input_ids)}",
            service_id=SERVICE,
            incident_id=incident_id,
            action=action,
            actor="alice",
            received_at=self.clock.now(),
            **args,
        )

    # -- planning and committing --------------------------------------------------------

    def apply(self, *inputs: ServiceInput, due: Iterable[int] = (), now: datetime | None = None) -> Plan:
        plan = self.incidents.plan(inputs, Walks(self.config, self.policies), due, now or self.clock.now())
        for incident in plan.new_incidents:
            incident.id = next(self._incident_ids)
            self.ids.append(incident.id)
        self.incidents.commit(plan)
        self.pages += plan.pages
        return plan

    def tick(self, minutes: float, due: Iterable[int] = (1,)) -> Plan:
        """Move the clock to `minutes` and plan the deadlines of the incidents `due`."""
        return self.at(minutes).apply(due=due)

    def incident(self, key: str = KEY) -> Incident:
        return self.incidents.by_key[key]

    def escalation(self, key: str = KEY) -> EscalationState:
        state = self.incident(key).escalation
        assert state is not None
        return state


def paged(plan: Plan | list[PlannedPage]) -> list[tuple[int, int, int]]:
    """(number, level, pass) of each page; levels 0-based as the walk counts them."""
    pages = plan.pages if isinstance(plan, Plan) else plan
    return [(p.number, p.page.level, p.page.pass_) for p in pages]


def outcomes(plan: Plan) -> list[Outcome]:
    return [applied.outcome for applied in plan.applied]


def kinds(plan: Plan) -> list[str]:
    return [entry.kind for entry in plan.log]


def messages(plan: Plan) -> list[str]:
    return [entry.message for entry in plan.log]


def refused(plan: Plan) -> str | None:
    """The note of the single input of a plan, which was refused."""
    assert outcomes(plan) == [Outcome.REFUSED]
    assert plan.pages == [] and plan.changed == {} and plan.log == [] and plan.silenced == {}
    return plan.applied[0].note


def opened(policy: Policy | None = THREE, **kwargs: Any) -> Shard:
    """A shard whose incident 1 was triggered at minute 0."""
    shard = Shard(policy, **kwargs)
    shard.apply(shard.alert())
    return shard


# -- opening ----------------------------------------------------------------------------


def test_a_trigger_pages_level_one_at_once() -> None:
    shard = Shard()

    plan = shard.apply(shard.alert())

    incident = shard.incident()
    assert len(plan.pages) == 1
    assert plan.pages[0].incident is incident
    assert (plan.pages[0].number, plan.pages[0].page) == (1, Page(0, 0, (ALICE,), shard.t0))
    assert incident.escalation == EscalationState(0, 0, incident.created_at + timedelta(minutes=5))
    assert (incident.policy_id, incident.pages) == (OPS, 1)
    assert kinds(plan) == ["triggered"]


@pytest.mark.parametrize("loaded", [False, True], ids=["no-policy", "policy-not-loaded"])
def test_a_trigger_without_a_policy_pages_nobody_and_says_so(loaded: bool) -> None:
    shard = Shard(THREE if loaded else None)
    shard.policies.clear()  # the service may name a policy that no longer exists
    event = shard.alert()

    plan = shard.apply(event)

    assert plan.pages == []
    incident = shard.incident()
    assert (incident.escalation, incident.pages) == (None, 0)
    assert [(e.kind, e.actor, e.message, e.input_id) for e in plan.log] == [
        ("triggered", "prometheus", KEY, event.event_id),
        ("unpaged", "tocsin", NO_POLICY, event.event_id),
    ]
    assert shard.tick(1_000).changed == {}


@pytest.mark.parametrize(("urgency", "severity", "expected"), [
    ("high", Severity.INFO, Urgency.HIGH),
    ("low", Severity.CRITICAL, Urgency.LOW),
    ("severity", Severity.CRITICAL, Urgency.HIGH),
    ("severity", Severity.ERROR, Urgency.HIGH),
    ("severity", Severity.WARNING, Urgency.LOW),
    ("severity", Severity.INFO, Urgency.LOW),
    ("severity", None, Urgency.HIGH),  # no severity means critical
])
def test_the_service_sets_the_urgency(urgency: str, severity: Severity | None, expected: Urgency) -> None:
    shard = Shard(urgency=urgency)

    shard.apply(shard.alert(severity=severity))

    assert shard.incident().urgency is expected


def test_occurrences_page_nobody_again() -> None:
    shard = opened()
    walk = shard.escalation()

    plan = shard.at(1).apply(shard.alert(), shard.alert())

    assert outcomes(plan) == [Outcome.OCCURRENCE, Outcome.OCCURRENCE]
    assert plan.pages == []
    assert shard.escalation() == walk
    assert (shard.incident().occurrences, shard.incident().pages) == (3, 1)


# -- acknowledge and resolve --------------------------------------------------------------


@pytest.mark.parametrize("by_command", [False, True], ids=["alert", "command"])
@pytest.mark.parametrize("action", [ACK, RESOLVE])
def test_acknowledge_and_resolve_stop_the_walk(action: Action, by_command: bool) -> None:
    shard = opened()
    shard.at(2)
    item = shard.command(Command(action.value)) if by_command else shard.alert(action)

    plan = shard.apply(item)

    draft = plan.applied[0].incident
    assert draft is not None and draft.escalation is not None
    assert plan.silenced == {id(draft): draft}
    assert draft.escalation.next_escalation_at is None and draft.escalation.stopped
    assert draft.escalation.resolved is (action is RESOLVE)
    assert plan.pages == []
    assert shard.tick(100).pages == [] and paged(shard.pages) == [(1, 0, 0)]


# -- deadlines ------------------------------------------------------------------------------


def test_a_tick_before_the_deadline_pages_and_changes_nothing() -> None:
    shard = opened()
    before = replace(shard.incident())

    plan = shard.tick(4.99)

    assert (plan.pages, plan.changed, plan.log, plan.applied) == ([], {}, [], [])
    assert shard.incident() == before


@pytest.mark.parametrize("minutes", [5, 9])
def test_at_or_after_the_deadline_the_next_level_is_paged(minutes: float) -> None:
    shard = opened()

    plan = shard.tick(minutes)

    assert paged(plan) == [(2, 1, 0)]
    assert plan.pages[0].page == Page(1, 0, (BOB,), shard.minute(5))  # at its own deadline
    assert shard.escalation() == EscalationState(1, 0, shard.minute(15))
    assert [incident.id for incident in plan.updated_incidents] == [1]
    assert shard.incident().pages == 2


def test_a_late_tick_catches_up_level_by_level() -> None:
    shard = opened(Policy(THREE.levels, repeat=1))

    plan = shard.tick(40)  # deadlines at 5, 15, 30, 35, 45

    assert paged(plan) == [(2, 1, 0), (3, 2, 0), (4, 0, 1), (5, 1, 1)]
    assert [p.page.at for p in plan.pages] == [shard.minute(m) for m in (5, 15, 30, 35)]
    assert shard.escalation().next_escalation_at == shard.minute(45)
    assert shard.tick(40).pages == []
    assert paged(shard.tick(45)) == [(6, 2, 1)]
    assert shard.escalation().next_escalation_at is None


def test_an_acknowledged_incident_that_is_due_pages_nothing() -> None:
    shard = opened()
    shard.at(1).apply(shard.command(Command.ACKNOWLEDGE))

    plan = shard.tick(5)

    assert (plan.pages, plan.changed) == ([], {})
    assert shard.incident().status is Status.ACKNOWLEDGED


def test_only_the_incidents_named_due_are_ticked() -> None:
    shard = Shard()
    shard.apply(shard.alert(key="a"), shard.alert(key="b"))

    plan = shard.tick(5, due=[2, 99])

    assert [(p.incident.id, p.number, p.page.level) for p in plan.pages] == [(2, 2, 1)]
    assert shard.escalation("a").next_escalation_at == shard.minute(5)
    assert [(p.incident.id, p.page.at) for p in shard.tick(6, due=[1]).pages] == [(1, shard.minute(5))]


def test_the_policy_is_walked_repeat_more_times_then_the_walk_finishes() -> None:
    shard = opened(Policy((Level(5, (ALICE,)), Level(10, (BOB,))), repeat=2))

    for minute in range(1, 100):
        shard.tick(minute)

    assert paged(shard.pages) == [(1, 0, 0), (2, 1, 0), (3, 0, 1), (4, 1, 1), (5, 0, 2), (6, 1, 2)]
    assert [p.page.at for p in shard.pages] == [shard.minute(m) for m in (0, 5, 15, 20, 30, 35)]
    assert shard.escalation().next_escalation_at is None


# -- snooze ----------------------------------------------------------------------------------


def test_snooze_acknowledges_silences_and_sets_when_it_ends() -> None:
    shard = opened()

    plan = shard.at(2).apply(shard.command(Command.SNOOZE, minutes=30))

    incident = shard.incident()
    assert outcomes(plan) == [Outcome.SNOOZED]
    assert (incident.status, incident.acknowledged_at) == (Status.ACKNOWLEDGED, shard.minute(2))
    assert plan.silenced == {id(incident): incident}
    assert incident.escalation == EscalationState(0, 0, None, snoozed_until=shard.minute(32), stopped=True)
    assert messages(plan) == ["snoozed for 30 min, until 2026-01-01 00:32 UTC by alice"]
    assert plan.pages == []
    for minute in (5, 31.99):  # the old deadline, then just before the snooze ends
        assert shard.tick(minute).changed == {}


def test_when_a_snooze_ends_the_incident_is_retriggered_on_a_fresh_walk() -> None:
    shard = opened()
    shard.tick(5)
    shard.tick(15)  # level 3 paged
    shard.at(16).apply(shard.command(Command.SNOOZE, minutes=30))

    plan = shard.tick(46)

    incident = shard.incident()
    assert (incident.status, incident.acknowledged_at) == (Status.TRIGGERED, None)
    assert [(e.kind, e.actor, e.message) for e in plan.log] == [("retriggered", "tocsin", "snooze ended: re-triggered")]
    assert paged(plan) == [(4, 0, 0)]
    assert plan.pages[0].page == Page(0, 0, (ALICE,), shard.minute(46))
    assert incident.escalation == EscalationState(0, 0, shard.minute(51))
    assert paged(shard.tick(51)) == [(5, 1, 0)]


def test_a_late_tick_after_a_snooze_catches_up_from_when_it_ended() -> None:
    shard = opened()
    shard.at(1).apply(shard.command(Command.SNOOZE, minutes=10))

    plan = shard.tick(20)

    assert paged(plan) == [(2, 0, 0), (3, 1, 0)]
    assert [p.page.at for p in plan.pages] == [shard.minute(11), shard.minute(16)]
    assert shard.escalation().next_escalation_at == shard.minute(26)


@pytest.mark.parametrize("by_command", [False, True], ids=["alert", "command"])
def test_acknowledging_a_snoozed_incident_cancels_the_snooze(by_command: bool) -> None:
    shard = opened()
    shard.at(1).apply(shard.command(Command.SNOOZE, minutes=10))
    shard.at(3)

    plan = shard.apply(shard.command(Command.ACKNOWLEDGE) if by_command else shard.alert(ACK))

    incident = shard.incident()
    assert outcomes(plan) == [Outcome.ACKNOWLEDGED]
    assert messages(plan) == [f"acknowledged by {'alice' if by_command else 'prometheus'}; snooze cancelled"]
    assert plan.silenced == {id(incident): incident}
    assert incident.escalation == EscalationState(0, 0, None, stopped=True)
    assert shard.tick(11).changed == {}
    assert (incident.status, incident.acknowledged_at) == (Status.ACKNOWLEDGED, shard.minute(1))
    # Once the snooze is gone, acknowledging again is just unchanged.
    assert outcomes(shard.at(12).apply(shard.command(Command.ACKNOWLEDGE))) == [Outcome.UNCHANGED]


def test_resolving_a_snoozed_incident_cancels_the_snooze() -> None:
    shard = opened()
    shard.at(1).apply(shard.command(Command.SNOOZE, minutes=10))

    plan = shard.at(3).apply(shard.command(Command.RESOLVE))

    draft = plan.applied[0].incident
    assert draft is not None and draft.escalation is not None
    assert draft.escalation.snoozed_until is None and draft.escalation.resolved
    assert shard.tick(11).changed == {}


@pytest.mark.parametrize("minutes", [0, -5, None])
def test_snooze_needs_at_least_a_minute(minutes: int | None) -> None:
    shard = opened()
    before = replace(shard.incident())

    plan = shard.at(1).apply(shard.command(Command.SNOOZE, minutes=minutes))

    assert refused(plan) == "snooze needs a duration of at least one minute"
    assert shard.incident() == before


def test_a_snooze_without_a_policy_retriggers_and_pages_nobody() -> None:
    shard = opened(None)
    assert outcomes(shard.at(1).apply(shard.command(Command.SNOOZE, minutes=10))) == [Outcome.SNOOZED]

    plan = shard.tick(11)

    assert messages(plan) == ["snooze ended: re-triggered; no escalation policy, nobody is paged"]
    assert plan.pages == [] and shard.incident().status is Status.TRIGGERED
    assert shard.escalation() == EscalationState(0, 0, None)
    assert shard.tick(1_000).changed == {}


# -- escalate ---------------------------------------------------------------------------------


def test_escalate_pages_the_next_level_now() -> None:
    shard = opened()

    plan = shard.at(2).apply(shard.command(Command.ESCALATE))

    assert outcomes(plan) == [Outcome.ESCALATED]
    assert messages(plan) == ["escalated to level 2 by alice"]
    assert [(p.number, p.page) for p in plan.pages] == [(2, Page(1, 0, (BOB,), shard.minute(2)))]
    assert shard.escalation().next_escalation_at == shard.minute(12)
    assert shard.tick(5).pages == []  # the old deadline is gone
    assert paged(shard.tick(12)) == [(3, 2, 0)]


@pytest.mark.parametrize("first", [Command.ACKNOWLEDGE, Command.SNOOZE])
def test_escalate_retriggers_an_acknowledged_or_snoozed_incident(first: Command) -> None:
    shard = opened()
    shard.at(1).apply(shard.command(first, minutes=30 if first is Command.SNOOZE else None))

    plan = shard.at(2).apply(shard.command(Command.ESCALATE))

    incident = shard.incident()
    assert (incident.status, incident.acknowledged_at) == (Status.TRIGGERED, None)
    assert paged(plan) == [(2, 1, 0)]
    assert incident.escalation == EscalationState(1, 0, shard.minute(12))
    assert paged(shard.tick(12)) == [(3, 2, 0)]


@pytest.mark.parametrize(("to_level", "targets", "deadline", "message"), [
    (0, (ALICE,), 6, "escalated to level 1 by alice"),
    (2, (PRIMARY, CAROL), None, "escalated to level 3 by alice"),
])
def test_escalate_to_a_level_pages_that_level(
    to_level: int, targets: tuple[Target, ...], deadline: float | None, message: str
) -> None:
    shard = opened()

    plan = shard.at(1).apply(shard.command(Command.ESCALATE, to_level=to_level))

    assert [(p.number, p.page) for p in plan.pages] == [(2, Page(to_level, 0, targets, shard.minute(1)))]
    expected = None if deadline is None else shard.minute(deadline)
    assert shard.escalation().next_escalation_at == expected
    assert messages(plan) == [message]


@pytest.mark.parametrize("to_level", [3, -1])
def test_escalate_to_a_level_out_of_range_is_refused(to_level: int) -> None:
    shard = opened()
    shard.at(1).apply(shard.command(Command.ACKNOWLEDGE))
    before = replace(shard.incident())

    plan = shard.at(2).apply(shard.command(Command.ESCALATE, to_level=to_level))

    assert refused(plan) == f"to_level {to_level} is out of range: levels are 0..2"
    assert shard.incident() == before


def test_escalate_without_any_policy_is_refused() -> None:
    shard = opened(None)

    plan = shard.at(1).apply(shard.command(Command.ESCALATE))

    assert refused(plan) == NOTHING_TO_ESCALATE
    assert shard.incident().policy_id is None


@pytest.mark.parametrize(("to_level", "level"), [(None, 0), (1, 1)])
def test_escalate_adopts_the_policy_the_service_got_after_the_incident_opened(to_level: int | None, level: int) -> None:
    shard = opened(None)
    shard.config = ServiceConfig(OPS)
    shard.policies[OPS] = THREE

    plan = shard.at(3).apply(shard.command(Command.ESCALATE, to_level=to_level))

    assert outcomes(plan) == [Outcome.ESCALATED]
    targets = THREE.levels[level].targets
    assert [(p.number, p.page) for p in plan.pages] == [(1, Page(level, 0, targets, shard.minute(3)))]
    assert shard.incident().policy_id == OPS
    assert shard.escalation().next_escalation_at == shard.minute(3) + THREE.levels[level].delay


@pytest.mark.parametrize("loaded", [True, False], ids=["level-out-of-range", "policy-not-loaded"])
def test_a_refused_escalate_does_not_adopt_the_services_policy(loaded: bool) -> None:
    shard = opened(None)
    shard.config = ServiceConfig(OPS)
    if loaded:
        shard.policies[OPS] = THREE

    plan = shard.at(3).apply(
        shard.command(Command.ESCALATE, to_level=9 if loaded else None), shard.command(Command.ACKNOWLEDGE)
    )

    assert outcomes(plan) == [Outcome.REFUSED, Outcome.ACKNOWLEDGED]
    assert shard.incident().policy_id is None


# -- reassign ---------------------------------------------------------------------------------


def test_reassign_to_a_user_pages_exactly_that_user_once() -> None:
    shard = opened()
    shard.at(1).apply(shard.command(Command.ACKNOWLEDGE))

    plan = shard.at(2).apply(shard.command(Command.REASSIGN, user_id="dave"))

    incident = shard.incident()
    assert outcomes(plan) == [Outcome.REASSIGNED]
    assert messages(plan) == ["reassigned to user dave by alice"]
    assert [(p.number, p.page) for p in plan.pages] == [(2, Page(0, 0, (DAVE,), shard.minute(2)))]
    assert (incident.assigned_user_id, incident.policy_id, incident.status) == ("dave", OPS, Status.TRIGGERED)
    assert plan.silenced == {id(incident): incident}  # the earlier pages' notifications go
    assert incident.escalation == EscalationState(0, 0, None)  # nothing left to walk
    for minute in (5, 1_000):
        assert shard.tick(minute).pages == []


def test_reassign_to_a_policy_starts_a_fresh_walk_of_it() -> None:
    shard = opened(others={DB: TWO})
    shard.tick(5)

    plan = shard.at(6).apply(shard.command(Command.REASSIGN, policy_id=DB))

    incident = shard.incident()
    assert messages(plan) == [f"reassigned to escalation policy {DB} by alice"]
    assert [(p.number, p.page) for p in plan.pages] == [(3, Page(0, 0, (DAVE,), shard.minute(6)))]
    assert (incident.policy_id, incident.assigned_user_id) == (DB, None)
    assert incident.escalation == EscalationState(0, 0, shard.minute(9))
    assert [(p.number, p.page) for p in shard.tick(15).pages] == [(4, Page(1, 0, (PRIMARY,), shard.minute(9)))]
    assert shard.escalation().next_escalation_at is None


def test_reassign_from_a_user_back_to_a_policy() -> None:
    shard = opened()
    shard.at(1).apply(shard.command(Command.REASSIGN, user_id="dave"))

    plan = shard.at(2).apply(shard.command(Command.REASSIGN, policy_id=OPS))

    assert shard.incident().assigned_user_id is None
    assert [(p.number, p.page) for p in plan.pages] == [(3, Page(0, 0, (ALICE,), shard.minute(2)))]
    assert paged(shard.tick(7)) == [(4, 1, 0)]


def test_reassign_needs_a_user_or_a_policy() -> None:
    shard = opened()

    plan = shard.at(1).apply(shard.command(Command.REASSIGN))

    assert refused(plan) == "reassign needs a user_id or an escalation_policy_id"


def test_a_refused_reassign_leaves_the_assignment_as_it_was() -> None:
    shard = opened()
    shard.at(1).apply(shard.command(Command.REASSIGN, user_id="dave"))

    plan = shard.at(2).apply(
        shard.command(Command.REASSIGN, policy_id="pol-missing"), shard.command(Command.ACKNOWLEDGE)
    )

    assert outcomes(plan) == [Outcome.REFUSED, Outcome.ACKNOWLEDGED]
    assert plan.applied[0].note == NOTHING_TO_ESCALATE
    incident = shard.incident()
    assert (incident.assigned_user_id, incident.policy_id) == ("dave", OPS)


# -- a policy edited mid-walk ---------------------------------------------------------------


def test_a_policy_edited_to_fewer_levels_ends_the_walk_at_its_last_level() -> None:
    shard = opened()
    shard.tick(5)  # level 2 paged; level 3 due at 15
    shard.policies[OPS] = Policy((Level(5, (ALICE,)),))

    plan = shard.tick(15)

    assert plan.pages == []
    assert shard.escalation().next_escalation_at is None
    # Escalating by hand pages the last level there is.
    assert paged(shard.at(16).apply(shard.command(Command.ESCALATE))) == [(3, 0, 0)]


def test_a_policy_edited_to_fewer_levels_goes_on_to_its_next_pass() -> None:
    shard = opened(Policy(THREE.levels, repeat=1))
    shard.tick(15)  # level 3 of pass 0 paged; pass 1 due at 30
    shard.policies[OPS] = Policy(THREE.levels[:2], repeat=1)

    plan = shard.tick(30)

    assert [(p.number, p.page) for p in plan.pages] == [(4, Page(0, 1, (ALICE,), shard.minute(30)))]
    assert shard.escalation().next_escalation_at == shard.minute(35)


# -- properties -------------------------------------------------------------------------------

policies = st.builds(
    Policy,
    st.lists(st.integers(1, 30), min_size=1, max_size=4).map(
        lambda delays: tuple(Level(d, (Target.user(f"user-{n}"),)) for n, d in enumerate(delays))
    ),
    st.integers(0, 2),
)


@settings(max_examples=100, deadline=None)
@given(policy=policies, ticks=st.lists(st.tuples(st.integers(0, 300), st.booleans()), max_size=20))
def test_ticks_page_each_position_once_in_order_with_page_numbers_without_gaps(
    policy: Policy, ticks: list[tuple[int, bool]]
) -> None:
    shard = opened(policy)
    for minute, occurrence in sorted(ticks):
        shard.at(minute)
        if occurrence:
            shard.apply(shard.alert())
        shard.tick(minute)

    positions = [(p.page.level, p.page.pass_) for p in shard.pages]
    assert len(positions) == len(set(positions))
    assert positions == walk_order(policy)[: len(positions)]
    assert [p.number for p in shard.pages] == list(range(1, len(shard.pages) + 1))
    assert shard.incident().pages == len(shard.pages)
    assert all(p.page.targets == policy.levels[p.page.level].targets for p in shard.pages)
    # Everything due by the last tick was paged, each at its own deadline.
    due = [shard.t0]
    for level, _ in walk_order(policy)[:-1]:
        due.append(due[-1] + policy.levels[level].delay)
    last = shard.minute(max((minute for minute, _ in ticks), default=0))
    assert [p.page.at for p in shard.pages] == [d for d in due if d <= last]


WALKED = Policy(THREE.levels, repeat=1)
OPENING = ["a", "b"]  # incidents 1 and 2, opened before the steps

commands = st.one_of(
    st.sampled_from([{"action": Command.ACKNOWLEDGE}, {"action": Command.RESOLVE}]),
    st.fixed_dictionaries({"action": st.just(Command.ESCALATE), "to_level": st.none() | st.integers(-1, 3)}),
    st.fixed_dictionaries({"action": st.just(Command.SNOOZE), "minutes": st.integers(0, 20)}),
    st.fixed_dictionaries({
        "action": st.just(Command.REASSIGN),
        "user_id": st.none() | st.just("dave"),
        "policy_id": st.none() | st.sampled_from([OPS, DB, "pol-missing"]),
    }),
)
steps_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("alert"), st.sampled_from(OPENING), st.sampled_from(list(Action))),
        st.tuples(st.just("command"), st.integers(1, len(OPENING)), commands),
        st.tuples(st.just("tick"), st.integers(0, 30)),
    ),
    max_size=30,
)

Step = ServiceInput | datetime  # an input, or a tick at that time


def build(steps: list[tuple[Any, ...]]) -> list[Step]:
    """Inputs a minute apart after the opening; a tick step moves the clock on and ticks."""
    shard = Shard()
    minute = 0
    built: list[Step] = []
    for kind, *args in steps:
        if kind == "tick":
            minute += args[0]
            built.append(shard.minute(minute))
            continue
        minute += 1
        shard.at(minute)
        if kind == "alert":
            built.append(shard.alert(args[1], args[0]))
        else:
            built.append(shard.command(incident_id=args[0], **args[1]))
    return built


@dataclass
class Run:
    pages: list[tuple[int | None, int, int, int, tuple[Target, ...], datetime]] = field(default_factory=list)
    applied: list[tuple[Outcome, int | None, str | None]] = field(default_factory=list)
    incidents: dict[int, Incident] = field(default_factory=dict)  # every incident, as last committed


def run(steps: list[Step], cuts: set[int]) -> Run:
    """Apply the inputs in batches that end before each index in `cuts`. A tick is a batch of
    its own that names every incident opened so far due: the shard picks the due incidents
    before it plans, so one opened in the same batch is never among them."""
    shard = Shard(WALKED, others={DB: TWO})
    shard.apply(*(shard.alert(key=key) for key in OPENING))
    result = Run()

    def adopt(plan: Plan) -> None:
        result.pages += [(p.incident.id, p.number, p.page.level, p.page.pass_, p.page.targets, p.page.at)
                         for p in plan.pages]
        result.applied += [(a.outcome, a.incident.id if a.incident else None, a.note) for a in plan.applied]
        result.incidents.update({i.id: replace(i) for i in plan.changed.values() if i.id is not None})

    batch: list[ServiceInput] = []
    for index, step in enumerate(steps):
        if (isinstance(step, datetime) or index in cuts) and batch:
            adopt(shard.apply(*batch))
            batch = []
        if isinstance(step, datetime):
            adopt(shard.apply(due=list(shard.ids), now=step))
        else:
            batch.append(step)
    if batch:
        adopt(shard.apply(*batch))
    return result


@settings(max_examples=500, deadline=None)
@given(steps=steps_strategy, cuts=st.sets(st.integers(1, 30), max_size=30))
def test_the_walk_does_not_depend_on_how_inputs_are_cut_into_batches(
    steps: list[tuple[Any, ...]], cuts: set[int]
) -> None:
    built = build(steps)

    one_batch = run(built, set())
    assert run(built, cuts) == one_batch
    assert run(built, set(range(len(built)))) == one_batch
