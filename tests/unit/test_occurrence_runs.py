"""Occurrences folded within a batch: one step and one timeline entry per run of an incident's
occurrences, and otherwise what applying the same inputs one batch each gives — the same
incidents, counts, statuses, outcomes, pages and timelines, but for the occurrence entries,
which add up to the same number of alerts, with the same rules, in the same places."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.actors.domain.batch_plan import Plan
from tocsin.actors.domain.escalation_state import Level, Policy, Target
from tocsin.actors.domain.events import Action, AlertEvent, Command, IncidentCommand, ServiceInput
from tocsin.actors.domain.incident import Incident, Outcome
from tocsin.actors.domain.incident_escalation import ServiceConfig, Walks
from tocsin.actors.domain.occurrence_run import SUMMARY_KIND
from tocsin.actors.domain.rules.decision import Disposition
from tocsin.actors.domain.service_incidents import ServiceIncidents

SERVICE = "svc-checkout"
POLICY = "pol-ops"
START = datetime(2026, 1, 1, 10, 0, tzinfo=timezone.utc)
KEYS = ("a", "b", "c")
SOURCES = ("prometheus", "grafana")
RULES = ((), ("r-1",), ("r-1", "r-2"))
ENRICHMENTS = ("", '{"tags": ["db"]}', '{"tags": ["db", "eu"]}', '{"tags": ["web"]}')
OCCURRENCE_KINDS = ("occurrence", SUMMARY_KIND)


@dataclass
class Service:
    """One service's incidents, planned and committed as the shard does, ids as the store gives them."""

    config: ServiceConfig
    incidents: ServiceIncidents = field(default_factory=lambda: ServiceIncidents(SERVICE))
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    plans: list[Plan] = field(default_factory=list)

    def apply(self, inputs: Sequence[ServiceInput]) -> Plan:
        policies = {POLICY: Policy((Level(5, (Target.user("alice"),)),))}
        plan = self.incidents.plan(inputs, Walks(self.config, policies))
        for incident in plan.new_incidents:
            incident.id = next(self.ids)
        self.incidents.commit(plan)
        self.plans.append(plan)
        return plan

    def outcomes(self) -> list[tuple[str, Outcome, int | None]]:
        return [(a.input.input_id, a.outcome, a.incident.id if a.incident else None)
                for plan in self.plans for a in plan.applied]

    def final_incidents(self) -> dict[int, Incident]:
        return {i.id: i for plan in self.plans for i in plan.changed.values() if i.id is not None}

    def pages(self) -> list[tuple[int | None, object, int]]:
        return [(p.incident.id, p.page, p.number) for plan in self.plans for p in plan.pages]

    def silenced(self) -> set[int | None]:
        """The incidents whose pending notifications were cancelled."""
        return {i.id for plan in self.plans for i in plan.silenced.values()}

    def timelines(self) -> dict[int | None, list[object]]:
        """Each incident's entries in order, a stretch of occurrence entries as the alerts it
        stands for, counted by source, rules and what they did."""
        found: dict[int | None, list[object]] = {}
        for entry in (e for plan in self.plans for e in plan.log):
            timeline = found.setdefault(entry.incident.id, [])
            if entry.kind not in OCCURRENCE_KINDS:
                timeline.append((entry.at, entry.kind, entry.actor, entry.message, entry.input_id, entry.rules,
                                 entry.rule_effect))
                continue
            if not timeline or not isinstance(timeline[-1], Counter):
                timeline.append(Counter())
            timeline[-1][(entry.actor, entry.rules, entry.rule_effect)] += entry.alerts
        return found


@st.composite
def alert(draw: st.DrawFn, number: int, at: datetime) -> AlertEvent:
    return AlertEvent(
        event_id=f"event-{number}", service_id=SERVICE, integration_id="integration-1",
        dedup_key=draw(st.sampled_from(KEYS)),
        action=draw(st.sampled_from((Action.TRIGGER,) * 6 + (Action.ACKNOWLEDGE, Action.RESOLVE))),
        received_at=at, summary=draw(st.sampled_from((None, "disk full", "disk nearly full"))),
        source=draw(st.sampled_from(SOURCES)), rules=draw(st.sampled_from(RULES)),
        disposition=draw(st.sampled_from((Disposition.PAGE,) * 4 + (Disposition.SUPPRESS,))),
        enrichment=draw(st.sampled_from(ENRICHMENTS)),
    )


