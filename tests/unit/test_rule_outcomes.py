"""What routing rules decided, as a service's incidents apply it: suppressed incidents page
nobody until an alert no rule suppresses joins them, paused ones page at the end of the pause
only if still triggered, urgency, priority, details and tags set by rules land on the incident,
and the timeline names the rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from tocsin.actors.domain.events import Action, AlertEvent, Command, Status, Urgency
from tocsin.actors.domain.incident import Outcome
from tocsin.actors.domain.incident_escalation import Walks
from tocsin.actors.domain.rule_effects import effect_of, enrichment_of, with_tags
from tocsin.actors.domain.rules.decision import Disposition
from tests.unit.test_walk import KEY, Shard, kinds, outcomes, paged


def ruled(event: AlertEvent, *rules: str, **changes: Any) -> AlertEvent:
    return replace(event, rules=rules or ("r-1",), **changes)


def suppressed(shard: Shard, key: str = KEY) -> AlertEvent:
    return ruled(shard.alert(key=key), "inhibit-dc", disposition=Disposition.SUPPRESS)


def paused(shard: Shard, minutes: int = 10) -> AlertEvent:
    return ruled(shard.alert(), "flappy", disposition=Disposition.PAUSE, pause_minutes=minutes)


# -- suppress ------------------------------------------------------------------------------


def test_a_suppressed_alert_opens_an_incident_that_pages_nobody() -> None:
    shard = Shard()

    plan = shard.apply(suppressed(shard))

    assert outcomes(plan) == [Outcome.OPENED] and plan.pages == []
    incident = shard.incident()
    assert incident.suppressed and incident.status is Status.TRIGGERED and incident.escalation is None
    assert kinds(plan) == ["triggered", "suppressed"]
    assert shard.tick(1_000).changed == {}  # nothing waits on a deadline either


def test_an_alert_no_rule_suppresses_lifts_the_suppression_and_pages_as_if_just_opened() -> None:
    shard = Shard()
    shard.apply(suppressed(shard))

    plan = shard.at(7).apply(shard.alert())

    assert outcomes(plan) == [Outcome.OCCURRENCE] and paged(plan) == [(1, 0, 0)]
    assert plan.pages[0].page.at == shard.minute(7)
    assert not shard.incident().suppressed
    assert kinds(plan) == ["occurrence", "unsuppressed"]
    assert paged(shard.tick(12)) == [(2, 1, 0)]  # the walk goes on from there


def test_a_suppressed_alert_on_a_paging_incident_changes_nothing_of_its_paging() -> None:
    shard = Shard()
    shard.apply(shard.alert())

    plan = shard.at(1).apply(suppressed(shard))

    assert outcomes(plan) == [Outcome.OCCURRENCE] and plan.pages == [] and plan.silenced == {}
    assert not shard.incident().suppressed
    assert paged(shard.tick(5)) == [(2, 1, 0)]


def test_further_suppressed_alerts_keep_it_suppressed() -> None:
    shard = Shard()
    shard.apply(suppressed(shard))

    plan = shard.at(3).apply(suppressed(shard))

    assert plan.pages == [] and shard.incident().suppressed and kinds(plan) == ["occurrence"]


def test_an_acknowledged_suppressed_incident_is_not_paged_by_a_later_alert() -> None:
    shard = Shard()
    shard.apply(suppressed(shard))
    shard.apply(shard.command(Command.ACKNOWLEDGE))

    plan = shard.at(3).apply(shard.alert())

    assert plan.pages == [] and shard.incident().status is Status.ACKNOWLEDGED


def test_suppressed_incidents_are_resolved_like_any() -> None:
    shard = Shard()
    shard.apply(suppressed(shard))

    plan = shard.apply(shard.alert(Action.RESOLVE))

    assert outcomes(plan) == [Outcome.RESOLVED] and shard.incidents.by_key == {}


def test_suppressed_incidents_do_not_count_against_the_cap_on_unacknowledged_ones() -> None:
    shard = Shard()
    shard.config = replace(shard.config, max_unacknowledged=1)
    shard.apply(suppressed(shard, "a"), suppressed(shard, "b"))

    plan = shard.apply(shard.alert(key="c"))

    assert [a.incident.dedup_key for a in plan.applied if a.incident] == ["c"]
    assert paged(plan) == [(1, 0, 0)]


def test_escalating_a_suppressed_incident_by_hand_pages_and_ends_the_suppression() -> None:
    shard = Shard()
    shard.apply(suppressed(shard))

    plan = shard.at(2).apply(shard.command(Command.ESCALATE))

    assert paged(plan) == [(1, 0, 0)] and not shard.incident().suppressed


# -- pause ---------------------------------------------------------------------------------


def test_a_paused_alert_pages_at_the_end_of_the_pause_if_still_triggered() -> None:
    shard = Shard()

    plan = shard.apply(paused(shard, 10))

    incident = shard.incident()
    assert plan.pages == [] and incident.paused_until == shard.minute(10) and incident.escalation is None
    assert incident.next_deadline == shard.minute(10)
    assert kinds(plan) == ["triggered", "paused"]
    assert shard.tick(9).changed == {}  # not yet

    plan = shard.tick(10)

    assert paged(plan) == [(1, 0, 0)] and plan.pages[0].page.at == shard.minute(10)
    assert kinds(plan)[0] == "unpaused" and shard.incident().paused_until is None
    assert paged(shard.tick(15)) == [(2, 1, 0)]


def test_a_paused_incident_resolved_before_the_end_pages_nobody() -> None:
    shard = Shard()
    shard.apply(paused(shard, 10))

    shard.at(4).apply(shard.alert(Action.RESOLVE))

    assert shard.tick(10).changed == {} and shard.pages == []


def test_a_paused_incident_acknowledged_before_the_end_pages_nobody() -> None:
    shard = Shard()
    shard.apply(paused(shard, 10))

    shard.at(4).apply(shard.command(Command.ACKNOWLEDGE))

    assert shard.incident().paused_until is None and shard.incident().next_deadline is None
    assert shard.tick(30).changed == {} and shard.pages == []


def test_a_late_tick_ends_the_pause_at_its_deadline() -> None:
    shard = Shard()
    shard.apply(paused(shard, 10))

    plan = shard.tick(12)  # the shard was away at minute 10

    assert paged(plan) == [(1, 0, 0)] and plan.pages[0].page.at == shard.minute(10)


def test_more_paused_alerts_do_not_move_the_pause() -> None:
    shard = Shard()
    shard.apply(paused(shard, 10))

    shard.at(5).apply(paused(shard, 10))

    assert shard.incident().paused_until == shard.minute(10)


# -- urgency, priority, details, tags ------------------------------------------------------


def test_a_rule_s_urgency_wins_over_the_service_s() -> None:
    shard = Shard(urgency="high")

    shard.apply(ruled(shard.alert(), urgency=Urgency.LOW))

    assert shard.incident().urgency is Urgency.LOW


def test_priority_details_and_tags_land_on_the_incident_and_later_alerts_add_tags() -> None:
    shard = Shard()
    enrichment = orjson.dumps({"details": {"team": "db"}, "tags": ["db", "eu"]}).decode()

    event = ruled(shard.alert(), priority="P2", enrichment=enrichment)

    planned = shard.incidents.plan([event], Walks(shard.config, shard.policies))
    assert orjson.loads(planned.new_incidents[0].rule_details) == {"team": "db"}  # written with the row
    shard.apply(event)
    incident = shard.incident()
    assert (incident.priority, incident.tags) == ("P2", ("db", "eu"))
    assert incident.rule_details == "{}"  # written with the row; memory keeps none

    shard.apply(ruled(shard.alert(), enrichment=orjson.dumps({"tags": ["eu", "paging"]}).decode()))

    assert shard.incident().tags == ("db", "eu", "paging")


def test_enrichment_of_another_shape_adds_nothing() -> None:
    shard = Shard()
    for text in ("not json", "[1]", '{"details": "x", "tags": "y"}', '{"tags": [1, "ok"]}'):
        assert enrichment_of(ruled(shard.alert(), enrichment=text)).details == "{}"
    assert enrichment_of(ruled(shard.alert(), enrichment='{"tags": [1, "ok", "ok"]}')).tags == ("ok",)
    assert with_tags(("a",), ("b", "a")) == ("a", "b")


# -- the timeline --------------------------------------------------------------------------


def test_the_timeline_entry_of_each_alert_names_the_rules_and_what_they_did() -> None:
    shard = Shard()

    opening = shard.apply(ruled(shard.alert(), "route-db", "pause-flappy", disposition=Disposition.PAUSE,
                                pause_minutes=5, urgency=Urgency.LOW))
    later = shard.at(1).apply(ruled(shard.alert(), "route-db"))
    plain = shard.at(2).apply(shard.alert())

    first = opening.log[0]
    assert (first.kind, first.rules, first.rule_effect) == ("triggered", ("route-db", "pause-flappy"),
                                                            "paused 5 min, urgency low")
    assert (later.log[0].rules, later.log[0].rule_effect) == (("route-db",), None)
    assert (plain.log[0].rules, plain.log[0].rule_effect) == ((), None)


def test_what_rules_did_in_words() -> None:
    shard = Shard()
    assert effect_of(suppressed(shard)) == "suppressed"
    assert effect_of(ruled(shard.alert(), disposition=Disposition.PAUSE, pause_minutes=0)) is None
    assert effect_of(ruled(shard.alert(), priority="P1")) == "priority P1"
