"""Prometheus Alertmanager's webhook over HTTP: what Alertmanager sees, and the incidents it leads to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.alert_payloads import (
    NOT_ENDED,
    STARTS_AT,
    Source,
    am_alert,
    am_notification,
    by_instance,
    send,
    source_of,
)
from tests.e2e.conftest import incidents_of

INSTANCES = ("checkout-0:8080", "checkout-1:8080", "checkout-2:8080")


@pytest.fixture
def alertmanager(tocsin: Any, admin_token: str) -> Callable[..., Source]:
    return lambda **config: source_of(tocsin.base_url, admin_token, "alertmanager", **config)


def test_a_firing_batch_opens_an_incident_per_alert(anonymous, api, alertmanager):
    source = alertmanager()
    severities = ("critical", "warning", "page")
    alerts = [am_alert(instance, severity=severity) for instance, severity in zip(INSTANCES, severities)]
    answer = send(anonymous, source, *alerts)
    assert [i["outcome"] for i in answer["incidents"]] == ["opened"] * 3
    incidents = by_instance(api, source)
    assert set(incidents) == set(INSTANCES)
    for alert in alerts:
        incident = incidents[alert["labels"]["instance"]]
        assert incident["summary"] == f"High request latency on {alert['labels']['instance']}"
        assert incident["dedup_key"] == f"am:{alert['fingerprint']}"
        assert (incident["status"], incident["occurrences"]) == ("triggered", 1)
    assert [incidents[i]["severity"] for i in INSTANCES] == ["critical", "warning", "critical"]
    assert sorted(i["incident_id"] for i in answer["incidents"]) == sorted(i["id"] for i in incidents.values())


def test_the_incident_keeps_the_alert_in_its_details(anonymous, api, alertmanager):
    source = alertmanager()
    alert = am_alert(INSTANCES[0])
    send(anonymous, source, alert)
    [incident] = incidents_of(api, source.service_id)
    details = api.get(f"/api/v1/incidents/{incident['id']}").json()["details"]
    assert details["labels"] == alert["labels"]
    assert details["annotations"]["runbook_url"] == "https://runbooks.example.com/HighRequestLatency"
    assert details["startsAt"].startswith(STARTS_AT[:26]) and details["endsAt"] == NOT_ENDED
    assert details["generatorURL"] == alert["generatorURL"]
    assert details["externalURL"] == "http://alertmanager.monitoring:9093"
    assert details["groupKey"] == '{}/{severity=~"critical|warning"}:{alertname="HighRequestLatency"}'
    assert details["fingerprint"] == alert["fingerprint"]


def test_a_repeat_adds_occurrences(anonymous, api, alertmanager):
    source = alertmanager()
    alerts = [am_alert(instance) for instance in INSTANCES]
    send(anonymous, source, *alerts)
    answer = send(anonymous, source, *alerts)
    assert [i["outcome"] for i in answer["incidents"]] == ["occurrence"] * 3
    incidents = incidents_of(api, source.service_id)
    assert len(incidents) == 3
    assert {(i["status"], i["occurrences"]) for i in incidents} == {("triggered", 2)}


def test_resolved_alerts_resolve_their_incidents(anonymous, api, alertmanager):
    source = alertmanager()
    send(anonymous, source, *(am_alert(instance) for instance in INSTANCES))
    answer = send(anonymous, source, am_alert(INSTANCES[0], "resolved"), am_alert(INSTANCES[1]))
    assert [i["outcome"] for i in answer["incidents"]] == ["resolved", "occurrence"]
    statuses = {name: i["status"] for name, i in by_instance(api, source).items()}
    assert statuses == {INSTANCES[0]: "resolved", INSTANCES[1]: "triggered", INSTANCES[2]: "triggered"}
    # Firing again after the resolve is a new incident.
    send(anonymous, source, am_alert(INSTANCES[0]))
    assert len(incidents_of(api, source.service_id)) == 4


def test_group_key_mode_gives_one_incident_for_the_group(anonymous, api, alertmanager):
    source = alertmanager(group_by="group_key")
    answer = send(anonymous, source, *(am_alert(instance) for instance in INSTANCES))
    assert [i["outcome"] for i in answer["incidents"]] == ["opened", "occurrence", "occurrence"]
    [incident] = incidents_of(api, source.service_id)
    assert incident["dedup_key"].startswith("am:group:")
    assert (incident["status"], incident["occurrences"]) == ("triggered", 3)

    # One alert resolving while the group still fires leaves the group's incident open.
    send(anonymous, source, am_alert(INSTANCES[0], "resolved"), am_alert(INSTANCES[1]))
    [incident] = incidents_of(api, source.service_id)
    assert (incident["status"], incident["occurrences"]) == ("triggered", 4)

    answer = send(anonymous, source, *(am_alert(instance, "resolved") for instance in INSTANCES))
    assert [i["outcome"] for i in answer["incidents"]] == ["resolved"]
    assert [i["status"] for i in incidents_of(api, source.service_id)] == ["resolved"]


def test_the_integration_says_where_alertmanager_sends(api, anonymous, new_service):
    service = new_service()
    created = api.post(f"/api/v1/services/{service.id}/integrations",
                       json={"type": "alertmanager", "config": {"group_by": "group_key"}})
    assert created.status_code == 201, created.text
    integration = created.json()
    assert integration["config"]["group_by"] == "group_key"
    url = httpx.URL(integration["url"])
    assert url.path == f"/integrations/alertmanager/{integration['key']}"
    assert anonymous.post(url.path, json=am_notification(am_alert(INSTANCES[0]))).status_code == 200
    assert len(incidents_of(api, service.id)) == 1


def test_an_unknown_grouping_option_is_refused(api, new_service):
    service = new_service()
    response = api.post(f"/api/v1/services/{service.id}/integrations",
                        json={"type": "alertmanager", "config": {"group_by": "alertname"}})
    assert response.status_code == 422
    assert "config.group_by" in response.json()["message"]
