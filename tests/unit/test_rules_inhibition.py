"""Inhibition: the index of open source incidents, and which alerts it silences."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from tocsin.actors.domain.rules import InhibitIndex, RuleErrors, compile_inhibit_rules, view_of

NOW = datetime(2026, 5, 6, 12, 0, tzinfo=timezone.utc)


def alert(**labels: str) -> Any:
    return view_of("alertmanager", {"labels": labels})


def label(name: str, value: str) -> dict[str, Any]:
    return {"field": f"labels.{name}", "op": "equals", "value": value}


DATACENTER_DOWN = {"id": "dc-down", "source": label("alertname", "DatacenterDown"),
                   "target": label("alertname", "HostUnreachable"), "equal": ["labels.dc"]}


def index_of(*rules: Any) -> InhibitIndex:
    return InhibitIndex(compile_inhibit_rules(list(rules)))


def test_an_open_source_incident_inhibits_targets_with_the_same_equal_fields_until_it_resolves() -> None:
    index = index_of(DATACENTER_DOWN)
    host_in_ams = alert(alertname="HostUnreachable", dc="ams", host="h1")
    assert index.inhibited_by(host_in_ams, NOW) is None
    assert index.open(("svc", 1), alert(alertname="DatacenterDown", dc="ams"), NOW) == ("dc-down",)
    assert index.inhibited_by(host_in_ams, NOW) == "dc-down"
    assert index.inhibited_by(alert(alertname="HostUnreachable", dc="fra"), NOW) is None  # another datacenter
    assert index.inhibited_by(alert(alertname="DiskFull", dc="ams"), NOW) is None  # not a target
    index.close(("svc", 1))
    assert index.inhibited_by(host_in_ams, NOW) is None
    assert len(index) == 0


def test_targets_stay_inhibited_while_any_of_several_sources_is_open() -> None:
    index = index_of(DATACENTER_DOWN)
    source = alert(alertname="DatacenterDown", dc="ams")
    index.open("first", source, NOW)
    index.open("second", source, NOW)
    index.close("first")
    assert index.inhibited_by(alert(alertname="HostUnreachable", dc="ams"), NOW) == "dc-down"
    index.close("second")
    assert index.inhibited_by(alert(alertname="HostUnreachable", dc="ams"), NOW) is None


def test_incidents_that_match_no_source_are_not_kept() -> None:
    index = index_of(DATACENTER_DOWN)
    assert index.open(7, alert(alertname="HostUnreachable", dc="ams"), NOW) == ()
    assert 7 not in index and len(index) == 0
    index.close(7)  # closing what is not kept is harmless
    index.close(8)


def test_opening_again_replaces_the_entry_and_closing_twice_is_harmless() -> None:
    index = index_of(DATACENTER_DOWN)
    index.open(1, alert(alertname="DatacenterDown", dc="ams"), NOW)
    index.open(1, alert(alertname="DatacenterDown", dc="fra"), NOW)
    assert index.inhibited_by(alert(alertname="HostUnreachable", dc="ams"), NOW) is None
    assert index.inhibited_by(alert(alertname="HostUnreachable", dc="fra"), NOW) == "dc-down"
    index.close(1)
    index.close(1)
    assert len(index) == 0 and index.inhibited_by(alert(alertname="HostUnreachable", dc="fra"), NOW) is None


def test_several_equal_fields_all_have_to_agree_and_absent_ones_are_equal() -> None:
    index = index_of({**DATACENTER_DOWN, "equal": ["labels.dc", "labels.rack"]})
    index.open(1, alert(alertname="DatacenterDown", dc="ams", rack="r1"), NOW)
    index.open(2, alert(alertname="DatacenterDown", dc="fra"), NOW)
    assert index.inhibited_by(alert(alertname="HostUnreachable", dc="ams", rack="r1"), NOW) == "dc-down"
    assert index.inhibited_by(alert(alertname="HostUnreachable", dc="ams", rack="r2"), NOW) is None
    assert index.inhibited_by(alert(alertname="HostUnreachable", dc="fra"), NOW) == "dc-down"
    assert index.inhibited_by(alert(alertname="HostUnreachable", dc="fra", rack="r9"), NOW) is None


def test_without_equal_fields_any_open_source_inhibits_every_target() -> None:
    index = index_of({**DATACENTER_DOWN, "equal": []})
    index.open(1, alert(alertname="DatacenterDown", dc="ams"), NOW)
    assert index.inhibited_by(alert(alertname="HostUnreachable", dc="anywhere"), NOW) == "dc-down"


def test_an_alert_matching_both_sides_is_not_inhibited_by_its_like_only_by_a_pure_source() -> None:
    critical_silences_warnings = {"id": "crit", "source": label("severity", "critical"),
                                  "target": {"field": "labels.severity", "op": "in", "values": ["critical", "warning"]},
                                  "equal": ["labels.alertname"]}
    index = index_of(critical_silences_warnings)
    index.open("critical", alert(alertname="Disk", severity="critical"), NOW)
    assert index.inhibited_by(alert(alertname="Disk", severity="warning"), NOW) == "crit"
    # the critical alerts themselves keep paging: their source matches the target as well
    assert index.inhibited_by(alert(alertname="Disk", severity="critical"), NOW) is None


def test_a_source_matching_only_the_source_side_inhibits_alerts_matching_both() -> None:
    rule = {"id": "r", "source": label("kind", "outage"), "target": label("team", "net"), "equal": []}
    index = index_of(rule)
    index.open("both", alert(kind="outage", team="net"), NOW)
    assert index.inhibited_by(alert(kind="outage", team="net"), NOW) is None
    assert index.inhibited_by(alert(team="net"), NOW) == "r"
    index.open("source only", alert(kind="outage", team="db"), NOW)
    assert index.inhibited_by(alert(kind="outage", team="net"), NOW) == "r"


def test_the_first_inhibiting_rule_is_named_and_disabled_rules_inhibit_nothing() -> None:
    rules = [
        {"id": "off", "enabled": False, "source": label("alertname", "DatacenterDown"),
         "target": label("alertname", "HostUnreachable")},
        {"id": "maintenance", "source": label("alertname", "Maintenance"), "target": {"all": []},
         "equal": ["labels.dc"]},
        DATACENTER_DOWN,
    ]
    index = index_of(*rules)
    assert index.open(1, alert(alertname="DatacenterDown", dc="ams"), NOW) == ("dc-down",)
    assert index.inhibited_by(alert(alertname="HostUnreachable", dc="ams"), NOW) == "dc-down"
    index.open(2, alert(alertname="Maintenance", dc="ams"), NOW)
    assert index.inhibited_by(alert(alertname="HostUnreachable", dc="ams"), NOW) == "maintenance"


def test_bad_inhibit_rules_are_refused_with_every_problem() -> None:
    with pytest.raises(RuleErrors) as refused:
        compile_inhibit_rules([
            {"id": "a", "target": label("x", "y"), "equal": ["labels", 3]},
            {"id": "a", "source": {"field": "labels.x", "op": "nope"}, "target": {}, "equal": "labels.dc"},
        ])
    assert [str(problem) for problem in refused.value.problems] == [
        "inhibit_rules[0].source: required",
        'inhibit_rules[0].equal[0]: "labels" names no field; write labels.<name>',
        "inhibit_rules[0].equal[1]: must be a field path such as labels.cluster, not a number",
        'inhibit_rules[1].id: "a" is also the id of inhibit_rules[0]',
        'inhibit_rules[1].source.op: unknown operator "nope"; operators are equals, in, contains, starts_with, '
        "matches, exists, lt, le, gt, ge",
        "inhibit_rules[1].target.field: required",
        "inhibit_rules[1].target.op: required",
        "inhibit_rules[1].equal: must be a list, not a string",
    ]
