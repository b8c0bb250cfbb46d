"""The gateway remembers whole verdicts (actors/domain/verdict_memo.py): random routers and
service rules over runs of random alerts, each event and count made through `Ruling.ruled`
against the same worked out afresh; a reload, a time condition and an active inhibit rule
are not answered from memory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.test_rules_combinations import rule_conditions
from tests.unit.test_rules_memo import actions, runs
from tocsin.actors.domain.events import Action, AlertEvent, ServiceInput, Severity
from tocsin.actors.domain.rule_verdict import Verdict, judge
from tocsin.actors.domain.rules import AlertView, Decision, Disposition, InhibitIndex, RouterRules, ServiceRules
from tocsin.actors.domain.verdict_memo import Ruled, VerdictMemo, verdict_key
from tocsin.actors.rulebook import RuleBook, event_view
from tocsin.actors.store.database import Database
from tocsin.actors.store.rules import Router, Snapshot
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.ingest import ruling as ruling_module
from tocsin.serve.ingest.ruling import Ruling

NOW = datetime(2026, 5, 6, 9, 30, tzinfo=timezone.utc)
ROUTER = "int-router"
SERVICES = ("svc-0", "svc-1")
ROUTED = IntegrationKey(ROUTER, "", "router", False, {"format": "alertmanager"})
DIRECT = IntegrationKey("int-direct", "svc-0", "alertmanager", False, {})
OTHER_DIRECT = IntegrationKey("int-other", "svc-1", "alertmanager", False, {})
DB = {"field": "labels.a", "op": "equals", "value": "x"}
OFFICE_HOURS = {"time": {"zone": "UTC", "from": "09:00", "to": "10:00"}}
ENRICH = [{"id": "db", "conditions": DB, "actions": {"summary": "db {{labels.a}}", "tags": ["db"]}}]
ALERT = {"labels": {"a": "x"}, "tags": [], "n": None, "summary": "disk"}


class Tally:
    """What `Ruling` counts: the rules of each verdict counted, and the drops."""

    def __init__(self) -> None:
        self.counted: list[tuple[tuple[str, ...], str | None, Disposition]] = []

    def count(self, verdicts: Sequence[Verdict], router_id: str | None, now: datetime) -> None:
        self.counted += [(verdict.rules, verdict.service_id, verdict.disposition) for verdict in verdicts]


class Afresh:
    """A compiled rule set deciding each alert afresh, its own memo passed by."""

    def __init__(self, rules: ServiceRules | RouterRules) -> None:
        self._rules = rules
        self.catch_all_service = getattr(rules, "catch_all_service", None)

    def evaluate(self, view: AlertView, now: datetime) -> Decision:
        return self._rules.decide(view, now)


def book_of(routes: list[dict[str, Any]], services: dict[str, list[dict[str, Any]]], *, generation: int = 1,
            catch_all: dict[str, Any] | None = None, existing: Sequence[str] = SERVICES,
            inhibit: list[dict[str, Any]] | None = None) -> RuleBook:
    book = RuleBook(Database("postgresql://unused", max_size=1))
    book.load(snapshot_of(routes, services, generation=generation, catch_all=catch_all, existing=existing,
                          inhibit=inhibit))
    return book


def snapshot_of(routes: list[dict[str, Any]], services: dict[str, list[dict[str, Any]]], *, generation: int,
                catch_all: dict[str, Any] | None = None, existing: Sequence[str] = SERVICES,
                inhibit: list[dict[str, Any]] | None = None) -> Snapshot:
    sets: dict[Any, list[tuple[str, int, dict[str, Any]]]] = {
        ("service", service_id): [(rule["id"], 1, rule) for rule in rules]
        for service_id, rules in services.items()}
    sets["router", ROUTER] = [(route["id"], 1, route) for route in routes]
    if inhibit:
        sets["inhibit", None] = [(rule["id"], 1, rule) for rule in inhibit]
    config = {"format": "alertmanager", "catch_all": catch_all or {"drop": True}}
    return Snapshot(generation, sets, {ROUTER: Router(ROUTER, config, False)}, frozenset(existing))


def event_of(alert: dict[str, Any], number: int, service_id: str = "") -> AlertEvent:
    payload = {"labels": alert["labels"], "tags": alert["tags"], "n": alert["n"]}
    return AlertEvent(f"e-{number}", service_id, "int", "am:1", Action.TRIGGER, NOW, alert["summary"],
                      Severity.WARNING, None, json.dumps(payload))


def ruled(ruling: Ruling, inputs: list[ServiceInput], integration: IntegrationKey, now: datetime = NOW,
          payloads: Sequence[dict[str, Any]] | None = None) -> Sequence[ServiceInput | None]:
    return asyncio.run(ruling.ruled(inputs, integration, now, payloads))


def service_ids(made: Sequence[ServiceInput | None]) -> list[str | None]:
    return [item.service_id if item is not None else None for item in made]


def afresh(book: RuleBook, event: AlertEvent, integration: IntegrationKey) -> tuple[AlertEvent | None, Verdict]:
    """The event and verdict `Ruling` answered before it remembered any: every rule set deciding afresh."""
    router = book.router(ROUTER) if integration.type == "router" else None
    verdict = judge(event_view("alertmanager", event), NOW, service_id=event.service_id or None,
                    router=Afresh(router.rules) if router else None,  # type: ignore[arg-type]
                    service_rules=lambda service_id: Afresh(rules) if (rules := book.service(service_id)) else None,
                    service_exists=book.has_service)
    if verdict.disposition == Disposition.DROP:
        return None, verdict
    if not verdict.rules and verdict.service_id == event.service_id:
        return event, verdict
    return verdict.applied(event), verdict


services_rules = st.lists(st.tuples(rule_conditions, actions, st.booleans()), max_size=5).map(
    lambda rules: [{"id": f"r{n}", "conditions": spec, "actions": acts, "continue": go_on}
                   for n, (spec, acts, go_on) in enumerate(rules)])
routes = st.lists(st.tuples(rule_conditions, st.sampled_from([*SERVICES, "svc-gone"])), max_size=5).map(
    lambda drawn: [{"id": f"route-{n}", "conditions": spec, "route_to": to} for n, (spec, to) in enumerate(drawn)])
catch_alls = st.sampled_from([{"drop": True}, {"route_to": "svc-1"}, {"route_to": "svc-gone"}])


@settings(max_examples=150, deadline=None)
@given(routed=routes, catch_all=catch_alls, first=services_rules, second=services_rules, run=runs,
       sizes=st.lists(st.integers(1, 4), min_size=1, max_size=6))
def test_each_event_and_count_is_the_one_worked_out_afresh(routed: list[dict[str, Any]], catch_all: dict[str, Any],
                                                           first: list[dict[str, Any]], second: list[dict[str, Any]],
                                                           run: list[dict[str, Any]], sizes: list[int]) -> None:
    book = book_of(routed, {"svc-0": first, "svc-1": second}, catch_all=catch_all)
    tally = Tally()
    ruling = Ruling(book, tally)  # type: ignore[arg-type]
    sent = 0
    for integration in (ROUTED, DIRECT, OTHER_DIRECT) * 2:  # each alert again, seen before
        for alerts in requests_of(run, sizes):
            inputs = [event_of(alert, sent + n, integration.service_id) for n, alert in enumerate(alerts)]
            sent += len(inputs)
            expected = [afresh(book, event, integration) for event in inputs]
            before = len(tally.counted)
            payloads = [json.loads(event.payload) for event in inputs] if sent % 2 else None  # as a format hands them
            assert ruled(ruling, list(inputs), integration, payloads=payloads) == [made for made, _ in expected]
            assert tally.counted[before:] == [(verdict.rules, verdict.service_id, verdict.disposition)
                                              for _, verdict in expected
                                              if verdict.rules or verdict.disposition == Disposition.DROP]


def requests_of(run: list[dict[str, Any]], sizes: list[int]) -> list[list[dict[str, Any]]]:
    """`run` cut into requests of `sizes`, taken in turn."""
    requests: list[list[dict[str, Any]]] = []
    while sum(map(len, requests)) < len(run):
        start = sum(map(len, requests))
        requests.append(run[start:start + sizes[len(requests) % len(sizes)]])
    return requests


def test_an_alert_decided_before_is_answered_without_its_view_or_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    book = book_of([{"id": "to-0", "conditions": DB, "route_to": "svc-0"}], {"svc-0": ENRICH})
    ruling = Ruling(book, Tally())  # type: ignore[arg-type]
    alerts = [{**ALERT, "labels": {"a": name}} for name in ["x", "y", "x", "x"]]
    first = ruled(ruling, [event_of(alert, n) for n, alert in enumerate(alerts)], ROUTED)
    judged: list[AlertView] = []

    def judging(view: AlertView, now: datetime, **rules: Any) -> Verdict:
        judged.append(view)
        return judge(view, now, **rules)

    monkeypatch.setattr(ruling_module, "judge", judging)
    monkeypatch.setattr(ruling_module, "event_view", lambda *_: pytest.fail("a view made for an alert seen before"))
    again = ruled(ruling, [event_of(alert, n) for n, alert in enumerate(alerts)], ROUTED)
    assert again == first and judged == []
    assert [event.summary if event else None for event in again] == ["db x", None, "db x", "db x"]


def test_a_reload_of_new_rule_sets_is_not_answered_from_the_verdicts_of_the_old() -> None:
    book = book_of([{"id": "to-0", "conditions": DB, "route_to": "svc-0"}], {"svc-0": ENRICH})
    ruling = Ruling(book, Tally())  # type: ignore[arg-type]
    first = ruled(ruling, [event_of(ALERT, 1)], ROUTED)[0]
    assert isinstance(first, AlertEvent) and (first.service_id, first.rules) == ("svc-0", ("to-0", "db"))

    # The same generation (as a test loads it): only the sets being new objects tells them apart.
    book.load(snapshot_of([{"id": "to-1", "conditions": DB, "route_to": "svc-1"}], {"svc-0": ENRICH}, generation=1))
    again = ruled(ruling, [event_of(ALERT, 2)], ROUTED)[0]
    assert isinstance(again, AlertEvent) and (again.service_id, again.rules) == ("svc-1", ("to-1",))

    book.load(snapshot_of([{"id": "to-1", "conditions": DB, "route_to": "svc-1"}],
                          {"svc-1": [{"id": "page", "actions": {"severity": "critical"}}]}, generation=1))
    service_changed = ruled(ruling, [event_of(ALERT, 3)], ROUTED)[0]
    assert isinstance(service_changed, AlertEvent)
    assert (service_changed.rules, service_changed.severity) == (("to-1", "page"), Severity.CRITICAL)


def test_a_route_to_a_service_deleted_since_is_no_route_though_the_routes_are_the_same() -> None:
    routes_ = [{"id": "to-1", "conditions": DB, "route_to": "svc-1"}]
    book = book_of(routes_, {}, catch_all={"route_to": "svc-0"})
    ruling = Ruling(book, Tally())  # type: ignore[arg-type]
    router = book.router(ROUTER)
    assert service_ids(ruled(ruling, [event_of(ALERT, 1)], ROUTED)) == ["svc-1"]

    book.load(snapshot_of(routes_, {}, generation=2, catch_all={"route_to": "svc-0"}, existing=["svc-0"]))
    assert book.router(ROUTER) is router  # not compiled again: only the generation moved
    assert service_ids(ruled(ruling, [event_of(ALERT, 2)], ROUTED)) == ["svc-0"]


def test_rule_sets_with_a_time_condition_are_decided_at_each_instant() -> None:
    late = NOW.replace(hour=10)
    timed_service = book_of([], {"svc-0": [{"id": "office", "conditions": OFFICE_HOURS,
                                            "actions": {"severity": "info"}}]})
    ruling = Ruling(timed_service, Tally())  # type: ignore[arg-type]
    severities = [event.severity for n, now in enumerate([NOW, late, NOW, late])
                  for event in ruled(ruling, [event_of(ALERT, n, "svc-0")], DIRECT, now)
                  if isinstance(event, AlertEvent)]
    assert severities == [Severity.INFO, Severity.WARNING, Severity.INFO, Severity.WARNING]

    timed_router = book_of([{"id": "office", "conditions": OFFICE_HOURS, "route_to": "svc-1"}], {},
                           catch_all={"route_to": "svc-0"})
    ruling = Ruling(timed_router, Tally())  # type: ignore[arg-type]
    services = [event.service_id for n, now in enumerate([NOW, late, NOW, late])
                for event in ruled(ruling, [event_of(ALERT, n)], ROUTED, now) if isinstance(event, AlertEvent)]
    assert services == ["svc-1", "svc-0", "svc-1", "svc-0"]


def test_an_active_inhibit_rule_silences_an_alert_decided_before() -> None:
    book = book_of([{"id": "to-0", "conditions": DB, "route_to": "svc-0"}], {"svc-0": ENRICH},
                   inhibit=[{"id": "dc-down", "source": {"field": "summary", "op": "equals", "value": "DC down"},
                             "target": DB, "equal": []}])
    index = InhibitIndex(book.inhibit)
    ruling = Ruling(book, Tally(), index)  # type: ignore[arg-type]

    def disposition(number: int) -> tuple[Disposition, tuple[str, ...]]:
        made = ruled(ruling, [event_of(ALERT, number)], ROUTED)[0]
        assert isinstance(made, AlertEvent)
        return made.disposition, made.rules

    assert disposition(1) == (Disposition.PAGE, ("to-0", "db"))
    index.open(("svc-9", 1), event_view("generic", event_of({**ALERT, "summary": "DC down"}, 0)), NOW)
    assert disposition(2) == (Disposition.SUPPRESS, ("to-0", "db", "dc-down"))
    index.close(("svc-9", 1))
    assert disposition(3) == (Disposition.PAGE, ("to-0", "db"))


def test_a_full_memo_starts_again_and_a_clocked_service_set_is_not_kept() -> None:
    book = book_of([], {"svc-0": ENRICH, "svc-1": [{"id": "office", "conditions": OFFICE_HOURS}]})
    memo = VerdictMemo(kept=2)
    memo.follow(book.generation)
    for number, summary in enumerate(["a", "b", "c"]):
        event = event_of({**ALERT, "summary": summary}, number, "svc-0")
        key = verdict_key("alertmanager", event, None, None)
        assert key is not None and memo.recalled(key, book.service) is None
        verdict = judge(event_view("alertmanager", event), NOW, service_id="svc-0", service_rules=book.service)
        memo.keep(key, Ruled.of(verdict, event), book.service)
        assert memo.recalled(key, book.service) is not None
    assert len(memo) == 1  # emptied when it held two

    timed = event_of(ALERT, 9, "svc-1")
    verdict = judge(event_view("alertmanager", timed), NOW, service_id="svc-1", service_rules=book.service)
    memo.keep(key_of(timed), Ruled.of(verdict, timed), book.service)
    assert memo.recalled(key_of(timed), book.service) is None
    memo.follow(book.generation + 1)
    assert len(memo) == 0


def key_of(event: AlertEvent) -> Any:
    return verdict_key("alertmanager", event, None, None)
