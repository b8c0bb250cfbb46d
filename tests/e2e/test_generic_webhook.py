"""The generic JSON webhook over HTTP: any JSON in, incidents out; bad input refused whole,
naming the problem, with nothing stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tocsin.serve.ingest.generic import stable_key
from tests.e2e.conftest import incidents_of, refused

GRAFANA_LIKE = {
    "summary": "alerts.0.annotations.summary",
    "dedup_key": "alerts.0.fingerprint",
    "severity": "alerts.0.labels.severity",
    "action": "state",
    "source": "alerts.0.labels.instance",
    "severity_map": {"page": "critical", "ticket": "warning"},
    "action_map": {"alerting": "trigger", "ok": "resolve"},
}


def grafana_like(state: str = "alerting", severity: str = "ticket") -> dict[str, Any]:
    return {"state": state, "title": "[Alerting] High latency", "alerts": [{
        "fingerprint": "a1b2c3", "labels": {"severity": severity, "instance": "web1:9100"},
        "annotations": {"summary": "p99 latency over 2s on web1"}}]}


@pytest.fixture
def generic(api, new_service):
    """A service with a generic integration of these options: (service, key)."""
    def make(**config: Any) -> tuple[Any, str]:
        service = new_service("generic-source")
        created = api.post(f"/api/v1/services/{service.id}/integrations", json={"type": "generic", "config": config})
        assert created.status_code == 201, created.text
        assert created.json()["url"].endswith(f"/integrations/generic/{created.json()['key']}")
        return service, created.json()["key"]
    return make


def details_of(api, incident_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/incidents/{incident_id}")
    assert response.status_code == 200, response.text
    return response.json()["details"]  # type: ignore[no-any-return]


def test_any_object_opens_an_incident_by_the_usual_field_names(anonymous, api, generic):
    service, key = generic()
    alert = {"title": "Disk full on db1", "level": "warn", "host": "db1", "extra": {"used": "92%"}}
    response = anonymous.post(f"/integrations/generic/{key}", json=alert)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "success", "events": 1, "dedup_keys": [stable_key("Disk full on db1")]}
    [incident] = incidents_of(api, service.id)
    assert (incident["summary"], incident["severity"], incident["source"], incident["status"]) == (
        "Disk full on db1", "warning", "db1", "triggered")
    assert details_of(api, incident["id"]) == alert

    # The key as a bearer token, and a text body type as curl sends by default: the same alert.
    again = anonymous.post("/integrations/generic", content=json.dumps(alert),
                           headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-www-form-urlencoded"})
    assert again.status_code == 202, again.text
    [incident] = incidents_of(api, service.id)
    assert incident["occurrences"] == 2

    resolved = anonymous.post(f"/integrations/generic/{key}", json={"title": "Disk full on db1", "status": "resolved"})
    assert resolved.status_code == 202, resolved.text
    assert incidents_of(api, service.id)[0]["status"] == "resolved"


def test_a_configured_mapping_and_resolve_through_the_action_map(anonymous, api, generic):
    service, key = generic(**GRAFANA_LIKE)
    response = anonymous.post(f"/integrations/generic/{key}", json=grafana_like())
    assert response.status_code == 202, response.text
    assert response.json()["dedup_keys"] == ["a1b2c3"]
    [incident] = incidents_of(api, service.id)
    assert (incident["summary"], incident["dedup_key"], incident["severity"], incident["source"]) == (
        "p99 latency over 2s on web1", "a1b2c3", "warning", "web1:9100")

    assert anonymous.post(f"/integrations/generic/{key}", json=grafana_like("ok")).status_code == 202
    [incident] = incidents_of(api, service.id)
    assert incident["status"] == "resolved"


def test_an_array_is_one_batch_of_alerts(anonymous, api, generic, db):
    service, key = generic(dedup_key="labels.alertname", severity="labels.severity")
    batch = [{"message": "CPU hot on web1", "labels": {"alertname": "cpu", "severity": "critical"}},
             {"message": "Disk full on db1", "labels": {"alertname": "disk", "severity": "p3"}},
             {"message": "CPU hot on web2", "labels": {"alertname": "cpu", "severity": "critical"}}]
    response = anonymous.post(f"/integrations/generic/{key}", json=batch)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "success", "events": 3, "dedup_keys": ["cpu", "disk", "cpu"]}
    by_key = {i["dedup_key"]: i for i in incidents_of(api, service.id)}
    assert sorted(by_key) == ["cpu", "disk"]
    assert (by_key["cpu"]["occurrences"], by_key["cpu"]["severity"]) == (2, "critical")
    assert (by_key["disk"]["occurrences"], by_key["disk"]["severity"]) == (1, "warning")
    stored = db("fetchval", "SELECT count(*) FROM alerts WHERE service_id = $1::uuid", service.id)
    assert stored == 3


def _bad_inputs():
    """(name, options, body, status, what the message names)"""
    yield "malformed JSON", {}, b'{"title": ', 400, "not valid JSON"
    yield "a bare string", {}, "disk full", 400, "a string"
    yield "an empty array", {}, [], 400, "empty"
    yield "a non-object element", {}, [{"title": "ok"}, 7], 400, "[1]"
    yield "no usable summary", {}, {"count": 3, "title": ""}, 400, "summary"
    yield "a mapped path that is missing", {"summary": "alert.name"}, {"title": "x"}, 400, "'alert.name'"
    yield "a mapped path of the wrong type", {"severity": "sev"}, {"title": "x", "sev": {"a": 1}}, 400, "'sev'"
    yield "a list index out of range", {"summary": "alerts.3.name"}, {"alerts": [{"name": "a"}]}, 400, \
        "'alerts.3.name'"
    yield "one bad element of a batch", {"dedup_key": "id"}, [{"title": "a", "id": 1}, {"title": "b"}], 400, \
        "[1] dedup_key"
    yield "a dedup key over 255", {}, {"title": "x", "id": "k" * 256}, 400, "dedup_key"
    yield "a body over 512 KB", {}, {"title": "x", "blob": "x" * (513 * 1024)}, 413, "too large"


BAD = list(_bad_inputs())


@pytest.mark.parametrize(("options", "body", "status", "says"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_refused_naming_the_problem_and_nothing_is_stored(anonymous, generic, db, options, body,
                                                                        status, says):
    service, key = generic(**options)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = anonymous.post(f"/integrations/generic/{key}", content=content,
                              headers={"Content-Type": "application/json"})
    refused(response, status, says)
    assert db("fetch", "SELECT 1 FROM alerts WHERE service_id = $1::uuid", service.id) == []
    assert db("fetch", "SELECT 1 FROM incidents WHERE service_id = $1::uuid", service.id) == []


def test_keys_that_do_not_belong_are_refused(api, anonymous, generic, new_service):
    service, key = generic()
    alert = {"title": "x"}
    refused(anonymous.post(f"/integrations/generic/{'0' * 32}", json=alert), 404, "no integration")
    missing = anonymous.post("/integrations/generic", json=alert)
    refused(missing, 401, "Authorization: Bearer")
    assert missing.headers["www-authenticate"] == "Bearer"
    pagerduty = new_service()
    refused(anonymous.post(f"/integrations/generic/{pagerduty.key}", json=alert), 400, "pagerduty")
    [integration] = [i for i in api.get(f"/api/v1/services/{service.id}/integrations").json()["integrations"]
                     if i["key"] == key]
    assert api.delete(f"/api/v1/services/{service.id}/integrations/{integration['id']}").status_code == 200
    refused(anonymous.post(f"/integrations/generic/{key}", json=alert), 403, "revoked")
    assert incidents_of(api, service.id) == []


@pytest.mark.parametrize(("config", "field"), [
    ({"summary": "alerts..name"}, "config.summary"),
    ({"severity_map": {"sev1": "apocalyptic"}}, "config.severity_map"),
    ({"action_map": {"ok": "explode"}}, "config.action_map"),
    ({"sumary": "title"}, "config.sumary"),
])
def test_bad_options_are_refused_naming_the_option(api, new_service, config, field):
    service = new_service()
    response = api.post(f"/api/v1/services/{service.id}/integrations", json={"type": "generic", "config": config})
    refused(response, 422, field)
