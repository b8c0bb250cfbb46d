"""How a router's routes, a service's rules and the inhibit rules add up for one alert event,
and the event the shard gets (actors/domain/rule_verdict.py)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from typing import Any

from tocsin.actors.domain.events import Action, AlertEvent, Severity, Urgency
from tocsin.actors.domain.rule_verdict import enrichment, judge
from tocsin.actors.domain.rules import (
    Changes,
    Disposition,
    InhibitIndex,
    ServiceRules,
    compile_inhibit_rules,
    compile_router_rules,
    compile_service_rules,
    view_of,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
DB = {"field": "labels.instance", "op": "starts_with", "value": "db-"}


def event(instance: str = "db-1") -> AlertEvent:
    payload = {"labels": {"alertname": "DiskFull", "instance": instance}}
    return AlertEvent(event_id="e-1", service_id="", integration_id="router-1", dedup_key="am:1",
                      action=Action.TRIGGER, received_at=NOW, summary="Disk full", severity=Severity.WARNING,
                      payload=json.dumps(payload))


def view(alert: AlertEvent) -> Any:
    return view_of("alertmanager", json.loads(alert.payload), summary=alert.summary, severity=alert.severity,
                   dedup_key=alert.dedup_key, action=alert.action)


ROUTER = compile_router_rules([{"id": "to-db", "conditions": DB, "route_to": "databases"}], {"route_to": "web"})
SERVICES = {
    "databases": compile_service_rules([
        {"id": "enrich", "conditions": DB, "continue": True,
         "actions": {"severity": "critical", "urgency": "low", "priority": "P1", "summary": "{{labels.instance}} full",
                     "dedup_key": "disk/{{labels.instance}}", "details": {"host": "{{labels.instance}}"},
                     "tags": ["db"]}},
        {"id": "pause", "actions": {"pause_minutes": 5}},
    ]),
}


def rules_of(service_id: str) -> ServiceRules | None:
    return SERVICES.get(service_id)


def test_a_routed_alert_goes_through_its_services_rules_and_becomes_the_event_they_make() -> None:
    alert = event()
    verdict = judge(view(alert), NOW, service_id=None, router=ROUTER, service_rules=rules_of)

    assert (verdict.service_id, verdict.rules, verdict.disposition, verdict.pause_minutes) == (
        "databases", ("to-db", "enrich", "pause"), Disposition.PAUSE, 5)
    applied = verdict.applied(alert)
    assert (applied.service_id, applied.summary, applied.severity, applied.dedup_key, applied.urgency,
            applied.priority) == ("databases", "db-1 full", Severity.CRITICAL, "disk/db-1", Urgency.LOW, "P1")
    assert (applied.rules, applied.disposition, applied.pause_minutes) == (
        ("to-db", "enrich", "pause"), Disposition.PAUSE, 5)
    assert json.loads(applied.enrichment) == {"details": {"host": "db-1"}, "tags": ["db"]}
    assert (applied.event_id, applied.payload, applied.action) == (alert.event_id, alert.payload, alert.action)


def test_what_no_rule_touches_goes_on_as_it_came() -> None:
    alert = event("web-1")
    verdict = judge(view(alert), NOW, service_id=None, router=ROUTER, service_rules=rules_of)

    assert verdict.router is not None and verdict.router.by_catch_all
    assert (verdict.service_id, verdict.rules, verdict.disposition) == ("web", (), Disposition.PAGE)
    assert verdict.applied(alert) == AlertEvent(**{**{f: getattr(alert, f) for f in alert.__dataclass_fields__},
                                                   "service_id": "web"})


def test_a_router_that_drops_decides_alone() -> None:
    dropping = compile_router_rules([], {"drop": True})
    index = InhibitIndex(compile_inhibit_rules([{"id": "all", "target": {"all": []},
                                                 "source": {"field": "summary", "op": "equals", "value": "down"}}]))
    index.open(("web", 1), view_of("generic", {}, summary="down"), NOW)
    assert judge(view(event("web-1")), NOW, service_id=None, router=ROUTER, service_rules=rules_of,
                 inhibit=index).inhibited_by == "all"
    verdict = judge(view(event()), NOW, service_id=None, router=dropping, service_rules=rules_of, inhibit=index)

    assert (verdict.service_id, verdict.disposition, verdict.service.matched, verdict.inhibited_by) == (
        None, Disposition.DROP, (), None)


def test_an_inhibited_alert_is_suppressed_however_its_rules_would_page_or_pause_it() -> None:
    rules = compile_inhibit_rules([{"id": "dc-down", "source": {"field": "summary", "op": "equals",
                                                                 "value": "Datacenter down"},
                                    "target": DB, "equal": []}])
    index = InhibitIndex(rules)
    index.open(("databases", 1), view_of("generic", {}, summary="Datacenter down"), NOW)

    verdict = judge(view(event()), NOW, service_id="databases", service_rules=rules_of, inhibit=index)

    assert verdict.router is None
    assert (verdict.rules, verdict.inhibited_by, verdict.disposition, verdict.pause_minutes) == (
        ("enrich", "pause", "dc-down"), "dc-down", Disposition.SUPPRESS, 0)
    other = judge(view(event("web-1")), NOW, service_id="databases", service_rules=rules_of, inhibit=index)
    assert (other.inhibited_by, other.disposition) == (None, Disposition.PAUSE)


def test_enrichment_is_empty_when_rules_add_no_details_and_no_tags() -> None:
    assert enrichment(Changes(summary="s")) == ""
    assert json.loads(enrichment(Changes(tags=("a", "b")))) == {"details": {}, "tags": ["a", "b"]}


def test_the_event_applied_keeps_every_field_the_rules_do_not_change() -> None:
    """`applied` builds the event field by field: each field of AlertEvent comes from the event
    or from the verdict, none is lost or shifted (as `dataclasses.replace` would keep them)."""
    alert = dataclasses.replace(event(), source="prometheus", integration_id="router-1",
                                received_at=datetime(2026, 3, 2, 9, 29, tzinfo=timezone.utc))
    verdict = judge(view(alert), NOW, service_id=None, router=ROUTER, service_rules=rules_of)
    expected = dataclasses.replace(
        alert, service_id="databases", summary="db-1 full", severity=Severity.CRITICAL, dedup_key="disk/db-1",
        rules=("to-db", "enrich", "pause"), disposition=Disposition.PAUSE, pause_minutes=5, urgency=Urgency.LOW,
        priority="P1", enrichment=enrichment(verdict.changes))
    assert verdict.applied(alert) == expected
    assert [f.name for f in dataclasses.fields(AlertEvent)][-7:] == [
        "payload", "rules", "disposition", "pause_minutes", "urgency", "priority", "enrichment"]


def test_enrichments_of_the_same_details_and_tags_are_the_same_text() -> None:
    changes = Changes(details={"runbook": "https://wiki/x"}, tags=("a", "b"))
    again = Changes(details={"runbook": "https://wiki/x"}, tags=("a", "b"))
    assert enrichment(changes) == enrichment(again)
    assert json.loads(enrichment(again)) == {"details": {"runbook": "https://wiki/x"}, "tags": ["a", "b"]}