@st.composite
def command(draw: st.DrawFn, number: int, at: datetime) -> IncidentCommand:
    """A person's command on one of the incidents open before the batch (ids 1 and 2)."""
    action = draw(st.sampled_from((Command.ACKNOWLEDGE, Command.RESOLVE, Command.NOTE)))
    return IncidentCommand(command_id=f"command-{number}", service_id=SERVICE, incident_id=draw(st.integers(1, 2)),
                           action=action, actor="alice", received_at=at, text="looking")


@st.composite
def batches(draw: st.DrawFn) -> list[ServiceInput]:
    """Inputs in order, their times mostly moving forward (a gateway's clock may lag another's)."""
    inputs: list[ServiceInput] = []
    at = START
    for number in range(draw(st.integers(1, 60))):
        at += timedelta(seconds=draw(st.sampled_from((0, 1, 1, 2, -3))))
        kind = command if draw(st.integers(0, 9)) == 0 else alert
        inputs.append(draw(kind(number, at)))
    return inputs


CONFIGS = st.builds(
    ServiceConfig, policy_id=st.sampled_from((None, POLICY)), auto_resolve_minutes=st.sampled_from((None, 30)),
    max_unacknowledged=st.sampled_from((None, 2)),
)


def opened(config: ServiceConfig) -> Service:
    """A service with an incident open for each key but the last, before the batch."""
    service = Service(config)
    service.apply([AlertEvent(f"open-{key}", SERVICE, None, key, Action.TRIGGER, START - timedelta(minutes=1))
                   for key in KEYS[:-1]])
    return service


@settings(max_examples=300, deadline=None)
@given(config=CONFIGS, inputs=batches())
def test_a_folded_batch_ends_as_alert_by_alert_application(config: ServiceConfig, inputs: list[ServiceInput]) -> None:
    folded, one_by_one = opened(config), opened(config)

    folded.apply(inputs)
    for item in inputs:
        one_by_one.apply([item])

    assert folded.outcomes() == one_by_one.outcomes()
    assert folded.final_incidents() == one_by_one.final_incidents()
    assert folded.incidents.by_key == one_by_one.incidents.by_key
    assert folded.pages() == one_by_one.pages()
    assert folded.silenced() == one_by_one.silenced()
    assert folded.timelines() == one_by_one.timelines()


def test_a_storm_of_occurrences_is_one_step_and_one_entry_per_incident() -> None:
    service = opened(ServiceConfig())
    storm = [AlertEvent(f"event-{n}", SERVICE, None, KEYS[n % 2], Action.TRIGGER, START + timedelta(seconds=n),
                        summary="disk full") for n in range(100)]

    plan = service.apply(storm)

    assert [(e.incident.dedup_key, e.kind, e.alerts) for e in plan.log] == [("a", SUMMARY_KIND, 50),
                                                                           ("b", SUMMARY_KIND, 50)]
    assert plan.log[0].message == "50 more occurrences (2–51), 10:00:00–10:01:38 UTC: disk full"
    assert [service.incidents.by_key[k].occurrences for k in KEYS[:2]] == [51, 51]
    assert [a.outcome for a in plan.applied] == [Outcome.OCCURRENCE] * 100


def test_an_acknowledge_between_occurrences_keeps_its_place_on_the_timeline() -> None:
    service = opened(ServiceConfig())
    at = [START + timedelta(seconds=n) for n in range(5)]
    plan = service.apply([
        AlertEvent("t1", SERVICE, None, "a", Action.TRIGGER, at[0]),
        AlertEvent("t2", SERVICE, None, "a", Action.TRIGGER, at[1]),
        AlertEvent("ack", SERVICE, None, "a", Action.ACKNOWLEDGE, at[2], source="grafana"),
        AlertEvent("t3", SERVICE, None, "a", Action.TRIGGER, at[3]),
    ])

    assert [(e.kind, e.message) for e in plan.log] == [
        (SUMMARY_KIND, "2 more occurrences (2–3), 10:00:00–10:00:01 UTC"),
        ("acknowledged", "acknowledged by grafana"),
        ("occurrence", "occurrence 4"),
    ]
    assert service.incidents.by_key["a"].occurrences == 4
