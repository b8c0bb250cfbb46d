"""The gateway's inhibition, its pure part: open incidents entered as loaded and followed from
the bus's incident events, and the alerts they inhibit."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson

from tocsin.actors.bus_types import BusEvent
from tocsin.actors.domain.rules import compile_inhibit_rules, view_of
from tocsin.serve.inhibitor import OpenSources, SourceIncident

NOW = datetime(2026, 5, 6, 12, 0, tzinfo=timezone.utc)
RULES = compile_inhibit_rules([{
    "id": "dc-down", "source": {"field": "labels.alertname", "op": "equals", "value": "DatacenterDown"},
    "target": {"field": "labels.alertname", "op": "equals", "value": "HostUnreachable"}, "equal": ["labels.dc"],
}])
HOST_IN_AMS = view_of("alertmanager", {"labels": {"alertname": "HostUnreachable", "dc": "ams"}})


def incident(incident_id: int, alertname: str = "DatacenterDown", dc: str = "ams",
             format: str = "alertmanager") -> SourceIncident:
    payload = orjson.dumps({"labels": {"alertname": alertname, "dc": dc}}).decode()
    return SourceIncident(incident_id, format, payload, summary=alertname)


def event(incident_id: int, status: str) -> BusEvent:
    body = {"incident": {"id": incident_id, "status": status}, "entries": []}
    return BusEvent("incident", "svc", orjson.dumps(body).decode())


def test_an_open_source_incident_inhibits_its_targets_until_the_bus_says_it_resolved() -> None:
    sources = OpenSources(RULES)
    sources.enter([incident(1), incident(2, "DiskFull")], NOW)
    assert len(sources) == 1 and sources.inhibited_by(HOST_IN_AMS, NOW) == "dc-down"

    assert sources.follow([event(2, "resolved"), event(1, "acknowledged")]) == set()  # nothing new opened
    assert sources.inhibited_by(HOST_IN_AMS, NOW) == "dc-down"

    sources.follow([event(1, "resolved")])
    assert sources.inhibited_by(HOST_IN_AMS, NOW) is None and len(sources) == 0


def test_an_incident_the_bus_shows_open_for_the_first_time_is_asked_for_once() -> None:
    sources = OpenSources(RULES)
    sources.enter([incident(1, "DiskFull")], NOW)

    assert sources.follow([event(1, "triggered"), event(5, "triggered"), event(5, "triggered")]) == {5}
    assert sources.follow([event(5, "triggered")]) == set()  # known now, while it is loaded
    sources.enter([incident(5)], NOW)
    assert sources.inhibited_by(HOST_IN_AMS, NOW) == "dc-down"


def test_an_incident_opened_and_resolved_within_one_read_is_not_asked_for() -> None:
    sources = OpenSources(RULES)
    assert sources.follow([event(7, "triggered"), event(7, "resolved")]) == set()
    assert sources.follow([event(7, "triggered")]) == {7}  # a dedup key's next incident would have another id


def test_events_it_cannot_read_and_sources_without_a_view_are_left_out() -> None:
    sources = OpenSources(RULES)
    odd: list[Any] = [BusEvent("gap", "", "{}"), BusEvent("incident", "svc", "not json"),
                      BusEvent("incident", "svc", '{"incident": {"id": "x"}}')]
    assert sources.follow(odd) == set()
    sources.enter([incident(1, format="no-such-format"), SourceIncident(2, "alertmanager", "[1]")], NOW)
    assert len(sources) == 0 and sources.inhibited_by(HOST_IN_AMS, NOW) is None


def test_rules_with_none_enabled_are_not_active() -> None:
    assert OpenSources(RULES).active
    assert not OpenSources(compile_inhibit_rules([])).active
