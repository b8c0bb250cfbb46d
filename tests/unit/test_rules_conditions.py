"""Conditions: each operator, the combinations, and specs refused with every problem's path."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from tocsin.actors.domain.rules import AlertView, RuleErrors, compile_service_rules, view_of
from tocsin.actors.domain.rules.conditions import compile_condition
from tocsin.actors.domain.rules.problems import Problem, Problems

NOW = datetime(2026, 5, 6, 12, 0, tzinfo=timezone.utc)
ALERT = view_of("alertmanager", {
    "labels": {"alertname": "DiskFull", "instance": "db-7.eu-1:9100", "env": "Prod", "free": "12.5", "count": "7",
               "empty": ""},
    "annotations": {"summary": "Disk /var is full"},
    "values": {"B": 91.5}, "replicas": 3, "ratio": 0.5, "up": False, "tags": ["db", "Storage", 42],
    "nested": {"k": "v"}, "mixed": [{"a": 1}, "12"],
}, summary="Disk full", severity="critical", source="db-7")


def holds(condition: dict[str, Any], view: AlertView = ALERT) -> bool:
    problems = Problems()
    compiled = compile_condition(condition, "conditions", problems)
    problems.raise_any()
    assert compiled is not None
    return compiled.test(view, NOW)


def check(field: str, op: str, **operand: Any) -> dict[str, Any]:
    return {"field": field, "op": op, **operand}


@pytest.mark.parametrize(("condition", "expected"), [
    (check("labels.alertname", "equals", value="DiskFull"), True),
    (check("labels.alertname", "equals", value="diskfull"), False),
    (check("labels.alertname", "equals", value="diskfull", ignore_case=True), True),
    (check("labels.count", "equals", value=7), True),
    (check("payload.replicas", "equals", value="3"), True),
    (check("payload.ratio", "equals", value=0.5), True),
    (check("payload.up", "equals", value=False), True),
    (check("payload.up", "equals", value="false"), True),
    (check("labels.missing", "equals", value=""), False),
    (check("labels.empty", "equals", value=""), True),
    (check("payload.nested", "equals", value='{"k":"v"}'), False),
    (check("severity", "equals", value="critical"), True),
])
def test_equals(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(("condition", "expected"), [
    (check("labels.env", "in", values=["Prod", "Staging"]), True),
    (check("labels.env", "in", values=["prod", "staging"]), False),
    (check("labels.env", "in", values=["prod", "staging"], ignore_case=True), True),
    (check("labels.count", "in", values=[5, 6, 7]), True),
    (check("labels.env", "in", values=[]), False),
    (check("labels.missing", "in", values=["x"]), False),
])
def test_in(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(("condition", "expected"), [
    (check("annotations.summary", "contains", value="/var"), True),
    (check("annotations.summary", "contains", value="FULL"), False),
    (check("annotations.summary", "contains", value="FULL", ignore_case=True), True),
    (check("annotations.summary", "contains", value=""), True),
    (check("labels.missing", "contains", value=""), False),
])
def test_contains(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(("condition", "expected"), [
    (check("labels.instance", "starts_with", value="db-"), True),
    (check("labels.instance", "starts_with", value="DB-"), False),
    (check("labels.instance", "starts_with", value="DB-", ignore_case=True), True),
    (check("labels.instance", "starts_with", value="db-7.eu-1:9100-and-more"), False),
    (check("source", "starts_with", value="db"), True),
])
def test_starts_with(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(("condition", "expected"), [
    (check("labels.instance", "matches", value=r"^db-[0-9]+\."), True),
    (check("labels.instance", "matches", value=r"eu-\d"), True),  # anywhere in the text
    (check("labels.instance", "matches", value=r"^eu"), False),
    (check("labels.alertname", "matches", value=r"^diskfull$"), False),
    (check("labels.alertname", "matches", value=r"^diskfull$", ignore_case=True), True),
    (check("labels.missing", "matches", value=".*"), False),
    (check("payload.replicas", "matches", value="^3$"), True),
])
def test_matches(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


def test_matches_runs_in_linear_time_on_a_pattern_that_backtracking_engines_take_forever_on() -> None:
    view = view_of("alertmanager", {"labels": {"text": "a" * 50_000 + "!"}})
    assert holds(check("labels.text", "matches", value="^(a+)+$"), view) is False
    assert holds(check("labels.text", "matches", value="(a|aa)+!$"), view) is True


def test_a_text_holding_a_lone_surrogate_is_tested_without_raising() -> None:
    view = view_of("alertmanager", {"labels": {"text": "x\ud800y"}})
    assert holds(check("labels.text", "matches", value="^x"), view) is True
    rules = compile_service_rules([{"id": "a", "conditions": check("labels.text", "contains", value="\ud800y")},
                                   {"id": "b", "conditions": check("labels.text", "contains", value="y")}])
    assert rules.evaluate(view, NOW).matched == ("a",)


@pytest.mark.parametrize(("field", "expected"), [
    ("labels.alertname", True), ("labels.empty", True), ("payload.up", True), ("payload.nested", True),
    ("labels.missing", False), ("details.x", False), ("class", False), ("tags", False),
])
def test_exists(field: str, expected: bool) -> None:
    assert holds(check(field, "exists")) is expected


@pytest.mark.parametrize(("condition", "expected"), [
    (check("labels.free", "lt", value=20), True), (check("labels.free", "lt", value=12.5), False),
    (check("labels.free", "le", value=12.5), True), (check("labels.free", "gt", value=12), True),
    (check("labels.free", "ge", value=12.6), False), (check("payload.values.B", "gt", value=90), True),
    (check("payload.replicas", "ge", value=3), True), (check("labels.alertname", "lt", value=1e9), False),
    (check("payload.up", "lt", value=1), False),  # false is not a number
    (check("labels.missing", "gt", value=-1), False),
    (check("labels.count", "gt", value=10), False),  # "7" compares as 7, not as text ("7" > "10")
])
def test_numeric_comparisons(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(("condition", "expected"), [
    (check("payload.tags", "equals", value="db"), True),
    (check("payload.tags", "equals", value="storage"), False),
    (check("payload.tags", "equals", value="storage", ignore_case=True), True),
    (check("payload.tags", "in", values=["x", "42"]), True),
    (check("payload.tags", "starts_with", value="Sto"), True),
    (check("payload.tags", "matches", value="^d"), True),
    (check("payload.tags", "gt", value=40), True),
    (check("payload.mixed", "equals", value="12"), True),  # the object among the elements is passed over
    (check("payload.tags", "contains", value="z"), False),
])
def test_a_list_passes_when_any_element_does(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


def test_opsgenie_tags_are_a_list_field() -> None:
    view = view_of("opsgenie", {"message": "m", "tags": ["critical", "db"]})
    assert holds(check("tags", "equals", value="db"), view)
    assert not holds(check("tags", "equals", value="web"), view)
    assert holds(check("tags", "exists"), view_of("opsgenie", {"message": "m", "tags": []}))
    assert not holds(check("tags", "exists"), view_of("opsgenie", {"message": "m"}))


YES = check("labels.alertname", "equals", value="DiskFull")
NO = check("labels.alertname", "equals", value="Other")


@pytest.mark.parametrize(("condition", "expected"), [
    ({"all": [YES, YES]}, True), ({"all": [YES, NO]}, False), ({"all": []}, True),
    ({"any": [NO, YES]}, True), ({"any": [NO, NO]}, False), ({"any": []}, False),
    ({"not": NO}, True), ({"not": YES}, False), ({"not": {"not": YES}}, True),
    ({"all": [YES, {"any": [NO, {"not": NO}]}, YES]}, True), ({"all": [{"all": [{"all": [YES, NO]}]}]}, False),
    ({"any": [NO, NO, NO, YES]}, True), ({"all": [YES, YES, YES, NO]}, False), ({"all": [YES]}, True),
])
def test_all_any_not(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


def problems_of(rules: Any) -> list[Problem]:
    with pytest.raises(RuleErrors) as refused:
        compile_service_rules(rules)
    return refused.value.problems


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    rules = [
        {"id": "ok", "conditions": YES},
        {"id": "bad", "conditions": {"all": [
            YES,
            {"field": "labels.env", "op": "eq", "value": "prod"},
            {"field": "labels.instance", "op": "matches", "value": "db-(7"},
            {"not": {"field": "labels", "op": "exists"}},
            {"any": [{"field": "labels.x", "op": "in", "value": "a"}, {"field": "labels.x", "op": "lt", "value": "5"}]},
            {"field": "labels.x", "op": "exists", "value": 1, "typo": True},
            {"field": "labels.x", "op": "gt", "value": 1, "ignore_case": True},
            "labels.x == y",
            {"all": [YES], "any": [NO]},
            {"op": "equals"},
            {"field": "labels.x", "op": "equals", "value": {"an": "object"}},
            {"field": "labels.x", "op": "in", "values": ["a", ["b"]]},
            {"field": "labels.x", "op": "contains", "value": 3},
            {"field": "labels.x", "op": "starts_with"},
            {"field": 7, "op": "exists"},
            {"any": "not a list"},
        ]}},
    ]
    at = "rules[1].conditions.all"
    assert [(problem.path, problem.message) for problem in problems_of(rules)] == [
        (f"{at}[1].op", 'unknown operator "eq"; operators are equals, in, contains, starts_with, matches, exists, '
                        "lt, le, gt, ge"),
        (f"{at}[2].value", 'invalid regular expression: missing ) ("db-(7")'),
        (f"{at}[3].not.field", '"labels" names no field; write labels.<name>'),
        (f"{at}[4].any[0].value", 'in takes no value; it takes "values"'),
        (f"{at}[4].any[0].values", "required by in"),
        (f"{at}[4].any[1].value", "must be a number, not a string"),
        (f"{at}[5].typo", 'unknown key; expected one of "field", "op", "value", "values", "ignore_case"'),
        (f"{at}[5].value", "exists takes no value"),
        (f"{at}[6].ignore_case", "applies to the text operators only, not gt"),
        (f"{at}[7]", "a condition must be an object, not a string"),
        (f"{at}[8]", 'a condition is one of "all", "any", "not", "time" or a field test ("field", "op"); this one '
                     "has all, any"),
        (f"{at}[9].field", "required"),
        (f"{at}[9].value", "required by equals"),
        (f"{at}[10].value", "must be a string, a number, true or false, not an object"),
        (f"{at}[11].values[1]", "must be a string, a number, true or false, not a list"),
        (f"{at}[12].value", "must be a string, not a number"),
        (f"{at}[13].value", "required by starts_with"),
        (f"{at}[14].field", "must be a field path such as labels.alertname, not a number"),
        (f"{at}[15].any", "must be a list, not a string"),
    ]


def test_problems_say_what_and_where_in_the_message_too() -> None:
    with pytest.raises(RuleErrors, match=r'rules\[0\]\.conditions\.op: unknown operator "eq"'):
        compile_service_rules([{"id": "r", "conditions": {"field": "labels.x", "op": "eq", "value": "y"}}])


def test_conditions_nested_too_deep_are_refused_not_a_recursion_error() -> None:
    condition: dict[str, Any] = YES
    for _ in range(200):
        condition = {"not": condition}
    problems = problems_of([{"id": "deep", "conditions": condition}])
    assert len(problems) == 1
    assert problems[0].message == "conditions nest deeper than 32 levels"
    assert problems[0].path.startswith("rules[0].conditions.not.not.")
