"""The incident state machine and the dedupe rules of ServiceIncidents (PagerDuty semantics)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.actors.domain.clock import FakeClock
from tocsin.actors.domain.events import Action, AlertEvent, Command, IncidentCommand, Severity, Status
from tocsin.actors.domain.incident import Incident, Outcome
from tocsin.actors.domain.service_incidents import DEFAULT_SEVERITY, NO_DETAILS, Plan, ServiceIncidents

SERVICE = "svc-checkout"
KEY = "disk-full"

TRIGGER, ACK, RESOLVE = Action.TRIGGER, Action.ACKNOWLEDGE, Action.RESOLVE


class Inputs:
    """Builds inputs with unique ids and receive times that move forward."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self._ids = itertools.count(1)

    def alert(
        self,
        action: Action,
        key: str = KEY,
        *,
        summary: str | None = None,
        severity: Severity | None = None,
        source: str | None = "prometheus",
    ) -> AlertEvent:
        return AlertEvent(
            event_id=f"event-{next(self._ids)}",
            service_id=SERVICE,
            integration_id="integration-1",
            dedup_key=key,
            action=action,
            received_at=self.clock.advance(1),
            summary=summary,
            severity=severity,
            source=source,
            payload=f'{{"dedup_key": "{key}"}}',
        )

    def command(self, incident_id: int, action: Action, actor: str = "alice") -> IncidentCommand:
        return IncidentCommand(
            command_id=f"command-{next(self._ids)}",
            service_id=SERVICE,
            incident_id=incident_id,
            action=Command(action.value),
            actor=actor,
            received_at=self.clock.advance(1),
        )


class Shard:
    """ServiceIncidents plus what the store does around a plan: ids for new incidents, then commit."""

    def __init__(self) -> None:
        self.incidents = ServiceIncidents(SERVICE)
        self._ids = itertools.count(1)

    def assign_ids(self, plan: Plan) -> None:
        for incident in plan.new_incidents:
            incident.id = next(self._ids)

    def apply(self, *inputs: AlertEvent | IncidentCommand) -> Plan:
        plan = self.incidents.plan(inputs)
        self.assign_ids(plan)
        self.incidents.commit(plan)
        return plan

    def open_incident(self, key: str = KEY) -> Incident:
        return self.incidents.by_key[key]


@pytest.fixture
def inputs() -> Inputs:
    return Inputs()


@pytest.fixture
def shard() -> Shard:
    return Shard()


def outcomes(plan: Plan) -> list[Outcome]:
    return [applied.outcome for applied in plan.applied]


def kinds(plan: Plan) -> list[str]:
    return [entry.kind for entry in plan.log]


def memory(incidents: ServiceIncidents) -> tuple[dict[str, Incident], dict[int, str]]:
    """A deep copy of what ServiceIncidents holds, to compare with later."""
    return {key: replace(incident) for key, incident in incidents.by_key.items()}, dict(incidents.key_by_id)


# -- alert events -------------------------------------------------------------------


def test_trigger_opens_an_incident(shard: Shard, inputs: Inputs) -> None:
    event = inputs.alert(TRIGGER, summary="Disk 95% full on db-1", severity=Severity.WARNING)

    plan = shard.apply(event)

    assert outcomes(plan) == [Outcome.OPENED]
    incident = shard.open_incident()
    assert plan.applied[0].incident is incident
    assert (incident.id, incident.status, incident.occurrences) == (1, Status.TRIGGERED, 1)
    assert incident.summary == "Disk 95% full on db-1"
    assert (incident.severity, incident.source) == (Severity.WARNING, "prometheus")
    assert incident.created_at == incident.last_occurrence_at == event.received_at
    assert plan.new_incidents == [] and plan.applied[0].incident is incident  # written, then adopted
    assert incident.details == NO_DETAILS  # the payload went with the row; memory keeps none
    assert shard.incidents.key_by_id == {1: KEY}


