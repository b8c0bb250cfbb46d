"""Random condition trees over random alerts, against a reference evaluation written from the
documented semantics: the compiled closures, and rule sets evaluated through the dispatch index."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.actors.domain.rules import compile_router_rules, compile_service_rules, evaluate, view_of
from tocsin.actors.domain.rules.conditions import compile_condition
from tocsin.actors.domain.rules.dispatch import Dispatch
from tocsin.actors.domain.rules.problems import Problems

NOW = datetime(2026, 5, 6, 12, 0, tzinfo=timezone.utc)
TEXTS = ["", "x", "X", "xy", "XY", "y", "12", "5", "5.0", "ß", "SS", "ss", "x12"]
NUMBERS = [-1, 0, 5, 5.5, 12]
PATTERNS = ["^x", "y$", "x+y", "^[0-9]+$", "(?:X|y)", "^$", "s", "1"]
FIELDS = ["labels.a", "labels.b", "labels.c", "payload.tags", "payload.n", "summary"]

scalars = st.one_of(st.sampled_from(TEXTS), st.sampled_from(NUMBERS), st.booleans())
maybe_text = st.one_of(st.sampled_from(TEXTS), st.sampled_from(TEXTS), st.none())
alerts = st.fixed_dictionaries({
    "labels": st.fixed_dictionaries({"a": maybe_text, "b": maybe_text, "c": maybe_text}).map(
        lambda labels: {name: value for name, value in labels.items() if value is not None}),
    "tags": st.lists(st.one_of(st.sampled_from(TEXTS), st.sampled_from(NUMBERS)), max_size=3),
    "n": st.one_of(st.none(), scalars, st.lists(scalars, max_size=2), st.just({"k": "x"})),
    "summary": st.one_of(st.none(), st.sampled_from(TEXTS)),
})


OPERATORS = ["equals", "in", "contains", "starts_with", "matches", "exists", "lt", "le", "gt", "ge"]
GUARDED = ["equals", "in", "starts_with", "matches", "contains"]  # the tests the dispatch index answers


@st.composite
def leaves(draw: st.DrawFn, operators: list[str] = OPERATORS) -> dict[str, Any]:
    field = draw(st.sampled_from(FIELDS))
    op = draw(st.sampled_from(operators))
    spec: dict[str, Any] = {"field": field, "op": op}
    if op == "equals":
        spec["value"] = draw(scalars)
    elif op == "in":
        spec["values"] = draw(st.lists(st.one_of(st.sampled_from(TEXTS), st.sampled_from(NUMBERS)), max_size=3))
    elif op in ("contains", "starts_with"):
        spec["value"] = draw(st.sampled_from(TEXTS))
    elif op == "matches":
        spec["value"] = draw(st.sampled_from(PATTERNS))
    elif op != "exists":
        spec["value"] = draw(st.sampled_from(NUMBERS))
    if op in ("equals", "in", "contains", "starts_with", "matches") and draw(st.booleans()):
        spec["ignore_case"] = True
    return spec


conditions = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: {"all": items}),
        st.lists(inner, max_size=4).map(lambda items: {"any": items}),
        inner.map(lambda item: {"not": item}),
    ),
    max_leaves=12,
)


# Rule conditions shaped the way the dispatch index enters them: a guarded test, an "all" holding
# one, an "any" of those, as well as anything else.
guarded = leaves(GUARDED)
guarded_all = st.tuples(guarded, conditions, st.booleans()).map(
    lambda parts: {"all": [parts[0], parts[1]] if parts[2] else [parts[1], parts[0]]})
guarded_any = st.lists(st.one_of(guarded, guarded_all), min_size=1, max_size=3).map(lambda items: {"any": items})
rule_conditions = st.one_of(guarded, guarded_all, guarded_any, guarded_any.map(lambda any_: {"all": [any_]}),
                            conditions)


def view(alert: dict[str, Any]) -> Any:
    return view_of("alertmanager", {"labels": alert["labels"], "tags": alert["tags"], "n": alert["n"]},
                   summary=alert["summary"])


def value_of(alert: dict[str, Any], field: str) -> Any:
    root, _, name = field.partition(".")
    return alert["summary"] if root == "summary" else alert["labels"].get(name) if root == "labels" else alert[name]


def text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        return str(value)
    return repr(value) if isinstance(value, float) else None


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value) if isinstance(value, str) and "_" not in value else None
    except ValueError:
        return None


def reference(spec: dict[str, Any], alert: dict[str, Any]) -> bool:
    """The documented semantics, written out plainly."""
    if "all" in spec:
        return all(reference(item, alert) for item in spec["all"])
    if "any" in spec:
        return any(reference(item, alert) for item in spec["any"])
    if "not" in spec:
        return not reference(spec["not"], alert)
    value, op = value_of(alert, spec["field"]), spec["op"]
    if op == "exists":
        return value is not None
    elements = value if isinstance(value, list) else [value]
    if op in ("lt", "le", "gt", "ge"):
        compare = {"lt": float.__lt__, "le": float.__le__, "gt": float.__gt__, "ge": float.__ge__}[op]
        return any(compare(float(n), float(spec["value"])) for n in map(number, elements) if n is not None)
    fold = str.casefold if spec.get("ignore_case") else (lambda s: s)
    texts = [fold(t) for t in map(text, elements) if t is not None]
    if op == "equals":
        return fold(str(text(spec["value"]))) in texts
    if op == "in":
        return any(t in {fold(str(text(v))) for v in spec["values"]} for t in texts)
    if op == "contains":
        return any(fold(spec["value"]) in t for t in texts)
    if op == "starts_with":
        return any(t.startswith(fold(spec["value"])) for t in texts)
    flags = re.IGNORECASE if spec.get("ignore_case") else 0
    return any(re.search(spec["value"], t, flags) for t in map(text, elements) if t is not None)


def compiled(spec: dict[str, Any]) -> Any:
    problems = Problems()
    condition = compile_condition(spec, "conditions", problems)
    problems.raise_any()
    return condition


@settings(max_examples=800, deadline=None)
@given(spec=conditions, alert=alerts)
def test_a_compiled_condition_agrees_with_the_reference(spec: dict[str, Any], alert: dict[str, Any]) -> None:
    assert compiled(spec).test(view(alert), NOW) is reference(spec, alert)


@settings(max_examples=400, deadline=None)
@given(specs=st.lists(rule_conditions, max_size=12), alert=alerts)
def test_the_dispatch_index_finds_exactly_the_conditions_that_hold(specs: list[dict[str, Any]],
                                                                  alert: dict[str, Any]) -> None:
    found = list(Dispatch([compiled(spec) for spec in specs]).holding(view(alert), NOW))
    assert found == [position for position, spec in enumerate(specs) if reference(spec, alert)]


@settings(max_examples=300, deadline=None)
@given(rules=st.lists(st.tuples(rule_conditions, st.booleans()), max_size=10), alert=alerts)
def test_service_rules_match_in_order_until_one_does_not_continue(rules: list[tuple[dict[str, Any], bool]],
                                                                   alert: dict[str, Any]) -> None:
    specs = [{"id": f"r{n}", "conditions": spec, "continue": go_on} for n, (spec, go_on) in enumerate(rules)]
    expected = []
    for n, (spec, go_on) in enumerate(rules):
        if reference(spec, alert):
            expected.append(f"r{n}")
            if not go_on:
                break
    assert evaluate(compile_service_rules(specs), view(alert), NOW).matched == tuple(expected)


@settings(max_examples=300, deadline=None)
@given(routes=st.lists(rule_conditions, max_size=10), alert=alerts)
def test_a_router_takes_the_first_route_that_matches(routes: list[dict[str, Any]], alert: dict[str, Any]) -> None:
    specs = [{"id": f"r{n}", "conditions": spec, "route_to": f"svc-{n}"} for n, spec in enumerate(routes)]
    first = next((n for n, spec in enumerate(routes) if reference(spec, alert)), None)
    decision = evaluate(compile_router_rules(specs, {"route_to": "rest"}), view(alert), NOW)
    assert decision.service_id == ("rest" if first is None else f"svc-{first}")
    assert decision.by_catch_all is (first is None)
