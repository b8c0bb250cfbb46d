"""Noise control in a service's planning: maintenance windows page nobody, incidents with no
new occurrence resolve themselves, and past the cap on unacknowledged incidents new alerts
join one overflow incident."""

from __future__ import annotations

from dataclasses import replace

from tocsin.actors.domain.events import Action, Command, Status
from tocsin.actors.domain.incident import Outcome
from tocsin.actors.domain.service_incidents import OVERFLOW_KEY
from tests.unit.test_walk import Shard, kinds, outcomes, paged


def test_an_incident_opened_during_maintenance_is_recorded_but_pages_nobody() -> None:
    shard = Shard()
    shard.config = replace(shard.config, maintenance=((shard.minute(0), shard.minute(60)),))

    plan = shard.at(10).apply(shard.alert())

    assert outcomes(plan) == [Outcome.OPENED] and plan.pages == []
    assert kinds(plan) == ["triggered", "unpaged"]
    assert "maintenance until" in plan.log[1].message
    assert shard.incident().escalation is None  # nothing will page it later either


def test_after_the_window_new_incidents_page_again() -> None:
    shard = Shard()
    shard.config = replace(shard.config, maintenance=((shard.minute(0), shard.minute(60)),))

    plan = shard.at(60).apply(shard.alert(key="after"))

    assert paged(plan) == [(1, 0, 0)]


def test_a_window_still_to_come_changes_nothing_yet() -> None:
    shard = Shard()
    shard.config = replace(shard.config, maintenance=((shard.minute(30), shard.minute(60)),))

    assert paged(shard.at(10).apply(shard.alert())) == [(1, 0, 0)]


def test_an_incident_with_no_new_occurrence_resolves_itself() -> None:
    shard = Shard(policy=None)
    shard.config = replace(shard.config, auto_resolve_minutes=30)
    shard.apply(shard.alert())
    assert shard.incident().auto_resolve_at == shard.minute(30)

    shard.at(20).apply(shard.alert())  # an occurrence moves the deadline
    assert shard.incident().auto_resolve_at == shard.minute(50)
    assert shard.tick(49).changed == {}  # not yet

    plan = shard.at(50).apply(due=[1])

    assert [(e.kind, e.actor) for e in plan.log][-1] == ("resolved", "tocsin")
    assert "no new occurrence since" in plan.log[-1].message
    assert shard.incidents.by_key == {} and plan.silenced  # closed, its pending pages cancelled


def test_an_acknowledged_incident_resolves_itself_too() -> None:
    shard = Shard()
    shard.config = replace(shard.config, auto_resolve_minutes=30)
    shard.apply(shard.alert())
    shard.at(5).apply(shard.command(Command.ACKNOWLEDGE))

    plan = shard.at(31).apply(due=[1])

    assert [d.status for d in plan.changed.values()] == [Status.RESOLVED]


def test_past_the_cap_new_alerts_join_one_overflow_incident_that_pages_once() -> None:
    shard = Shard()
    shard.config = replace(shard.config, max_unacknowledged=2, name="checkout-api")
    shard.apply(shard.alert(key="a"), shard.alert(key="b"))

    plan = shard.at(1).apply(shard.alert(key="c"), shard.alert(key="d"), shard.alert(key="a"))

    assert outcomes(plan) == [Outcome.OPENED, Outcome.OCCURRENCE, Outcome.OCCURRENCE]
    overflow = shard.incident(OVERFLOW_KEY)
    assert overflow.summary.startswith("More than 2 unacknowledged incidents on checkout-api")
    assert overflow.occurrences == 2 and shard.incident("a").occurrences == 2  # a known key stays its own
    assert paged(plan) == [(1, 0, 0)]  # the overflow incident pages once
    assert set(shard.incidents.by_key) == {"a", "b", OVERFLOW_KEY}


def test_acknowledging_makes_room_under_the_cap_again() -> None:
    shard = Shard()
    shard.config = replace(shard.config, max_unacknowledged=2)
    shard.apply(shard.alert(key="a"), shard.alert(key="b"))
    shard.at(1).apply(shard.alert(Action.ACKNOWLEDGE, key="a"))

    plan = shard.at(2).apply(shard.alert(key="c"))

    assert outcomes(plan) == [Outcome.OPENED] and "c" in shard.incidents.by_key
    assert OVERFLOW_KEY not in shard.incidents.by_key