def test_trigger_without_summary_or_severity_uses_the_dedup_key_and_critical(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER))

    incident = shard.open_incident()
    assert (incident.summary, incident.severity) == (KEY, DEFAULT_SEVERITY)
    assert DEFAULT_SEVERITY is Severity.CRITICAL


def test_repeated_trigger_adds_occurrences_to_the_same_incident(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER))
    second = shard.apply(inputs.alert(TRIGGER))
    last_event = inputs.alert(TRIGGER)
    third = shard.apply(last_event)

    assert outcomes(second) == outcomes(third) == [Outcome.OCCURRENCE]
    assert len(shard.incidents) == 1
    incident = shard.open_incident()
    assert (incident.id, incident.occurrences, incident.status) == (1, 3, Status.TRIGGERED)
    assert incident.last_occurrence_at == incident.updated_at == last_event.received_at
    assert second.new_incidents == []
    assert [updated.id for updated in second.updated_incidents] == [1]


def test_trigger_after_acknowledge_keeps_it_acknowledged_and_adds_an_occurrence(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER))
    shard.apply(inputs.alert(ACK))

    plan = shard.apply(inputs.alert(TRIGGER))

    assert outcomes(plan) == [Outcome.OCCURRENCE]
    incident = shard.open_incident()
    assert (incident.status, incident.occurrences) == (Status.ACKNOWLEDGED, 2)


def test_acknowledge_marks_the_open_incident_acknowledged(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER))
    ack = inputs.alert(ACK)

    plan = shard.apply(ack)

    assert outcomes(plan) == [Outcome.ACKNOWLEDGED]
    incident = shard.open_incident()
    assert (incident.status, incident.acknowledged_at) == (Status.ACKNOWLEDGED, ack.received_at)


def test_resolve_frees_the_key_so_the_next_trigger_opens_a_new_incident(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER))
    resolved = shard.apply(inputs.alert(RESOLVE))

    assert outcomes(resolved) == [Outcome.RESOLVED]
    assert resolved.applied[0].incident is not None and resolved.applied[0].incident.status is Status.RESOLVED
    assert len(shard.incidents) == 0 and shard.incidents.key_by_id == {}

    reopened = shard.apply(inputs.alert(TRIGGER))

    assert outcomes(reopened) == [Outcome.OPENED]
    incident = shard.open_incident()
    assert (incident.id, incident.occurrences) == (2, 1)
    assert shard.incidents.key_by_id == {2: KEY}


@pytest.mark.parametrize("action", [ACK, RESOLVE])
def test_acknowledge_or_resolve_without_an_open_incident_is_dropped(
    shard: Shard, inputs: Inputs, action: Action
) -> None:
    plan = shard.apply(inputs.alert(action))

    assert outcomes(plan) == [Outcome.DROPPED]
    assert plan.applied[0].incident is None
    assert plan.changed == {} and plan.log == []


@pytest.mark.parametrize("action", [ACK, RESOLVE])
def test_acknowledge_or_resolve_after_a_resolve_is_dropped(shard: Shard, inputs: Inputs, action: Action) -> None:
    shard.apply(inputs.alert(TRIGGER), inputs.alert(RESOLVE))

    assert outcomes(shard.apply(inputs.alert(action))) == [Outcome.DROPPED]


def test_acknowledge_for_another_key_is_dropped(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER, "cpu-high"))

    assert outcomes(shard.apply(inputs.alert(ACK, "disk-full"))) == [Outcome.DROPPED]
    assert shard.open_incident("cpu-high").status is Status.TRIGGERED


def test_acknowledging_twice_is_unchanged(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER), inputs.alert(ACK))
    acknowledged_at = shard.open_incident().acknowledged_at

    plan = shard.apply(inputs.alert(ACK))

    assert outcomes(plan) == [Outcome.UNCHANGED]
    assert plan.changed == {} and plan.log == []
    assert shard.open_incident().acknowledged_at == acknowledged_at


# -- commands from people -----------------------------------------------------------


