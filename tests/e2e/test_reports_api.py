"""On-call health reports over HTTP, from real incidents: opened by PagerDuty events, paging a
person through a webhook contact method that a local receiver answers, acknowledged, noted and
resolved through the API or by the source; then read as JSON and as CSV."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.client import create_user, trigger
from tests.e2e.accounts import logged_in, make_user, personal_token
from tests.e2e.conftest import refused
from tests.fakes.http_receiver import HttpReceiver

ZONE = "Pacific/Auckland"


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as server:
        yield server


@pytest.fixture(scope="module")
def paged(api: httpx.Client, tocsin: Any, admin_token: str, receiver: HttpReceiver) -> dict[str, Any]:
    """A service whose one escalation level pages Rita (Pacific/Auckland) by webhook at once,
    and three incidents of it:

    - "disk" #1: paged, acknowledged by Rita, then resolved by the source: no action between;
    - "disk" #2: paged, acknowledged, a note, resolved by Rita;
    - "cpu": paged, resolved by the source, never acknowledged.
    """
    rita = create_user(tocsin.base_url, admin_token, "Rita", time_zone=ZONE)
    method = created(api, f"/api/v1/users/{rita['id']}/contact-methods",
                     {"kind": "webhook", "address": f"{receiver.url}/rita", "verified": True})
    created(api, f"/api/v1/users/{rita['id']}/notification-rules",
            {"contact_method_id": method["id"], "urgency": "high", "delay_minutes": 0})
    policy = created(api, "/api/v1/escalation-policies", {"name": f"reports {uuid.uuid4().hex[:6]}", "levels": [
        {"delay_minutes": 30, "targets": [{"type": "user", "id": rita["id"]}]}]})
    service = created(api, "/api/v1/services", {"name": "reports-checkout", "escalation_policy_id": policy["id"]})
    key = created(api, f"/api/v1/services/{service['id']}/integrations", {"type": "pagerduty"})["key"]

    first = open_and_page(api, service["id"], key, "disk")
    act(api, first, "acknowledge")
    send(api, {"routing_key": key, "event_action": "resolve", "dedup_key": "disk"})
    second = open_and_page(api, service["id"], key, "disk")
    act(api, second, "acknowledge")
    assert api.post(f"/api/v1/incidents/{second}/notes", json={"text": "rotated the logs"}).status_code == 201
    act(api, second, "resolve")
    third = open_and_page(api, service["id"], key, "cpu")
    send(api, {"routing_key": key, "event_action": "resolve", "dedup_key": "cpu"})
    return {"service": service, "rita": rita, "incidents": [first, second, third]}


def created(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def send(api: httpx.Client, event: dict[str, Any]) -> None:
    response = api.post("/v2/enqueue", json=event)
    assert response.status_code == 202, response.text


def act(api: httpx.Client, incident_id: int, action: str) -> None:
    response = api.post(f"/api/v1/incidents/{incident_id}/{action}")
    assert response.status_code == 200, response.text


def open_and_page(api: httpx.Client, service_id: str, key: str, dedup_key: str, timeout_s: float = 60) -> int:
    """Open an incident and wait until its page has reached the receiver; its id."""
    send(api, trigger(key, dedup_key, summary=f"{dedup_key} alarm"))
    [incident] = api.get("/api/v1/incidents", params={"service_id": service_id, "status": "triggered"}).json()[
        "incidents"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = api.get(f"/api/v1/incidents/{incident['id']}/notifications").json()["notifications"]
        if rows and all(row["status"] == "sent" for row in rows):
            return int(incident["id"])
        time.sleep(0.2)
    raise AssertionError(f"incident {incident['id']}'s page was not sent in {timeout_s} s: {rows}")


def report_params(paged: dict[str, Any]) -> dict[str, str]:
    now = datetime.now(timezone.utc)
    return {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(minutes=5)).isoformat(),
            "service_id": paged["service"]["id"]}


def seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def test_the_report_counts_the_incidents_their_pages_and_how_they_were_answered(
        api: httpx.Client, paged: dict[str, Any]) -> None:
    response = api.get("/api/v1/reports", params=report_params(paged))
    assert response.status_code == 200, response.text
    report = response.json()
    totals = report["totals"]
    assert (totals["incidents"], totals["resolved"], totals["open"]) == (3, 3, 0)
    assert (totals["acknowledged_by_person"], totals["acknowledged_by_source"]) == (2, 0)
    assert totals["acknowledged_without_action"] == 1  # the first: acknowledged, then resolved by the source
    assert totals["pages"] == 3

    details = [api.get(f"/api/v1/incidents/{i}").json() for i in paged["incidents"]]
    to_acknowledge = sorted(seconds(d["created_at"], d["acknowledged_at"]) for d in details[:2])
    to_resolve = sorted(seconds(d["created_at"], d["resolved_at"]) for d in details)
    # Nearest rank: of two, the median is the first (rank ceil(1.0) = 1), p90 the second (rank ceil(1.8) = 2);
    # of three, the median is the second (rank ceil(1.5) = 2) and p90 the third (rank ceil(2.7) = 3).
    assert totals["mtta"]["count"] == 2
    assert totals["mtta"]["median_s"] == pytest.approx(to_acknowledge[0])
    assert totals["mtta"]["p90_s"] == pytest.approx(to_acknowledge[1])
    assert (totals["mttr"]["median_s"], totals["mttr"]["p90_s"]) == pytest.approx((to_resolve[1], to_resolve[2]))
    assert sum(bucket["count"] for bucket in totals["mtta"]["buckets"]) == 2

    [person] = report["people"]
    assert (person["user_id"], person["name"], person["time_zone"]) == (paged["rita"]["id"], "Rita", ZONE)
    assert (person["pages"], person["incidents"]) == (3, 3)
    sent = [n["sent_at"] for i in paged["incidents"]
            for n in api.get(f"/api/v1/incidents/{i}/notifications").json()["notifications"]]
    local = [datetime.fromisoformat(at).astimezone(ZoneInfo(ZONE)) for at in sent]
    assert person["night_pages"] == sum(1 for t in local if t.hour >= 22 or t.hour < 7)
    assert person["weekend_pages"] == sum(1 for t in local if t.weekday() >= 5)

    [service] = report["services"]
    assert (service["service_id"], service["name"], service["incidents"]) == (
        paged["service"]["id"], "reports-checkout", 3)
    assert [(a["dedup_key"], a["incidents"], a["pages"], a["acknowledged_without_action"], a["summary"])
            for a in report["alerts"]] == [("disk", 2, 2, 1, "disk alarm"), ("cpu", 1, 1, 0, "cpu alarm")]
    assert report["rules"] == []


def test_each_table_comes_as_csv_with_its_header(api: httpx.Client, paged: dict[str, Any]) -> None:
    params = report_params(paged)

    def table(name: str) -> list[dict[str, str]]:
        response = api.get(f"/api/v1/reports/{name}.csv", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert f'filename="tocsin-{name}-' in response.headers["content-disposition"]
        return list(csv.DictReader(io.StringIO(response.text)))

    everything, service = table("services")
    assert (everything["service_name"], everything["incidents"], everything["pages"]) == ("all", "3", "3")
    assert (service["service_id"], service["acknowledged_without_action"]) == (paged["service"]["id"], "1")
    assert float(service["mtta_median_s"]) > 0 and service["mtta_count"] == "2"
    [person] = table("people")
    assert (person["name"], person["pages"], person["time_zone"]) == ("Rita", "3", ZONE)
    assert [(a["dedup_key"], a["incidents"]) for a in table("alerts")] == [("disk", "2"), ("cpu", "1")]
    assert table("rules") == []
    rows = table("incidents")
    assert [int(r["incident_id"]) for r in rows] == paged["incidents"]
    assert [r["acknowledged_by_person"] for r in rows] == ["true", "true", "false"]
    assert [r["acknowledged_without_action"] for r in rows] == ["true", "false", "false"]
    assert rows[2]["time_to_acknowledge_s"] == "" and float(rows[2]["time_to_resolve_s"]) > 0


def test_a_viewer_reads_reports(api: httpx.Client, tocsin: Any, paged: dict[str, Any]) -> None:
    viewer = make_user(api, "viewer")
    token = personal_token(tocsin.base_url, logged_in(tocsin.base_url, viewer))
    with httpx.Client(base_url=tocsin.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        assert client.get("/api/v1/reports", params=report_params(paged)).json()["totals"]["incidents"] == 3
        assert client.get("/api/v1/reports/people.csv", params=report_params(paged)).status_code == 200


def test_periods_and_filters_that_cannot_be_reported_are_refused(api: httpx.Client, paged: dict[str, Any]) -> None:
    refused(api.get("/api/v1/reports", params={"from": "2026-03-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}),
            400, "after from")
    refused(api.get("/api/v1/reports", params={"from": "2025-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}),
            400, "366 days")
    refused(api.get("/api/v1/reports", params={"from": "2026-03-01T00:00:00"}), 400, "from", "UTC offset")
    refused(api.get("/api/v1/reports", params={"service_id": str(uuid.uuid4())}), 404, "no service")
    refused(api.get("/api/v1/reports", params={"team_id": str(uuid.uuid4())}), 404, "no team")
    assert api.get("/api/v1/reports/secrets.csv").status_code == 422
    assert api.get("/api/v1/reports", params={"top": "0"}).status_code == 422


def test_a_teams_report_holds_the_services_it_owns_and_no_others(api: httpx.Client, paged: dict[str, Any]) -> None:
    team = created(api, "/api/v1/teams", {"name": f"reports-{uuid.uuid4().hex[:6]}"})
    period = {key: value for key, value in report_params(paged).items() if key != "service_id"}
    empty = api.get("/api/v1/reports", params={**period, "team_id": team["id"]})
    moved = api.patch(f"/api/v1/services/{paged['service']['id']}", json={"team_id": team["id"]})
    owned = api.get("/api/v1/reports", params={**period, "team_id": team["id"]})

    assert moved.status_code == 200, moved.text
    assert (empty.status_code, empty.json()["totals"]["incidents"], empty.json()["services"]) == (200, 0, [])
    assert owned.status_code == 200, owned.text
    assert [(s["service_id"], s["incidents"]) for s in owned.json()["services"]] == [(paged["service"]["id"], 3)]


def test_a_period_before_the_incidents_is_empty(api: httpx.Client, paged: dict[str, Any]) -> None:
    report = api.get("/api/v1/reports", params={"to": "2020-01-01T00:00:00Z", "service_id": paged["service"]["id"]})
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["from"].startswith("2019-12-02") and body["totals"]["incidents"] == 0
    assert body["totals"]["mtta"]["median_s"] is None and body["people"] == []
