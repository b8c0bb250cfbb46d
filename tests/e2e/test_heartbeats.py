"""Heartbeat monitors over HTTP against `tocsin up`: the deployment's own monitor raises a
missed deadline, and a ping resolves it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from tests.e2e.conftest import incidents_of, refused


def create(api: httpx.Client, service_id: str, **fields: Any) -> dict[str, Any]:
    response = api.post(f"/api/v1/services/{service_id}/heartbeats",
                        json={"name": "nightly-backup", "interval_seconds": 600, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def ping_path(beat: dict[str, Any]) -> str:
    return f"/api/v1/heartbeats/{beat['key']}/ping"


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_create_read_list_change_and_delete(api: httpx.Client, anonymous: httpx.Client, new_service: Any) -> None:
    service = new_service("backups")
    beat = create(api, service.id, grace_seconds=120)
    assert len(beat["key"]) == 32 and beat["service_id"] == service.id
    assert beat["ping_url"].startswith("http") and beat["ping_url"].endswith(ping_path(beat))
    assert (beat["state"], beat["last_ping_at"], beat["expires_at"]) == ("inactive", None, None)
    assert (beat["interval_seconds"], beat["grace_seconds"]) == (600, 120)
    assert create(api, service.id, name="hourly")["grace_seconds"] == 60  # the default

    assert api.get(f"/api/v1/heartbeats/{beat['id']}").json() == beat
    listed = api.get(f"/api/v1/services/{service.id}/heartbeats").json()["heartbeats"]
    assert [b["name"] for b in listed] == ["nightly-backup", "hourly"]

    changed = api.patch(f"/api/v1/heartbeats/{beat['id']}", json={"name": "weekly-backup"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == beat | {"name": "weekly-backup"}

    assert api.delete(f"/api/v1/heartbeats/{beat['id']}").status_code == 204
    assert api.get(f"/api/v1/heartbeats/{beat['id']}").status_code == 404
    assert api.delete(f"/api/v1/heartbeats/{beat['id']}").status_code == 404
    assert anonymous.post(ping_path(beat)).status_code == 404  # its key is gone with it

    other = create(api, service.id, name="gone-with-its-service")
    assert api.delete(f"/api/v1/services/{service.id}").status_code == 204
    assert api.get(f"/api/v1/heartbeats/{other['id']}").status_code == 404


def test_a_ping_needs_only_the_key_and_moves_the_deadline(
    api: httpx.Client, anonymous: httpx.Client, new_service: Any
) -> None:
    beat = create(api, new_service("cron").id, interval_seconds=300, grace_seconds=30)
    before = datetime.now(timezone.utc)
    first = anonymous.post(ping_path(beat))
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "ok"
    expires_at = instant(first.json()["expires_at"])
    assert before + timedelta(seconds=330) <= expires_at <= datetime.now(timezone.utc) + timedelta(seconds=330)

    seen = api.get(f"/api/v1/heartbeats/{beat['id']}").json()
    assert seen["state"] == "healthy"
    assert instant(seen["expires_at"]) == expires_at
    assert instant(seen["expires_at"]) - instant(seen["last_ping_at"]) == timedelta(seconds=330)

    time.sleep(0.05)
    again = anonymous.get(ping_path(beat))  # GET pings too, for the simplest of cron jobs
    assert again.status_code == 200, again.text
    assert instant(again.json()["expires_at"]) > expires_at

    # A longer interval moves the deadline of a healthy heartbeat at once, from its last ping.
    longer = api.patch(f"/api/v1/heartbeats/{beat['id']}", json={"interval_seconds": 900}).json()
    assert instant(longer["expires_at"]) - instant(longer["last_ping_at"]) == timedelta(seconds=930)


def test_a_missed_deadline_opens_an_incident_and_the_next_ping_resolves_it(
    api: httpx.Client, anonymous: httpx.Client, new_service: Any, db: Callable[..., Any]
) -> None:
    service = new_service("nightly-jobs")
    beat = create(api, service.id)
    assert anonymous.post(ping_path(beat)).status_code == 200
    assert incidents_of(api, service.id) == []

    db("execute", "UPDATE heartbeats SET expires_at = now() - interval '1 second' WHERE id = $1::uuid", beat["id"])
    deadline = time.monotonic() + 10
    while not incidents_of(api, service.id) and time.monotonic() < deadline:
        time.sleep(0.2)
    [incident] = incidents_of(api, service.id)  # the deployment's monitor raised it
    assert (incident["status"], incident["severity"], incident["dedup_key"]) == (
        "triggered", "critical", f"heartbeat:{beat['id']}")
    assert incident["summary"].startswith("Heartbeat nightly-backup missed: no ping since ")
    assert api.get(f"/api/v1/heartbeats/{beat['id']}").json()["state"] == "unhealthy"

    time.sleep(2.5)  # further monitor rounds: the expiry was raised once
    assert len(incidents_of(api, service.id)) == 1

    pinged = anonymous.post(ping_path(beat))
    assert pinged.status_code == 200, pinged.text
    # The answer came once the resolve was durable: it shows at once.
    assert [i["status"] for i in incidents_of(api, service.id)] == ["resolved"]
    assert api.get(f"/api/v1/heartbeats/{beat['id']}").json()["state"] == "healthy"


def test_an_unknown_key_is_404(anonymous: httpx.Client) -> None:
    refused(anonymous.post(f"/api/v1/heartbeats/{uuid.uuid4().hex}/ping"), 404, "no heartbeat")
    refused(anonymous.get("/api/v1/heartbeats/short/ping"), 404, "no heartbeat")


def test_bad_input_is_refused_naming_the_field(api: httpx.Client, new_service: Any) -> None:
    service = new_service("validation")
    path = f"/api/v1/services/{service.id}/heartbeats"
    refused(api.post(path, json={"name": "x", "interval_seconds": 9}), 422, "interval_seconds")
    refused(api.post(path, json={"name": "x", "interval_seconds": 86_401}), 422, "interval_seconds")
    refused(api.post(path, json={"name": "x", "interval_seconds": 60, "grace_seconds": -1}), 422, "grace_seconds")
    refused(api.post(path, json={"interval_seconds": 60}), 422, "name")
    refused(api.post(path, json={"name": "x", "interval_minutes": 5}), 422, "interval_minutes")
    refused(api.post(f"/api/v1/services/{uuid.uuid4()}/heartbeats", json={"name": "x", "interval_seconds": 60}),
            404, "no service")
    refused(api.get(f"/api/v1/services/{uuid.uuid4()}/heartbeats"), 404, "no service")
    refused(api.get("/api/v1/heartbeats/not-an-id"), 422, "heartbeat_id")

    beat = create(api, service.id)
    refused(api.patch(f"/api/v1/heartbeats/{beat['id']}", json={"interval_seconds": 0}), 422, "interval_seconds")
    refused(api.patch(f"/api/v1/heartbeats/{beat['id']}", json={"key": "mine"}), 422, "key")
    refused(api.patch(f"/api/v1/heartbeats/{uuid.uuid4()}", json={"name": "y"}), 404, "no heartbeat")
    assert api.get(f"/api/v1/heartbeats/{beat['id']}").json() == beat  # nothing changed
