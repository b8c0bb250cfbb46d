"""From an Alertmanager-shaped notification to alert events: grouping, fallbacks, fingerprints."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from tocsin.actors.domain.events import Action, Severity
from tocsin.serve.ingest.prometheus_alerts import (
    AlertmanagerIn,
    AlertmanagerWire,
    GrafanaIn,
    GrafanaWire,
    Target,
    decoded,
    events_of,
    label_fingerprint,
)

TARGET = Target("svc-1", "int-1", datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc))


def alert(status: str = "firing", fingerprint: str | None = None, **labels: str) -> dict[str, Any]:
    labels = {"alertname": "HighLatency", "instance": "api-1:9100", "job": "api", **labels}
    body: dict[str, Any] = {
        "status": status, "labels": labels,
        "annotations": {"summary": f"p99 latency high on {labels['instance']}", "runbook_url": "https://rb/1"},
        "startsAt": "2026-03-02T09:29:51.613871234Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-03-02T09:35:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
    }
    if fingerprint is not None:
        body["fingerprint"] = fingerprint
    return body


def notification_body(*alerts: dict[str, Any], status: str = "firing", **fields: Any) -> dict[str, Any]:
    return {
        "version": "4", "groupKey": '{}:{alertname="HighLatency"}', "truncatedAlerts": 0, "status": status,
        "receiver": "tocsin", "groupLabels": {"alertname": "HighLatency"}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "alerts": list(alerts), **fields,
    }


def notification(*alerts: dict[str, Any], status: str = "firing", **fields: Any) -> AlertmanagerWire:
    return decoded(notification_body(*alerts, status=status, **fields), AlertmanagerWire, AlertmanagerIn)


def test_each_alert_is_its_own_incident_by_fingerprint() -> None:
    events = events_of(notification(alert(fingerprint="a1"), alert(fingerprint="b2", instance="api-2:9100")),
                       "fingerprint", "am", TARGET)
    assert [(e.dedup_key, e.action) for e in events] == [("am:a1", Action.TRIGGER), ("am:b2", Action.TRIGGER)]
    assert {e.service_id for e in events} == {"svc-1"} and {e.integration_id for e in events} == {"int-1"}
    assert {e.received_at for e in events} == {TARGET.received_at}
    assert len({e.event_id for e in events}) == 2


def test_resolved_alerts_resolve_and_firing_ones_trigger() -> None:
    events = events_of(notification(alert("resolved", "a1"), alert("firing", "b2")), "fingerprint", "am", TARGET)
    assert [(e.dedup_key, e.action) for e in events] == [("am:a1", Action.RESOLVE), ("am:b2", Action.TRIGGER)]


def test_details_keep_the_alert_and_its_notification() -> None:
    [event] = events_of(notification(alert(fingerprint="a1")), "fingerprint", "am", TARGET)
    details = orjson.loads(event.payload)
    assert details["labels"]["instance"] == "api-1:9100"
    assert details["annotations"]["runbook_url"] == "https://rb/1"
    assert details["startsAt"].startswith("2026-03-02T09:29:51.613871")
    assert details["endsAt"] == "0001-01-01T00:00:00Z"
    assert details["generatorURL"] == "http://prometheus:9090/graph?g0.expr=up"
    assert details["externalURL"] == "http://alertmanager:9093"
    assert details["groupKey"] == '{}:{alertname="HighLatency"}'
    assert (details["fingerprint"], details["status"], details["receiver"]) == ("a1", "firing", "tocsin")


def test_group_key_mode_is_one_incident_with_an_occurrence_per_firing_alert() -> None:
    group = notification(alert(fingerprint="a1"), alert(fingerprint="b2"), alert("resolved", "c3"))
    events = events_of(group, "group_key", "am", TARGET)
    assert [e.action for e in events] == [Action.TRIGGER, Action.TRIGGER]
    assert len({e.dedup_key for e in events}) == 1
    assert events[0].dedup_key.startswith("am:group:") and len(events[0].dedup_key) <= 255
    other = notification(alert(fingerprint="a1"), groupKey='{}:{alertname="DiskFull"}')
    assert events_of(other, "group_key", "am", TARGET)[0].dedup_key != events[0].dedup_key


def test_group_key_mode_resolves_the_group_when_the_notification_is_resolved() -> None:
    firing = events_of(notification(alert(fingerprint="a1")), "group_key", "am", TARGET)
    resolved = events_of(notification(alert("resolved", "a1"), alert("resolved", "b2"), status="resolved"),
                         "group_key", "am", TARGET)
    assert [(e.dedup_key, e.action) for e in resolved] == [(firing[0].dedup_key, Action.RESOLVE)]
    assert orjson.loads(resolved[0].payload)["groupKey"] == '{}:{alertname="HighLatency"}'


def test_group_key_mode_without_a_group_key_groups_by_the_group_labels() -> None:
    def key(**fields: Any) -> str:
        return events_of(notification(alert(), **fields), "group_key", "am", TARGET)[0].dedup_key

    assert key(groupKey="", groupLabels={"alertname": "A"}) == key(groupKey="", groupLabels={"alertname": "A"})
    assert key(groupKey="", groupLabels={"alertname": "A"}) != key(groupKey="", groupLabels={"alertname": "B"})


@pytest.mark.parametrize(("annotations", "labels", "summary"), [
    ({"summary": "Disk full", "description": "97% used"}, {"alertname": "DiskFull"}, "Disk full"),
    ({"summary": "  ", "description": "97% used"}, {"alertname": "DiskFull"}, "97% used"),
    ({}, {"alertname": "DiskFull"}, "DiskFull"),
    ({}, {"job": "node"}, None),
])
def test_summary_falls_back_from_summary_to_description_to_alertname(
    annotations: dict[str, str], labels: dict[str, str], summary: str | None
) -> None:
    body = {"status": "firing", "labels": labels, "annotations": annotations, "fingerprint": "f"}
    [event] = events_of(notification(body), "fingerprint", "am", TARGET)
    assert event.summary == summary


def test_summary_is_cut_to_1024_characters() -> None:
    body = {**alert(), "annotations": {"summary": "x" * 5000}}
    [event] = events_of(notification(body), "fingerprint", "am", TARGET)
    assert event.summary == "x" * 1024


@pytest.mark.parametrize(("label", "severity"), [
    ("critical", Severity.CRITICAL), ("error", Severity.ERROR), ("warning", Severity.WARNING),
    ("info", Severity.INFO), ("WARNING", Severity.WARNING), ("page", Severity.CRITICAL),
    ("disaster", Severity.CRITICAL), (None, Severity.CRITICAL),
])
def test_severity_from_the_severity_label(label: str | None, severity: Severity) -> None:
    body = alert() if label is None else alert(severity=label)
    [event] = events_of(notification(body), "fingerprint", "am", TARGET)
    assert event.severity is severity


def test_source_is_the_instance_else_the_job() -> None:
    with_instance, job_only, neither = (
        {"status": "firing", "labels": labels} for labels in
        ({"alertname": "A", "instance": "db1:9187", "job": "pg"}, {"alertname": "B", "job": "pg"}, {"alertname": "C"})
    )
    events = events_of(notification(with_instance, job_only, neither), "fingerprint", "am", TARGET)
    assert [e.source for e in events] == ["db1:9187", "pg", None]


def test_computed_fingerprint_is_prometheus_own() -> None:
    # The label set and value of Prometheus' own fingerprint test.
    assert label_fingerprint({"name": "garland, briggs", "fear": "love is not enough"}) == f"{5799056148416392346:016x}"
    assert label_fingerprint({}) == f"{14695981039346656037:016x}"


def test_computed_fingerprint_is_stable_and_follows_the_labels() -> None:
    first = {"status": "firing", "labels": {"alertname": "A", "instance": "x", "job": "j"}}
    reordered = {"status": "resolved", "labels": {"job": "j", "instance": "x", "alertname": "A"}}
    changed = {"status": "firing", "labels": {"alertname": "A", "instance": "y", "job": "j"}}
    keys = [e.dedup_key for e in events_of(notification(first, reordered, changed), "fingerprint", "am", TARGET)]
    assert keys[0] == keys[1] != keys[2]
    assert keys[0] == "am:" + label_fingerprint({"alertname": "A", "instance": "x", "job": "j"})
    # Label boundaries count: {"a": "bc"} and {"ab": "c"} differ.
    assert label_fingerprint({"a": "bc"}) != label_fingerprint({"ab": "c"})


def test_grafana_alerts_keep_values_and_links() -> None:
    grafana = decoded({
        "receiver": "tocsin", "status": "firing", "orgId": 1, "version": "1", "groupKey": "{}:{}",
        "title": "[FIRING:1] HighCPU", "alerts": [{
            "status": "firing", "labels": {"alertname": "HighCPU", "grafana_folder": "infra"},
            "annotations": {}, "values": {"B": 92.5, "C": 1}, "valueString": "[ var='B' value=92.5 ]",
            "fingerprint": "c6eadffa33fcdf37", "generatorURL": "http://grafana:3000/alerting/grafana/u1/view",
            "silenceURL": "http://grafana:3000/alerting/silence/new", "dashboardURL": "http://grafana:3000/d/abc",
            "panelURL": "", "imageURL": "http://grafana:3000/img.png",
        }],
    }, GrafanaWire, GrafanaIn)
    [event] = events_of(grafana, "fingerprint", "grafana", TARGET)
    details = orjson.loads(event.payload)
    assert event.dedup_key == "grafana:c6eadffa33fcdf37"
    assert details["values"] == {"B": 92.5, "C": 1}
    assert details["valueString"] == "[ var='B' value=92.5 ]"
    assert {link["text"]: link["href"] for link in details["links"]} == {
        "Alert rule": "http://grafana:3000/alerting/grafana/u1/view",
        "Silence": "http://grafana:3000/alerting/silence/new",
        "Dashboard": "http://grafana:3000/d/abc", "Image": "http://grafana:3000/img.png",
    }
    assert (details["orgId"], details["title"]) == (1, "[FIRING:1] HighCPU")


@pytest.mark.parametrize(("change", "field"), [
    ({"alerts": []}, "alerts"),
    ({"alerts": None}, "alerts"),
    ({"status": "pending"}, "status"),
    ({"version": "3"}, "version"),
    ({"alerts": [{"status": "firing"}]}, "alerts.0.labels"),
    ({"alerts": [{**alert(), "labels": {"alertname": 7}}]}, "alerts.0.labels.alertname"),
    ({"alerts": [{**alert(), "status": "ok"}]}, "alerts.0.status"),
    ({"alerts": [{**alert(), "startsAt": "yesterday"}]}, "alerts.0.startsAt"),
    ({"truncatedAlerts": -1}, "truncatedAlerts"),
])
def test_invalid_notifications_name_the_field(change: dict[str, Any], field: str) -> None:
    body = {**notification_body(alert()), **change}
    with pytest.raises(ValidationError) as raised:
        AlertmanagerIn.model_validate(body)
    assert field in [".".join(str(p) for p in e["loc"]) for e in raised.value.errors()]


def test_fields_alertmanager_may_add_are_accepted() -> None:
    body = {**alert(), "newField": {"x": 1}}
    assert len(notification(body, anotherNewField=True).alerts) == 1