@pytest.mark.parametrize(("action", "outcome", "status"), [
    (ACK, Outcome.ACKNOWLEDGED, Status.ACKNOWLEDGED),
    (RESOLVE, Outcome.RESOLVED, Status.RESOLVED),
])
def test_command_changes_the_incident_it_names(
    shard: Shard, inputs: Inputs, action: Action, outcome: Outcome, status: Status
) -> None:
    shard.apply(inputs.alert(TRIGGER))

    plan = shard.apply(inputs.command(1, action, actor="alice"))

    assert outcomes(plan) == [outcome]
    assert plan.applied[0].incident is not None and plan.applied[0].incident.status is status
    assert [(entry.actor, entry.message) for entry in plan.log] == [("alice", f"{outcome.value} by alice")]


def test_command_on_an_unknown_incident_is_unchanged(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER))

    plan = shard.apply(inputs.command(99, ACK))

    assert outcomes(plan) == [Outcome.UNCHANGED]
    assert plan.applied[0].incident is None and plan.changed == {}
    assert shard.open_incident().status is Status.TRIGGERED


def test_command_on_a_resolved_incident_is_unchanged(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER), inputs.alert(RESOLVE))

    plan = shard.apply(inputs.command(1, ACK))

    assert outcomes(plan) == [Outcome.UNCHANGED]
    assert plan.changed == {}


def test_command_on_an_incident_resolved_earlier_in_the_same_plan_is_unchanged(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER))

    plan = shard.apply(inputs.alert(RESOLVE), inputs.command(1, ACK))

    assert outcomes(plan) == [Outcome.RESOLVED, Outcome.UNCHANGED]


def test_command_on_an_old_incident_does_not_touch_the_new_one_with_its_key(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER))

    plan = shard.apply(inputs.alert(RESOLVE), inputs.alert(TRIGGER), inputs.command(1, ACK))

    assert outcomes(plan) == [Outcome.RESOLVED, Outcome.OPENED, Outcome.UNCHANGED]
    assert shard.open_incident().status is Status.TRIGGERED


# -- plans and commits ----------------------------------------------------------------


def test_a_plan_changes_nothing_until_it_is_committed(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER, "disk-full"), inputs.alert(TRIGGER, "cpu-high"), inputs.alert(ACK, "cpu-high"))
    before = memory(shard.incidents)
    batch = [
        inputs.alert(TRIGGER, "disk-full"),
        inputs.alert(ACK, "disk-full"),
        inputs.alert(RESOLVE, "cpu-high"),
        inputs.alert(TRIGGER, "cpu-high"),
        inputs.alert(TRIGGER, "new-key"),
        inputs.command(1, RESOLVE),
    ]

    discarded = shard.incidents.plan(batch)
    shard.assign_ids(discarded)  # the store got as far as inserting rows, then its transaction failed

    assert memory(shard.incidents) == before
    # Planning again from untouched memory gives the same answers as the discarded plan.
    retried = shard.incidents.plan(batch)
    assert outcomes(retried) == outcomes(discarded)
    assert kinds(retried) == kinds(discarded)


def test_commit_adopts_the_plan(shard: Shard, inputs: Inputs) -> None:
    shard.apply(inputs.alert(TRIGGER, "disk-full"), inputs.alert(TRIGGER, "cpu-high"))
    plan = shard.incidents.plan([inputs.alert(ACK, "disk-full"), inputs.alert(RESOLVE, "cpu-high")])
    acknowledged = plan.drafts["disk-full"]

    shard.incidents.commit(plan)

    assert shard.incidents.by_key == {"disk-full": acknowledged}
    assert acknowledged.status is Status.ACKNOWLEDGED
    assert shard.incidents.key_by_id == {1: "disk-full"}


def test_trigger_resolve_trigger_in_one_plan_yields_two_new_incidents(shard: Shard, inputs: Inputs) -> None:
    plan = shard.incidents.plan([inputs.alert(TRIGGER), inputs.alert(RESOLVE), inputs.alert(TRIGGER)])

    assert outcomes(plan) == [Outcome.OPENED, Outcome.RESOLVED, Outcome.OPENED]
    first, second = plan.new_incidents
    assert first is not second
    assert (first.status, second.status) == (Status.RESOLVED, Status.TRIGGERED)
    assert plan.updated_incidents == []

    shard.assign_ids(plan)
    shard.incidents.commit(plan)

    assert shard.incidents.by_key == {KEY: second}
    assert shard.incidents.key_by_id == {second.id: KEY}


