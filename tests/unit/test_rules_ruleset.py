"""Rule sets: order, first match wins, continue, disabled rules, routers and their catch-all."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from tocsin.actors.domain.rules import (
    NOTHING,
    Decision,
    Disposition,
    RuleErrors,
    compile_router_rules,
    compile_service_rules,
    evaluate,
    view_of,
)

NOW = datetime(2026, 5, 6, 12, 0, tzinfo=timezone.utc)


def alert(**labels: str) -> Any:
    return view_of("alertmanager", {"labels": labels}, summary=labels.get("alertname"))


def label(name: str, value: str) -> dict[str, Any]:
    return {"field": f"labels.{name}", "op": "equals", "value": value}


DB = alert(alertname="DiskFull", team="db", env="prod", instance="db-1")
WEB = alert(alertname="HighLatency", team="web", env="prod", instance="web-1")
OTHER = alert(alertname="Heartbeat", team="ops", env="dev", instance="ops-1")


def matched(rules: list[Any], view: Any) -> tuple[str, ...]:
    return evaluate(compile_service_rules(rules), view, NOW).matched


def test_the_first_matching_rule_wins() -> None:
    rules = [{"id": "web", "conditions": label("team", "web")}, {"id": "prod", "conditions": label("env", "prod")},
             {"id": "all"}]
    assert (matched(rules, DB), matched(rules, WEB), matched(rules, OTHER)) == (("prod",), ("web",), ("all",))


def test_continue_goes_on_to_the_next_rules_until_one_without_it_matches() -> None:
    rules = [
        {"id": "prod", "conditions": label("env", "prod"), "continue": True},
        {"id": "db", "conditions": label("team", "db"), "continue": True},
        {"id": "disk", "conditions": label("alertname", "DiskFull")},
        {"id": "never reached for DB", "conditions": label("env", "prod")},
        {"id": "web", "conditions": label("team", "web"), "continue": True},
    ]
    assert matched(rules, DB) == ("prod", "db", "disk")
    assert matched(rules, WEB) == ("prod", "never reached for DB")
    assert matched(rules, OTHER) == ()


def test_a_rule_without_conditions_matches_every_alert() -> None:
    assert matched([{"id": "everything", "actions": {"severity": "info"}}], OTHER) == ("everything",)


def test_a_disabled_rule_is_checked_but_never_matches() -> None:
    rules = [{"id": "off", "enabled": False}, {"id": "on", "conditions": label("team", "db")}]
    assert matched(rules, DB) == ("on",)
    with pytest.raises(RuleErrors, match=r"rules\[0\]\.conditions\.op: unknown operator"):
        compile_service_rules([{"id": "off", "enabled": False, "conditions": {"field": "labels.x", "op": "like"}}])


def test_no_rules_or_no_match_decide_nothing() -> None:
    assert evaluate(compile_service_rules([]), DB, NOW) is NOTHING
    assert evaluate(compile_service_rules([{"id": "x", "conditions": label("team", "x")}]), DB, NOW) == Decision()
    assert NOTHING.disposition == Disposition.PAGE


def test_evaluation_is_deterministic_and_leaves_the_view_alone() -> None:
    rules = compile_service_rules([{"id": "a", "actions": {"details": {"k": "{{labels.team}}"}, "tags": ["t"]},
                                    "continue": True}, {"id": "b", "actions": {"pause_minutes": 5}}])
    before = (dict(DB.labels), DB.summary)
    assert evaluate(rules, DB, NOW) == evaluate(rules, DB, NOW)
    assert (dict(DB.labels), DB.summary) == before


def test_a_rule_set_is_refused_with_every_problem() -> None:
    with pytest.raises(RuleErrors) as refused:
        compile_service_rules([
            {"id": "a", "conditions": label("team", "db"), "contnue": True},
            {"conditions": label("team", "db")},
            {"id": "a", "continue": "yes", "enabled": 1, "name": 5},
            {"id": "", "route_to": "svc"},
        ])
    assert [str(problem) for problem in refused.value.problems] == [
        'rules[0].contnue: unknown key; expected one of "id", "name", "enabled", "conditions", "actions", "continue"',
        "rules[1].id: required",
        'rules[2].id: "a" is also the id of rules[0]',
        "rules[2].name: must be a string",
        "rules[2].enabled: must be true or false, not a number",
        "rules[2].continue: must be true or false, not a string",
        'rules[3].route_to: unknown key; expected one of "id", "name", "enabled", "conditions", "actions", "continue"',
        "rules[3].id: must not be empty",
    ]


@pytest.mark.parametrize("spec", [None, {"rules": []}, "rules"])
def test_rules_must_be_a_list(spec: Any) -> None:
    with pytest.raises(RuleErrors, match="^rules: must be a list"):
        compile_service_rules(spec)


ROUTES = [
    {"id": "db", "conditions": label("team", "db"), "route_to": "svc-db"},
    {"id": "prod", "conditions": label("env", "prod"), "route_to": "svc-prod"},
    {"id": "off", "enabled": False, "route_to": "svc-never"},
]


def test_a_router_sends_the_alert_to_the_first_matching_routes_service() -> None:
    router = compile_router_rules(ROUTES, {"route_to": "svc-rest"})
    assert evaluate(router, DB, NOW) == Decision(matched=("db",), service_id="svc-db")
    assert evaluate(router, WEB, NOW) == Decision(matched=("prod",), service_id="svc-prod")
    assert router.service_ids == {"svc-db", "svc-prod", "svc-never", "svc-rest"}


def test_the_catch_all_takes_what_no_route_matches_to_its_service_or_drops_it() -> None:
    to_service = evaluate(compile_router_rules(ROUTES, {"route_to": "svc-rest"}), OTHER, NOW)
    assert to_service == Decision(service_id="svc-rest", by_catch_all=True, disposition=Disposition.PAGE)
    dropped = evaluate(compile_router_rules(ROUTES, {"drop": True}), OTHER, NOW)
    assert dropped == Decision(service_id=None, by_catch_all=True, disposition=Disposition.DROP)
    assert evaluate(compile_router_rules([], {"drop": True}), DB, NOW).by_catch_all


@pytest.mark.parametrize(("catch_all", "problem"), [
    (None, "catch_all: must be an object, not null"),
    ({}, 'catch_all: says either {"route_to": "<service id>"} or {"drop": true}'),
    ({"drop": False}, 'catch_all: says either {"route_to": "<service id>"} or {"drop": true}'),
    ({"drop": True, "route_to": "svc"}, 'catch_all: says either {"route_to": "<service id>"} or {"drop": true}'),
    ({"route_to": 5}, "catch_all.route_to: must be a string, not a number"),
    ({"service": "svc"}, 'catch_all.service: unknown key; expected one of "route_to", "drop"'),
])
def test_a_router_needs_a_catch_all_that_routes_or_drops(catch_all: Any, problem: str) -> None:
    with pytest.raises(RuleErrors) as refused:
        compile_router_rules(ROUTES, catch_all)
    assert problem in [str(found) for found in refused.value.problems]


def test_router_rules_are_refused_with_every_problem() -> None:
    with pytest.raises(RuleErrors) as refused:
        compile_router_rules([
            {"id": "a", "conditions": label("team", "db")},
            {"id": "b", "route_to": "svc", "continue": True, "actions": {"severity": "info"}},
            {"id": "c", "route_to": "", "conditions": {"field": "labels.x", "op": "matches", "value": "("}},
        ], {"route_to": "svc"})
    assert [str(problem) for problem in refused.value.problems] == [
        "rules[0].route_to: required",
        'rules[1].continue: unknown key; expected one of "id", "name", "enabled", "conditions", "route_to"',
        'rules[1].actions: unknown key; expected one of "id", "name", "enabled", "conditions", "route_to"',
        'rules[2].conditions.value: invalid regular expression: missing ) ("(")',
        "rules[2].route_to: must not be empty",
    ]


def test_paths_can_start_elsewhere_for_an_api_that_checks_one_rule() -> None:
    with pytest.raises(RuleErrors) as refused:
        compile_service_rules([{"id": "a", "actions": {"severity": "x"}}], where="body")
    assert refused.value.problems[0].path == "body[0].actions.severity"
