"""Delivery as operators see it over HTTP: channels and breakers, dead notifications, retry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tocsin.actors.domain.channels import CHANNELS
from tests.e2e.accounts import logged_in, make_user, personal_token

# No provider is configured for push in the test deployment: its rows stay where they are.
CHANNEL = "push"


def dead_notification(db: Callable[..., Any], error: str = "sns answered 500") -> int:
    user, method = str(uuid.uuid4()), str(uuid.uuid4())
    db("execute", "INSERT INTO users (id, name, email, calendar_token) VALUES ($1, 'Erin', $2, 'feed')",
       user, f"erin.{user[:8]}@example.com")
    db("execute", "INSERT INTO contact_methods (id, user_id, kind, address, verified)"
                  " VALUES ($1, $2, 'push', 'arn:aws:sns:us-east-1:1:endpoint/GCM/app/1', true)", method, user)
    notification_id: int = db("fetchval", """
        INSERT INTO notifications (user_id, contact_method_id, channel, delay_minutes, urgency, message, send_at,
                                   status, attempts, last_error, created_at, updated_at)
        VALUES ($1, $2, 'push', 0, 'high', 'db1 down', now(), 'dead', 6, $3, now(), now()) RETURNING id""",
        user, method, error)
    db("execute", "INSERT INTO notification_attempts (notification_id, provider, at, outcome, error)"
                  " VALUES ($1, 'sns', now(), 'failed', $2)", notification_id, error)
    return notification_id


def test_channels_list_every_kind_with_its_providers_and_counts(api: httpx.Client, db: Callable[..., Any]) -> None:
    dead_notification(db)

    channels = {c["channel"]: c for c in api.get("/api/v1/channels").json()["channels"]}

    assert set(channels) == set(CHANNELS)
    push = channels[CHANNEL]
    assert push["running"] is False and "no provider" in push["note"]
    assert push["notifications"]["dead"] >= 1


def test_dead_notifications_are_listed_with_their_last_error_and_attempts(api: httpx.Client,
                                                                          db: Callable[..., Any]) -> None:
    notification_id = dead_notification(db, "sns: endpoint disabled")

    listed = api.get("/api/v1/notifications", params={"status": "dead", "channel": CHANNEL}).json()["notifications"]
    [row] = [n for n in listed if n["id"] == notification_id]
    assert (row["status"], row["last_error"], row["user_name"]) == ("dead", "sns: endpoint disabled", "Erin")

    detail = api.get(f"/api/v1/notifications/{notification_id}").json()
    assert [(a["provider"], a["outcome"]) for a in detail["delivery_attempts"]] == [("sns", "failed")]


def test_a_dead_notification_is_retried_and_only_a_dead_one(api: httpx.Client, db: Callable[..., Any]) -> None:
    notification_id = dead_notification(db)

    retried = api.post(f"/api/v1/notifications/{notification_id}/retry")

    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    again = api.post(f"/api/v1/notifications/{notification_id}/retry")
    assert again.status_code == 409 and "only a dead one" in again.json()["message"]
    assert api.post("/api/v1/notifications/999999999/retry").status_code == 404


def test_bad_filters_are_refused_with_the_field_named(api: httpx.Client) -> None:
    for params, field in (({"status": "lost"}, "status"), ({"channel": "pigeon"}, "channel"),
                          ({"limit": "0"}, "limit")):
        response = api.get("/api/v1/notifications", params=params)
        assert response.status_code == 422 and field in response.json()["message"]


def test_where_each_channel_actor_runs_is_for_admins(api: httpx.Client, tocsin: Any) -> None:
    viewer = make_user(api, "viewer")
    token = personal_token(tocsin.base_url, logged_in(tocsin.base_url, viewer))
    seen = httpx.get(f"{tocsin.base_url}/api/v1/channels", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert seen.status_code == 200, seen.text
    running = [c for c in seen.json()["channels"] if c["running"]]
    assert running, seen.text  # the test deployment runs the sms and email actors at least
    assert all("pid" not in c and "node_id" not in c for c in seen.json()["channels"]), seen.text
    assert all("pid" in c and "node_id" in c for c in api.get("/api/v1/channels").json()["channels"] if c["running"])
