"""Outbound requests and what their failures tell, over HTTP against `tocsin up` (which
allows loopback, where the tests' receivers listen, and no other internal network)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.client import create_user, trigger
from tests.e2e.accounts import logged_in, make_user, personal_token
from tests.fakes.http_receiver import HttpReceiver

HIDDEN = "not delivered (admins see why)"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as server:
        yield server


def as_user(tocsin: Any, api: httpx.Client, role: str) -> tuple[dict[str, Any], httpx.Client]:
    user = make_user(api, role)
    token = personal_token(tocsin.base_url, logged_in(tocsin.base_url, user))
    return user, httpx.Client(base_url=tocsin.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def settled(api: httpx.Client, method_id: str, timeout_s: float = 60) -> dict[str, Any]:
    """The verification notification of the contact method, once it is sent or dead."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = [n for n in api.get("/api/v1/notifications", params={"channel": "webhook", "limit": "500"}).json()[
            "notifications"] if n["contact_method_id"] == method_id]
        if rows and rows[0]["status"] in ("sent", "dead"):
            return api.get(f"/api/v1/notifications/{rows[0]['id']}").json()  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"the notification to {method_id} did not settle in {timeout_s} s")


def test_a_stored_internal_destination_is_refused_when_sent(api: httpx.Client, tocsin: Any, admin_token: str,
                                                           db: Callable[..., Any]) -> None:
    """A contact method stored before its address was checked (or moved in the database) is
    checked again when the request goes out: the metadata service is never called."""
    user = create_user(tocsin.base_url, admin_token, "Mallory")
    method_id = str(uuid.uuid4())
    db("execute", "INSERT INTO contact_methods (id, user_id, kind, address) VALUES ($1, $2, 'webhook', $3)",
       method_id, user["id"], "http://169.254.169.254/latest/meta-data/iam/security-credentials/")

    assert api.post(f"/api/v1/users/{user['id']}/contact-methods/{method_id}/verification").status_code == 202
    notification = settled(api, method_id)

    assert (notification["status"], notification["last_error"]) == ("dead", "webhook: destination not allowed")
    assert [(a["outcome"], a["error"]) for a in notification["delivery_attempts"]] == [
        ("rejected", "webhook: destination not allowed")]


def test_only_admins_read_what_a_destination_answered(api: httpx.Client, tocsin: Any, receiver: HttpReceiver) -> None:
    """A responder's own webhook answers 404 with a page of its own: the responder (and a
    viewer) learn that the webhook provider did not deliver, not what the server said or
    where it is."""
    receiver.respond(404, "<h1>internal admin console</h1>")
    responder, as_responder = as_user(tocsin, api, "responder")
    _, as_viewer = as_user(tocsin, api, "viewer")
    with as_responder, as_viewer:
        created = as_responder.post(f"/api/v1/users/{responder['id']}/contact-methods",
                                    json={"kind": "webhook", "address": f"{receiver.url}/hook"})
        assert created.status_code == 201, created.text
        method_id = created.json()["id"]
        assert as_responder.post(f"/api/v1/users/{responder['id']}/contact-methods/{method_id}/verification"
                                 ).status_code == 202

        whole = settled(api, method_id)
        host = "127.0.0.1"
        assert whole["last_error"] == f"webhook: HTTP 404 from {host}"
        assert [a["error"] for a in whole["delivery_attempts"]] == [f"webhook: HTTP 404 from {host}"]

        for client in (as_responder, as_viewer):
            one = client.get(f"/api/v1/notifications/{whole['id']}").json()
            listed = [n for n in client.get("/api/v1/notifications", params={"status": "dead", "limit": "500"}).json()[
                "notifications"] if n["id"] == whole["id"]]
            assert one["last_error"] == f"webhook: {HIDDEN}"
            assert [a["error"] for a in one["delivery_attempts"]] == [f"webhook: {HIDDEN}"]
            assert [n["last_error"] for n in listed] == [f"webhook: {HIDDEN}"]
            # latency_ms is a measured number, whose digits may hold "404" by chance
            said = [{k: v for k, v in a.items() if k != "latency_ms"} for a in one["delivery_attempts"]]
            assert host not in str(one) and "404" not in str(said)


def test_an_incidents_notifications_hide_errors_from_non_admins(api: httpx.Client, tocsin: Any, anonymous: httpx.Client,
                                                                new_service: Any, db: Callable[..., Any]) -> None:
    service = new_service("destinations")
    assert anonymous.post("/v2/enqueue", json=trigger(service.key, "db1")).status_code == 202
    [incident] = api.get("/api/v1/incidents", params={"service_id": service.id}).json()["incidents"]
    user = create_user(tocsin.base_url, api.headers["Authorization"].removeprefix("Bearer "), "Erin")
    method_id = str(uuid.uuid4())
    db("execute", "INSERT INTO contact_methods (id, user_id, kind, address, verified)"
                  " VALUES ($1, $2, 'webhook', 'https://hooks.example.com/erin', true)", method_id, user["id"])
    error = "webhook: ConnectError reaching 10.20.30.40:8443"
    db("execute", "INSERT INTO notifications (incident_id, service_id, page, level, pass, user_id, contact_method_id,"
                  " channel, delay_minutes, urgency, message, send_at, status, attempts, last_error, created_at,"
                  " updated_at) VALUES ($1, $2, 1, 0, 0, $3, $4, 'webhook', 0, 'high', 'db1', now(), 'dead', 6, $5,"
                  " now(), now())", incident["id"], service.id, user["id"], method_id, error)
    _, as_viewer = as_user(tocsin, api, "viewer")
    with as_viewer:
        seen = as_viewer.get(f"/api/v1/incidents/{incident['id']}/notifications")
    assert seen.status_code == 200, seen.text

    assert [n["last_error"] for n in seen.json()["notifications"]] == [f"webhook: {HIDDEN}"]
    whole = api.get(f"/api/v1/incidents/{incident['id']}/notifications").json()["notifications"]
    assert [n["last_error"] for n in whole] == [error]
