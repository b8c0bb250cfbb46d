"""A rule set remembers its decisions by the values of the fields it reads: random rule sets
(conditions and templates) over runs of random alerts, each decision remembered against the
same decision worked out afresh; and the instant counts for a set with a time condition."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.test_rules_combinations import FIELDS, TEXTS, alerts, rule_conditions, view
from tocsin.actors.domain.rules import compile_router_rules, compile_service_rules, evaluate
from tocsin.actors.domain.rules.memo import Memo

NOW = datetime(2026, 5, 6, 12, 0, tzinfo=timezone.utc)
# Values that compare or hash alike in Python but that rules tell apart (1 == 1.0 == True, 0.0 == -0.0).
ALIKE = [0, 0.0, -0.0, False, 1, 1.0, True, "1", "1.0", "true", None, "", [], [None], [1], [1.0], ["1"], [[1]]]
OBJECTS = [{"k": "x"}, [{"k": "x"}], [1, {"k": "x"}]]  # no key: decided afresh each time

templates = st.lists(st.sampled_from(FIELDS), max_size=2).map(
    lambda paths: "".join(f"{{{{{path}}}}}-" for path in paths) + "!")
actions = st.fixed_dictionaries({}, optional={
    "summary": templates, "dedup_key": templates, "tags": st.lists(templates, max_size=2),
    "details": st.dictionaries(st.sampled_from(["x", "y"]), templates, max_size=2),
    "severity": st.sampled_from(["critical", "info"]), "suppress": st.just(True), "pause_minutes": st.just(5),
}).filter(lambda spec: not ("suppress" in spec and "pause_minutes" in spec))
# Alerts drawn from a few, so that many share the values the rules read, or nearly.
variants = st.tuples(alerts, st.lists(st.sampled_from(ALIKE + OBJECTS), min_size=1, max_size=6)).map(
    lambda drawn: [{**drawn[0], "n": n} for n in drawn[1]])
runs = st.lists(st.one_of(variants, st.lists(alerts, min_size=1, max_size=3)), min_size=1, max_size=3).flatmap(
    lambda pools: st.lists(st.sampled_from([alert for pool in pools for alert in pool]), min_size=1, max_size=24))


@settings(max_examples=300, deadline=None)
@given(rules=st.lists(st.tuples(rule_conditions, actions, st.booleans()), max_size=8), run=runs)
def test_a_service_rule_set_decides_each_alert_as_it_would_afresh(rules: list[tuple[dict[str, Any], Any, bool]],
                                                                  run: list[dict[str, Any]]) -> None:
    compiled = compile_service_rules([{"id": f"r{n}", "conditions": spec, "actions": acts, "continue": go_on}
                                      for n, (spec, acts, go_on) in enumerate(rules)])
    for alert in run:
        assert evaluate(compiled, view(alert), NOW) == compiled.decide(view(alert), NOW)


@settings(max_examples=200, deadline=None)
@given(routes=st.lists(rule_conditions, max_size=8), run=runs)
def test_a_router_routes_each_alert_as_it_would_afresh(routes: list[dict[str, Any]], run: list[dict[str, Any]]) -> None:
    compiled = compile_router_rules([{"id": f"r{n}", "conditions": spec, "route_to": f"svc-{n}"}
                                     for n, spec in enumerate(routes)], {"drop": True})
    for alert in run:
        assert evaluate(compiled, view(alert), NOW) == compiled.decide(view(alert), NOW)


def test_values_python_takes_as_equal_are_told_apart_as_the_rules_tell_them() -> None:
    memo = Memo(["payload.n"])
    keys = [memo.key(view({"labels": {}, "tags": [], "n": n, "summary": None})) for n in ALIKE]
    assert len(set(keys)) == len(ALIKE)
    assert all(memo.key(view({"labels": {}, "tags": [], "n": n, "summary": None})) is None for n in OBJECTS)


def test_a_rule_set_with_a_time_condition_decides_by_the_instant() -> None:
    rules = compile_service_rules([{"id": "office", "conditions": {"time": {"zone": "UTC", "from": "09:00",
                                                                              "to": "10:00"}},
                                    "actions": {"severity": "info"}}])
    alert = view({"labels": {"a": TEXTS[1]}, "tags": [], "n": None, "summary": None})
    at = [datetime(2026, 5, 6, hour, 30, tzinfo=timezone.utc) for hour in (9, 10, 9)]
    assert [evaluate(rules, alert, now).matched for now in at] == [("office",), (), ("office",)]


def test_a_full_memo_starts_again_and_still_answers_each_alert() -> None:
    memo = Memo(["labels.a"], kept=2)
    decided: list[str] = []

    def decide(alert_view: Any) -> Any:
        decided.append(alert_view.labels.get("a"))
        return compile_service_rules([]).decide(alert_view, NOW)

    for name in ["x", "y", "x", "z", "x", "y"]:
        memo.decision(view({"labels": {"a": name}, "tags": [], "n": None, "summary": None}), decide)
    assert decided == ["x", "y", "z", "x", "y"]
