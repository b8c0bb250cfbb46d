"""PagerDuty Events API v2 over HTTP: what a monitoring source sees, and what it leads to."""

from __future__ import annotations

import re

import httpx2  # the HTTP library PagerDuty's client is built on
import pagerduty
import pytest

from tests.client import trigger
from tests.e2e.conftest import incidents_of


def test_trigger_answers_like_pagerduty_and_opens_an_incident(anonymous, api, new_service):
    service = new_service()
    response = anonymous.post("/v2/enqueue", json=trigger(service.key, "disk-full"))
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": "disk-full"}
    [incident] = incidents_of(api, service.id)
    assert incident["status"] == "triggered"
    assert incident["summary"] == "Disk full on db1"
    assert incident["severity"] == "critical"
    assert incident["occurrences"] == 1


def test_dedup_key_lifecycle(anonymous, api, new_service):
    service = new_service()
    for _ in range(3):
        assert anonymous.post("/v2/enqueue", json=trigger(service.key, "k1")).status_code == 202
    [incident] = incidents_of(api, service.id)
    assert incident["occurrences"] == 3

    ack = {"routing_key": service.key, "event_action": "acknowledge", "dedup_key": "k1"}
    assert anonymous.post("/v2/enqueue", json=ack).status_code == 202
    # Once acknowledged, triggers add occurrences and leave it acknowledged.
    assert anonymous.post("/v2/enqueue", json=trigger(service.key, "k1")).status_code == 202
    [incident] = incidents_of(api, service.id)
    assert (incident["status"], incident["occurrences"]) == ("acknowledged", 4)

    resolve = {"routing_key": service.key, "event_action": "resolve", "dedup_key": "k1"}
    assert anonymous.post("/v2/enqueue", json=resolve).status_code == 202
    assert incidents_of(api, service.id)[0]["status"] == "resolved"

    # After a resolve the key is free: the next trigger opens a new incident.
    assert anonymous.post("/v2/enqueue", json=trigger(service.key, "k1")).status_code == 202
    newest, oldest = incidents_of(api, service.id)
    assert (newest["status"], newest["occurrences"]) == ("triggered", 1)
    assert oldest["status"] == "resolved" and newest["id"] > oldest["id"]


def test_acknowledge_or_resolve_without_open_incident_is_dropped(anonymous, api, new_service):
    service = new_service()
    for action in ("acknowledge", "resolve"):
        event = {"routing_key": service.key, "event_action": action, "dedup_key": "nothing-open"}
        response = anonymous.post("/v2/enqueue", json=event)
        assert response.status_code == 202
        assert response.json()["dedup_key"] == "nothing-open"
    assert incidents_of(api, service.id) == []


def test_dedup_key_is_scoped_to_its_service(anonymous, api, new_service):
    first, second = new_service("first"), new_service("second")
    for service in (first, second):
        assert anonymous.post("/v2/enqueue", json=trigger(service.key, "shared-key")).status_code == 202
    assert len(incidents_of(api, first.id)) == 1
    assert len(incidents_of(api, second.id)) == 1


def test_trigger_without_dedup_key_gets_one(anonymous, api, new_service):
    service = new_service()
    first = anonymous.post("/v2/enqueue", json=trigger(service.key)).json()["dedup_key"]
    second = anonymous.post("/v2/enqueue", json=trigger(service.key)).json()["dedup_key"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second
    assert {i["dedup_key"] for i in incidents_of(api, service.id)} == {first, second}


def test_all_payload_fields_are_kept(anonymous, api, new_service):
    service = new_service()
    event = trigger(
        service.key, "full", component="postgres", group="prod-datapipe", **{"class": "disk"},
        timestamp="2026-11-27T08:42:58.315+0000", custom_details={"free space": "1%", "ping time": "1500ms"},
    )
    event |= {"links": [{"href": "https://example.com/dash", "text": "Dashboard"}],
              "images": [{"src": "https://example.com/graph.png", "alt": "graph"}],
              "client": "Sample Monitoring Service", "client_url": "https://monitoring.example.com"}
    assert anonymous.post("/v2/enqueue", json=event).status_code == 202
    [listed] = incidents_of(api, service.id)
    details = api.get(f"/api/v1/incidents/{listed['id']}").json()["details"]
    assert details["payload"]["custom_details"] == {"free space": "1%", "ping time": "1500ms"}
    assert details["payload"]["class"] == "disk"
    assert details["links"][0]["href"] == "https://example.com/dash"
    assert details["client"] == "Sample Monitoring Service"
    assert "routing_key" not in details


class TlsTerminator(httpx2.BaseTransport):
    """Stands in for the load balancer that terminates TLS in front of Tocsin: PagerDuty's
    client insists on https://, so its requests reach Tocsin over plain HTTP unchanged."""

    def __init__(self, upstream: str) -> None:
        self._upstream = httpx2.URL(upstream)
        self._inner = httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.url = request.url.copy_with(scheme="http", host=self._upstream.host, port=self._upstream.port)
        return self._inner.handle_request(request)


def test_pagerduty_client_works_unchanged(tocsin, api, new_service):
    """PagerDuty's own Python client, given Tocsin's base URL and nothing else."""
    service = new_service()
    client = pagerduty.EventsApiV2Client(service.key, base_url="https://tocsin.example",
                                         transport=TlsTerminator(tocsin.base_url))
    dedup_key = client.trigger("Replication lag 300s", "db2", severity="error",
                               custom_details={"lag_s": 300})
    [incident] = incidents_of(api, service.id)
    assert (incident["dedup_key"], incident["severity"], incident["status"]) == (dedup_key, "error", "triggered")
    client.acknowledge(dedup_key)
    assert incidents_of(api, service.id)[0]["status"] == "acknowledged"
    client.resolve(dedup_key)
    assert incidents_of(api, service.id)[0]["status"] == "resolved"
    client.send_change_event(payload={"summary": "Deployed v1.2.3", "source": "ci"})


def test_change_events_are_recorded_on_the_service(anonymous, api, new_service, db):
    service = new_service()
    event = {"routing_key": service.key, "payload": {"summary": "Deployed checkout v42", "source": "ci",
                                                        "custom_details": {"build": 42}}}
    response = anonymous.post("/v2/change/enqueue", json=event)
    assert response.status_code == 202
    assert response.json()["status"] == "success"
    rows = db("fetch", "SELECT summary FROM change_events WHERE service_id = $1::uuid", service.id)
    assert [r["summary"] for r in rows] == ["Deployed checkout v42"]
    assert incidents_of(api, service.id) == []


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_dedup_key_required_for_acknowledge_and_resolve(anonymous, new_service, action):
    service = new_service()
    response = anonymous.post("/v2/enqueue", json={"routing_key": service.key, "event_action": action})
    assert response.status_code == 400
    assert "dedup_key" in response.text


def test_openapi_docs_are_served(anonymous):
    assert anonymous.get("/docs").status_code == 200
    spec = anonymous.get("/openapi.json").json()
    paths = spec["paths"]

    def body(path: str) -> dict:
        return paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]

    # Ingestion reads its bodies itself; the documentation still shows each source's shape.
    assert body("/v2/enqueue")["properties"]["routing_key"]["maxLength"] == 32
    assert "payload" in body("/v2/enqueue")["properties"]
    for path in ("/integrations/alertmanager/{key}", "/integrations/alertmanager", "/integrations/grafana/{key}"):
        alerts = body(path)["properties"]["alerts"]
        assert "labels" in alerts["items"]["properties"], path
