"""Service rule actions: each one, how several matched rules add up, and bad actions refused."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from tocsin.actors.domain.rules import Changes, Decision, Disposition, RuleErrors, compile_service_rules, evaluate, view_of

NOW = datetime(2026, 5, 6, 12, 0, tzinfo=timezone.utc)
VIEW = view_of("alertmanager", {
    "labels": {"alertname": "DiskFull", "instance": "db-7:9100", "cluster": "eu-1", "team": "storage"},
}, summary="Disk full", severity="warning", dedup_key="am:c0ffee", action="trigger")


def decide(*actions: dict[str, Any], go_on: bool = True) -> Decision:
    rules = [{"id": f"r{n}", "actions": action, "continue": go_on} for n, action in enumerate(actions)]
    return evaluate(compile_service_rules(rules), VIEW, NOW)


@pytest.mark.parametrize(("action", "changes"), [
    ({"severity": "critical"}, Changes(severity="critical")),
    ({"urgency": "low"}, Changes(urgency="low")),
    ({"priority": "P1"}, Changes(priority="P1")),
    ({"summary": "{{labels.alertname}} on {{labels.instance}}"}, Changes(summary="DiskFull on db-7:9100")),
    ({"dedup_key": "{{labels.alertname}}/{{labels.cluster}}"}, Changes(dedup_key="DiskFull/eu-1")),
    ({"details": {"runbook": "https://wiki/{{labels.alertname}}", "owner": "storage"}},
     Changes(details={"runbook": "https://wiki/DiskFull", "owner": "storage"})),
    ({"tags": ["disk", "{{labels.team}}", "{{labels.missing}}", "disk"]}, Changes(tags=("disk", "storage"))),
    ({"summary": "{{labels.missing}}", "dedup_key": " {{labels.missing}} "}, Changes()),  # blank: left as it came
    ({"summary": "x" * 2000, "dedup_key": "k" * 300}, Changes(summary="x" * 1024, dedup_key="k" * 255)),
    ({}, Changes()),
])
def test_each_change(action: dict[str, Any], changes: Changes) -> None:
    decision = decide(action)
    assert decision.changes == changes
    assert (decision.matched, decision.disposition, decision.pause_minutes) == (("r0",), Disposition.PAGE, 0)


@pytest.mark.parametrize(("action", "disposition", "minutes"), [
    ({"suppress": True}, Disposition.SUPPRESS, 0),
    ({"drop": True}, Disposition.DROP, 0),
    ({"pause_minutes": 15}, Disposition.PAUSE, 15),
    ({"suppress": False}, Disposition.PAGE, 0),
])
def test_each_disposition(action: dict[str, Any], disposition: Disposition, minutes: int) -> None:
    decision = decide(action)
    assert (decision.disposition, decision.pause_minutes) == (disposition, minutes)


def test_rules_that_continue_add_up_later_values_replacing_earlier_ones() -> None:
    decision = decide(
        {"severity": "critical", "summary": "first", "details": {"a": "1", "b": "1"}, "tags": ["x", "y"]},
        {"severity": "error", "urgency": "high", "details": {"b": "2"}, "tags": ["y", "z"]},
        {"dedup_key": "{{labels.cluster}}", "summary": "{{labels.missing}}"},
    )
    assert decision.matched == ("r0", "r1", "r2")
    assert decision.changes == Changes(summary="first", severity="error", urgency="high", dedup_key="eu-1",
                                       details={"a": "1", "b": "2"}, tags=("x", "y", "z"))


@pytest.mark.parametrize(("actions", "disposition", "minutes"), [
    ([{"pause_minutes": 5}, {"suppress": True}, {"pause_minutes": 30}], Disposition.SUPPRESS, 0),
    ([{"drop": True}, {"suppress": True}], Disposition.DROP, 0),
    ([{"pause_minutes": 5}, {}, {"pause_minutes": 30}, {"pause_minutes": 10}], Disposition.PAUSE, 30),
    ([{"severity": "info"}, {"pause_minutes": 3}], Disposition.PAUSE, 3),
])
def test_the_most_restrictive_disposition_wins(actions: list[dict[str, Any]], disposition: Disposition,
                                               minutes: int) -> None:
    decision = decide(*actions)
    assert (decision.disposition, decision.pause_minutes) == (disposition, minutes)


def test_templates_read_the_alert_as_it_arrived_not_as_earlier_rules_changed_it() -> None:
    decision = decide({"summary": "changed"}, {"dedup_key": "{{summary}}"})
    assert (decision.changes.summary, decision.changes.dedup_key) == ("changed", "Disk full")


def test_bad_actions_are_refused_each_with_its_path() -> None:
    with pytest.raises(RuleErrors) as refused:
        compile_service_rules([
            {"id": "a", "actions": {"severity": "sev1", "urgency": "urgent", "priority": "P0", "colour": "red"}},
            {"id": "b", "actions": {"suppress": True, "drop": True, "pause_minutes": 5}},
            {"id": "c", "actions": {"pause_minutes": 0, "details": {"": "x", "k": 3}, "tags": "db"}},
            {"id": "d", "actions": {"pause_minutes": True, "suppress": "yes", "summary": "{{labels}}"}},
            {"id": "e", "actions": ["severity", "critical"]},
            {"id": "f", "actions": {"pause_minutes": 2000, "details": ["a"], "tags": ["{{nope}}"]}},
        ])
    assert [str(problem) for problem in refused.value.problems] == [
        'rules[0].actions.colour: unknown key; expected one of "severity", "urgency", "priority", "summary", '
        '"dedup_key", "details", "tags", "suppress", "drop", "pause_minutes"',
        'rules[0].actions.severity: must be one of critical, error, warning, info, not "sev1"',
        'rules[0].actions.urgency: must be one of high, low, not "urgent"',
        'rules[0].actions.priority: must be one of P1, P2, P3, P4, P5, not "P0"',
        "rules[1].actions: suppress and drop and pause_minutes exclude each other; a rule does one of them",
        "rules[2].actions.details: a detail's name must not be empty",
        "rules[2].actions.details.k: must be a template string, not a number",
        "rules[2].actions.tags: must be a list, not a string",
        "rules[2].actions.pause_minutes: must be a whole number of minutes from 1 to 1440, not 0",
        'rules[3].actions.summary: in the template, "labels" names no field; write labels.<name>',
        "rules[3].actions.suppress: must be true or false, not a string",
        "rules[3].actions.pause_minutes: must be a whole number of minutes from 1 to 1440, not true",
        "rules[4].actions: must be an object, not a list",
        "rules[5].actions.details: must be an object of templates, not a list",
        'rules[5].actions.tags[0]: in the template, "nope" names no field; fields are summary, severity, source, '
        "dedup_key, action, format, class, component, group, priority, entity, tags, labels.<name>, "
        "annotations.<name>, details.<name>, custom_details.<name>, payload.<name>",
        "rules[5].actions.pause_minutes: must be a whole number of minutes from 1 to 1440, not 2000",
    ]