def test_log_entries_name_each_change(shard: Shard, inputs: Inputs) -> None:
    batch = [
        inputs.alert(TRIGGER, summary="Disk full"),
        inputs.alert(TRIGGER, summary="Still full"),
        inputs.alert(ACK),
        inputs.alert(ACK),  # unchanged: no log entry
        inputs.alert(RESOLVE, source=None),
        inputs.alert(RESOLVE),  # dropped: no log entry
    ]

    plan = shard.apply(*batch)

    assert kinds(plan) == ["triggered", "unpaged", "occurrence", "acknowledged", "resolved"]
    assert [entry.message for entry in plan.log] == [
        "Disk full", "the service has no escalation policy: nobody is paged", "occurrence 2: Still full",
        "acknowledged by prometheus", "resolved by integration",
    ]
    assert [entry.input_id for entry in plan.log] == [batch[i].event_id for i in (0, 0, 1, 2, 4)]
    assert [entry.at for entry in plan.log] == [batch[i].received_at for i in (0, 0, 1, 2, 4)]
    assert {entry.incident.id for entry in plan.log} == {1}


# -- properties -----------------------------------------------------------------------

KEYS = ["a", "b", "c"]

steps_strategy = st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(list(Action))), max_size=40)


@dataclass
class Run:
    outcomes: list[tuple[Outcome, int | None]]
    incidents: dict[int, Incident]  # every incident ever opened, as last committed
    memory: tuple[dict[str, Incident], dict[int, str]]


def run(events: list[AlertEvent], cuts: set[int]) -> Run:
    """Apply the events in batches that end before each index in `cuts`; check (a) after each commit."""
    shard = Shard()
    result = Run([], {}, memory(shard.incidents))
    bounds = [0, *sorted(cut for cut in cuts if 0 < cut < len(events)), len(events)]
    for start, end in itertools.pairwise(bounds):
        plan = shard.apply(*events[start:end])
        result.outcomes += [(a.outcome, a.incident.id if a.incident else None) for a in plan.applied]
        result.incidents.update({incident.id: replace(incident) for incident in plan.changed.values()
                                 if incident.id is not None})
        open_keys = [incident.dedup_key for incident in result.incidents.values() if incident.is_open]
        assert len(open_keys) == len(set(open_keys)), "two open incidents share a dedup key"
        assert sorted(open_keys) == sorted(shard.incidents.by_key)
    result.memory = memory(shard.incidents)
    return result


def build(steps: list[tuple[str, Action]]) -> list[AlertEvent]:
    inputs = Inputs()
    return [inputs.alert(action, key) for key, action in steps]


cut_strategy = st.sets(st.integers(min_value=1, max_value=40), max_size=40)


@settings(max_examples=200, deadline=None)
@given(steps=steps_strategy, cuts=cut_strategy)
def test_at_most_one_open_incident_per_key_and_every_trigger_counted_once(
    steps: list[tuple[str, Action]], cuts: set[int]
) -> None:
    result = run(build(steps), cuts)

    triggers = sum(1 for _, action in steps if action is TRIGGER)
    assert sum(incident.occurrences for incident in result.incidents.values()) == triggers


@settings(max_examples=200, deadline=None)
@given(steps=steps_strategy, cuts=cut_strategy, other_cuts=cut_strategy)
def test_the_result_does_not_depend_on_how_events_are_cut_into_batches(
    steps: list[tuple[str, Action]], cuts: set[int], other_cuts: set[int]
) -> None:
    events = build(steps)

    one_batch = run(events, set())
    assert run(events, cuts) == one_batch
    assert run(events, other_cuts) == one_batch
    assert run(events, set(range(len(events)))) == one_batch
