"""Noise control over HTTP: maintenance windows, the cap on unacknowledged incidents, and
auto-resolve settings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.client import create_user, trigger


@pytest.fixture
def paged_service(api: httpx.Client, tocsin: Any, admin_token: str) -> dict[str, Any]:
    """A service whose policy pages Mo by push (no push provider runs in the test deployment)."""
    mo = create_user(tocsin.base_url, admin_token, "Mo")
    method = api.post(f"/api/v1/users/{mo['id']}/contact-methods",
                      json={"kind": "push", "address": "arn:aws:sns:us-east-1:1:endpoint/GCM/t/mo", "verified": True})
    api.post(f"/api/v1/users/{mo['id']}/notification-rules",
             json={"contact_method_id": method.json()["id"], "urgency": "high", "delay_minutes": 0})
    policy = api.post("/api/v1/escalation-policies", json={"name": "mo", "levels": [
        {"delay_minutes": 10, "targets": [{"type": "user", "id": mo["id"]}]}]}).json()
    service = api.post("/api/v1/services", json={"name": "search-api", "escalation_policy_id": policy["id"]}).json()
    key = api.post(f"/api/v1/services/{service['id']}/integrations", json={"type": "pagerduty"}).json()["key"]
    return {**service, "key": key}


def incidents(api: httpx.Client, service_id: str) -> list[dict[str, Any]]:
    return api.get("/api/v1/incidents", params={"service_id": service_id}).json()["incidents"]  # type: ignore[no-any-return]


def notifications(api: httpx.Client, incident_id: int) -> list[dict[str, Any]]:
    return api.get(f"/api/v1/incidents/{incident_id}/notifications").json()["notifications"]  # type: ignore[no-any-return]


def test_alerts_during_maintenance_are_recorded_and_page_nobody(api: httpx.Client,
                                                                 paged_service: dict[str, Any]) -> None:
    sid = paged_service["id"]
    window = api.post(f"/api/v1/services/{sid}/maintenance", json={"minutes": 30, "reason": "db upgrade"})
    assert window.status_code == 201, window.text
    assert window.json()["active"] is True

    assert api.post("/v2/enqueue", json=trigger(paged_service["key"], "slow-queries")).status_code == 202

    [incident] = incidents(api, sid)
    assert incident["status"] == "triggered" and notifications(api, incident["id"]) == []
    timeline = api.get(f"/api/v1/incidents/{incident['id']}").json()["timeline"]
    assert any("maintenance until" in e["message"] for e in timeline)

    assert api.delete(f"/api/v1/services/{sid}/maintenance/{window.json()['id']}").status_code == 204
    assert api.get(f"/api/v1/services/{sid}/maintenance").json()["windows"] == []
    api.post("/v2/enqueue", json=trigger(paged_service["key"], "after-the-window"))
    after = [i for i in incidents(api, sid) if i["dedup_key"] == "after-the-window"][0]
    assert len(notifications(api, after["id"])) == 1  # paging again


def test_a_scheduled_window_is_listed_and_not_yet_active(api: httpx.Client, paged_service: dict[str, Any]) -> None:
    sid = paged_service["id"]
    start = datetime.now(timezone.utc) + timedelta(hours=1)
    created = api.post(f"/api/v1/services/{sid}/maintenance",
                       json={"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()})
    assert created.status_code == 201 and created.json()["active"] is False
    assert [w["id"] for w in api.get(f"/api/v1/services/{sid}/maintenance").json()["windows"]] == [created.json()["id"]]


@pytest.mark.parametrize("body, words", [
    ({}, "either minutes"),
    ({"minutes": 0}, "minutes"),
    ({"minutes": 5, "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-01T01:00:00Z"}, "either minutes"),
    ({"starts_at": "2030-01-01T01:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "after starts_at"),
    ({"starts_at": "2030-01-01T00:00:00", "ends_at": "2030-01-01T01:00:00"}, "offset"),
])
def test_bad_windows_are_refused_naming_the_problem(api: httpx.Client, paged_service: dict[str, Any],
                                                    body: dict[str, Any], words: str) -> None:
    response = api.post(f"/api/v1/services/{paged_service['id']}/maintenance", json=body)
    assert response.status_code == 422 and words in response.json()["message"]


def test_unknown_service_or_window_is_404(api: httpx.Client, paged_service: dict[str, Any]) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert api.post(f"/api/v1/services/{missing}/maintenance", json={"minutes": 5}).status_code == 404
    assert api.delete(f"/api/v1/services/{paged_service['id']}/maintenance/{missing}").status_code == 404


def test_past_the_cap_new_alerts_join_the_overflow_incident(api: httpx.Client, paged_service: dict[str, Any]) -> None:
    sid, key = paged_service["id"], paged_service["key"]
    patched = api.patch(f"/api/v1/services/{sid}", json={"max_unacknowledged": 2, "auto_resolve_minutes": 240})
    assert patched.status_code == 200 and patched.json()["max_unacknowledged"] == 2

    for dedup_key in ("one", "two", "three", "four"):
        assert api.post("/v2/enqueue", json=trigger(key, dedup_key)).status_code == 202

    by_key = {i["dedup_key"]: i for i in incidents(api, sid)}
    assert set(by_key) == {"one", "two", "tocsin:overflow"}
    overflow = by_key["tocsin:overflow"]
    assert overflow["occurrences"] == 2 and "More than 2 unacknowledged incidents on search-api" in overflow["summary"]
    assert len(notifications(api, overflow["id"])) == 1
    created = datetime.fromisoformat(by_key["one"]["last_occurrence_at"])
    assert datetime.fromisoformat(by_key["one"]["auto_resolve_at"]) == created + timedelta(minutes=240)

    assert api.patch(f"/api/v1/services/{sid}", json={"max_unacknowledged": 0}).status_code == 422
    assert api.patch(f"/api/v1/services/{sid}", json={"max_unacknowledged": None}).json()["max_unacknowledged"] is None


def test_an_integration_with_a_rate_limit_of_its_own_answers_429_past_it(
    api: httpx.Client, paged_service: dict[str, Any]
) -> None:
    sid = paged_service["id"]
    limited = api.post(f"/api/v1/services/{sid}/integrations",
                       json={"type": "pagerduty", "config": {"rate_limit_per_s": 0.5, "rate_limit_burst": 2}})
    assert limited.status_code == 201 and limited.json()["config"] == {"rate_limit_per_s": 0.5, "rate_limit_burst": 2}
    key = limited.json()["key"]

    answers = [api.post("/v2/enqueue", json=trigger(key, f"burst-{n}")).status_code for n in range(3)]

    assert answers == [202, 202, 429]
    refused = api.post("/v2/enqueue", json=trigger(key, "burst-3"))
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert api.post("/v2/enqueue", json=trigger(paged_service["key"], "other-key")).status_code == 202  # its own bucket
    keys = {i["dedup_key"] for i in incidents(api, sid)}
    assert {"burst-0", "burst-1"} <= keys and not {"burst-2", "burst-3"} & keys  # refused: nothing stored


def test_integration_options_are_checked_against_their_type(api: httpx.Client, paged_service: dict[str, Any]) -> None:
    sid = paged_service["id"]
    for body, field in (({"type": "pagerduty", "config": {"group_by": "group_key"}}, "config.group_by"),
                        ({"type": "alertmanager", "config": {"group_by": "labels"}}, "config.group_by"),
                        ({"type": "generic", "config": {"rate_limit_per_s": -1}}, "config.rate_limit_per_s")):
        response = api.post(f"/api/v1/services/{sid}/integrations", json=body)
        assert response.status_code == 422 and field in response.json()["message"], response.text
