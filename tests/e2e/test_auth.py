"""Admin routes: 401 without a token, 403 with a wrong one."""

from __future__ import annotations

import uuid

import pytest

SOME_ID = str(uuid.uuid4())

ADMIN_ROUTES = [
    ("POST", f"/api/v1/services/{SOME_ID}/maintenance"),
    ("GET", f"/api/v1/services/{SOME_ID}/maintenance"),
    ("DELETE", f"/api/v1/services/{SOME_ID}/maintenance/{SOME_ID}"),
    ("GET", "/api/v1/channels"),
    ("GET", "/api/v1/notifications"),
    ("GET", "/api/v1/notifications/1"),
    ("POST", "/api/v1/notifications/1/retry"),
    ("POST", "/api/v1/incidents/1/escalate"),
    ("POST", "/api/v1/incidents/1/snooze"),
    ("POST", "/api/v1/incidents/1/reassign"),
    ("GET", "/api/v1/incidents/1/notifications"),
    ("GET", "/api/v1/services"),
    ("POST", "/api/v1/services"),
    ("GET", f"/api/v1/services/{SOME_ID}"),
    ("PATCH", f"/api/v1/services/{SOME_ID}"),
    ("DELETE", f"/api/v1/services/{SOME_ID}"),
    ("POST", f"/api/v1/services/{SOME_ID}/integrations"),
    ("GET", f"/api/v1/services/{SOME_ID}/integrations"),
    ("DELETE", f"/api/v1/services/{SOME_ID}/integrations/{SOME_ID}"),
    ("POST", f"/api/v1/services/{SOME_ID}/heartbeats"),
    ("GET", f"/api/v1/services/{SOME_ID}/heartbeats"),
    ("GET", f"/api/v1/heartbeats/{SOME_ID}"),
    ("PATCH", f"/api/v1/heartbeats/{SOME_ID}"),
    ("DELETE", f"/api/v1/heartbeats/{SOME_ID}"),
    ("GET", "/api/v1/incidents"),
    ("GET", "/api/v1/incidents/1"),
    ("POST", "/api/v1/incidents/1/acknowledge"),
    ("POST", "/api/v1/incidents/1/resolve"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", f"/api/v1/users/{SOME_ID}"),
    ("PATCH", f"/api/v1/users/{SOME_ID}"),
    ("DELETE", f"/api/v1/users/{SOME_ID}"),
    ("POST", f"/api/v1/users/{SOME_ID}/contact-methods"),
    ("GET", f"/api/v1/users/{SOME_ID}/contact-methods"),
    ("PATCH", f"/api/v1/users/{SOME_ID}/contact-methods/{SOME_ID}"),
    ("DELETE", f"/api/v1/users/{SOME_ID}/contact-methods/{SOME_ID}"),
    ("POST", f"/api/v1/users/{SOME_ID}/contact-methods/{SOME_ID}/verification"),
    ("POST", f"/api/v1/users/{SOME_ID}/contact-methods/{SOME_ID}/verify"),
    ("POST", f"/api/v1/users/{SOME_ID}/notification-rules"),
    ("GET", f"/api/v1/users/{SOME_ID}/notification-rules"),
    ("DELETE", f"/api/v1/users/{SOME_ID}/notification-rules/{SOME_ID}"),
    ("GET", "/api/v1/escalation-policies"),
    ("POST", "/api/v1/escalation-policies"),
    ("GET", f"/api/v1/escalation-policies/{SOME_ID}"),
    ("PUT", f"/api/v1/escalation-policies/{SOME_ID}"),
    ("DELETE", f"/api/v1/escalation-policies/{SOME_ID}"),
    ("GET", "/api/v1/schedules"),
    ("POST", "/api/v1/schedules"),
    ("GET", f"/api/v1/schedules/{SOME_ID}"),
    ("PUT", f"/api/v1/schedules/{SOME_ID}"),
    ("DELETE", f"/api/v1/schedules/{SOME_ID}"),
    ("POST", f"/api/v1/schedules/{SOME_ID}/overrides"),
    ("GET", f"/api/v1/schedules/{SOME_ID}/overrides"),
    ("DELETE", f"/api/v1/schedules/{SOME_ID}/overrides/{SOME_ID}"),
    ("GET", f"/api/v1/schedules/{SOME_ID}/oncall"),
    ("GET", f"/api/v1/schedules/{SOME_ID}/shifts"),
    ("GET", "/api/v1/oncall"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_no_token_is_401(anonymous, method, path):
    response = anonymous.request(method, path, json={"name": "x"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_wrong_token_is_403(anonymous, method, path):
    response = anonymous.request(method, path, json={"name": "x"}, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 403


def test_ingestion_needs_no_token_but_a_routing_key(anonymous):
    response = anonymous.post("/v2/enqueue", json={"routing_key": "x" * 32, "event_action": "trigger",
                                                    "payload": {"summary": "s", "source": "s", "severity": "info"}})
    assert response.status_code == 400


@pytest.mark.parametrize("path", [f"/api/v1/schedules/{SOME_ID}/oncall.ics", f"/api/v1/users/{SOME_ID}/oncall.ics"])
def test_calendar_feeds_open_with_their_token_not_the_admin_bearer(api, path):
    assert api.get(path).status_code == 401
    assert api.get(path, params={"token": "nope"}).status_code == 404
