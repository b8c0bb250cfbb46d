"""Services, integrations and incidents through the REST API."""

from __future__ import annotations

from tests.client import trigger
from tests.e2e.conftest import incidents_of


def test_service_crud(api):
    created = api.post("/api/v1/services", json={"name": "payments", "description": "card payments"})
    assert created.status_code == 201
    service = created.json()
    assert service["name"] == "payments" and service["id"]
    assert api.get(f"/api/v1/services/{service['id']}").json()["description"] == "card payments"
    assert service["id"] in {s["id"] for s in api.get("/api/v1/services").json()["services"]}

    updated = api.patch(f"/api/v1/services/{service['id']}", json={"description": "cards and wallets"})
    assert updated.status_code == 200
    assert updated.json() | {"updated_at": None} == service | {"description": "cards and wallets", "updated_at": None}

    assert api.delete(f"/api/v1/services/{service['id']}").status_code == 204
    assert api.get(f"/api/v1/services/{service['id']}").status_code == 404
    assert api.delete(f"/api/v1/services/{service['id']}").status_code == 404


def test_integration_keys(api, anonymous):
    service = api.post("/api/v1/services", json={"name": "search"}).json()
    created = api.post(f"/api/v1/services/{service['id']}/integrations", json={"type": "pagerduty", "name": "prom"})
    assert created.status_code == 201
    integration = created.json()
    assert len(integration["key"]) == 32 and integration["type"] == "pagerduty"
    assert integration["url"].endswith("/v2/enqueue")
    listed = api.get(f"/api/v1/services/{service['id']}/integrations").json()["integrations"]
    assert [i["id"] for i in listed] == [integration["id"]]

    assert anonymous.post("/v2/enqueue", json=trigger(integration["key"])).status_code == 202
    assert api.delete(f"/api/v1/services/{service['id']}/integrations/{integration['id']}").status_code == 200
    assert anonymous.post("/v2/enqueue", json=trigger(integration["key"])).status_code == 400


def test_deleting_a_service_refuses_its_keys(api, anonymous, new_service):
    service = new_service()
    assert api.delete(f"/api/v1/services/{service.id}").status_code == 204
    assert anonymous.post("/v2/enqueue", json=trigger(service.key)).status_code == 400


def test_incident_timeline_acknowledge_and_resolve(api, anonymous, new_service):
    service = new_service()
    anonymous.post("/v2/enqueue", json=trigger(service.key, "cpu", summary="CPU at 99%"))
    anonymous.post("/v2/enqueue", json=trigger(service.key, "cpu", summary="CPU at 100%"))
    [incident] = incidents_of(api, service.id)

    acked = api.post(f"/api/v1/incidents/{incident['id']}/acknowledge")
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    again = api.post(f"/api/v1/incidents/{incident['id']}/acknowledge")  # idempotent
    assert again.status_code == 200 and again.json()["acknowledged_at"] == acked.json()["acknowledged_at"]

    resolved = api.post(f"/api/v1/incidents/{incident['id']}/resolve")
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert api.post(f"/api/v1/incidents/{incident['id']}/resolve").json()["resolved_at"] == \
        resolved.json()["resolved_at"]
    # A resolved incident cannot be acknowledged back.
    assert api.post(f"/api/v1/incidents/{incident['id']}/acknowledge").json()["status"] == "resolved"

    detail = api.get(f"/api/v1/incidents/{incident['id']}").json()
    assert [(e["kind"], e["actor"]) for e in detail["timeline"]] == [
        ("triggered", "db1"), ("unpaged", "tocsin"), ("occurrence", "db1"), ("acknowledged", "api:admin"),
        ("resolved", "api:admin"),
    ]
    assert detail["timeline"][1]["message"] == "the service has no escalation policy: nobody is paged"
    assert detail["timeline"][2]["message"] == "occurrence 2: CPU at 100%"
    times = [e["at"] for e in detail["timeline"]]
    assert times == sorted(times)


def test_unknown_incident_is_404(api):
    assert api.get("/api/v1/incidents/999999999").status_code == 404
    assert api.post("/api/v1/incidents/999999999/acknowledge").status_code == 404


def test_list_filters_and_cursor_pagination(api, anonymous, new_service):
    service = new_service()
    for n in range(7):
        anonymous.post("/v2/enqueue", json=trigger(service.key, f"page-{n}"))
    anonymous.post("/v2/enqueue", json={"routing_key": service.key, "event_action": "resolve", "dedup_key": "page-0"})
    anonymous.post("/v2/enqueue", json={"routing_key": service.key, "event_action": "acknowledge",
                                        "dedup_key": "page-1"})

    seen, cursor = [], None
    while True:
        params = {"service_id": service.id, "limit": "3", **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/incidents", params=params).json()
        seen += page["incidents"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i["dedup_key"] for i in seen] == [f"page-{n}" for n in reversed(range(7))]  # newest first

    assert [i["dedup_key"] for i in incidents_of(api, service.id, status="resolved")] == ["page-0"]
    assert [i["dedup_key"] for i in incidents_of(api, service.id, status="acknowledged")] == ["page-1"]
    assert len(incidents_of(api, service.id, status="triggered")) == 5
    assert len(incidents_of(api, service.id, status="triggered,acknowledged")) == 6
