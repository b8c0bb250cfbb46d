"""Who gets paged, over HTTP: people, rules, a schedule and a policy set up through the API,
then incidents paging them, escalating, snoozing, reassigning, and cancelling what is pending."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.client import create_user, trigger


class Team:
    """Alice answers first (push now, e-mail after 5 minutes); Bob is the schedule's on-call.

    Push and e-mail have no provider in the test deployment, so what the engine writes to the
    outbox stays there to be looked at (delivery has tests of its own)."""

    def __init__(self, api: httpx.Client, tocsin: Any, admin_token: str) -> None:
        self.api = api
        self.alice = create_user(tocsin.base_url, admin_token, "Alice")
        self.bob = create_user(tocsin.base_url, admin_token, "Bob")
        self.alice_push = self.method(self.alice, "push", "arn:aws:sns:us-east-1:123456789012:endpoint/APNS/t/alice")
        self.alice_email = self.method(self.alice, "email", "alice@example.com")
        self.bob_push = self.method(self.bob, "push", "arn:aws:sns:us-east-1:123456789012:endpoint/APNS/t/bob")
        self.rule(self.alice, self.alice_push, 0)
        self.rule(self.alice, self.alice_email, 5)
        self.rule(self.bob, self.bob_push, 0)
        self.rule(self.bob, self.bob_push, 0, urgency="low")
        week_ago = (datetime.now(timezone.utc) - timedelta(days=7)).isoformat()
        self.schedule = self.created("/api/v1/schedules", {
            "name": "Primary", "time_zone": "Europe/Berlin",
            "layers": [{"name": "weekly", "rotation": {"participants": [self.bob["id"]], "start": week_ago,
                                                       "shift_length": 1, "unit": "weeks", "handoff": "09:00"}}],
        })
        self.policy = self.created("/api/v1/escalation-policies", {"name": "checkout", "levels": [
            {"delay_minutes": 10, "targets": [{"type": "user", "id": self.alice["id"]}]},
            {"delay_minutes": 10, "targets": [{"type": "schedule", "id": self.schedule["id"]}]},
        ]})

    def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def method(self, user: dict[str, Any], kind: str, address: str) -> dict[str, Any]:
        return self.created(f"/api/v1/users/{user['id']}/contact-methods",
                            {"kind": kind, "address": address, "verified": True})

    def rule(self, user: dict[str, Any], method: dict[str, Any], delay: int, urgency: str = "high") -> None:
        self.created(f"/api/v1/users/{user['id']}/notification-rules",
                     {"contact_method_id": method["id"], "urgency": urgency, "delay_minutes": delay})

    def service(self, urgency: str = "high") -> tuple[str, str]:
        service = self.created("/api/v1/services", {"name": "checkout", "urgency": urgency,
                                                     "escalation_policy_id": self.policy["id"]})
        integration = self.created(f"/api/v1/services/{service['id']}/integrations", {"type": "pagerduty"})
        return service["id"], integration["key"]

    def open_incident(self, urgency: str = "high", severity: str = "critical") -> dict[str, Any]:
        service_id, key = self.service(urgency)
        response = self.api.post("/v2/enqueue", json=trigger(key, "checkout-5xx", severity=severity))
        assert response.status_code == 202, response.text
        [incident] = self.api.get("/api/v1/incidents", params={"service_id": service_id}).json()["incidents"]
        return incident  # type: ignore[no-any-return]

    def notifications(self, incident: dict[str, Any]) -> list[tuple[str, str, int, int, str]]:
        response = self.api.get(f"/api/v1/incidents/{incident['id']}/notifications")
        assert response.status_code == 200, response.text
        return [(n["user_name"], n["channel"], n["level"], n["delay_minutes"], n["status"])
                for n in response.json()["notifications"]]

    def act(self, incident: dict[str, Any], action: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.api.post(f"/api/v1/incidents/{incident['id']}/{action}", json=body)

    def timeline(self, incident: dict[str, Any]) -> list[tuple[str, str]]:
        detail = self.api.get(f"/api/v1/incidents/{incident['id']}").json()
        return [(e["kind"], e["message"]) for e in detail["timeline"]]


@pytest.fixture
def team(api: httpx.Client, tocsin: Any, admin_token: str) -> Team:
    return Team(api, tocsin, admin_token)


def test_a_new_incident_pages_level_one_by_each_notification_rule(team: Team) -> None:
    incident = team.open_incident()

    assert team.notifications(incident) == [("Alice", "push", 1, 0, "pending"), ("Alice", "email", 1, 5, "pending")]
    assert (incident["escalation_level"], incident["urgency"]) == (1, "high")
    opened = datetime.fromisoformat(incident["created_at"])
    assert datetime.fromisoformat(incident["next_escalation_at"]) == opened + timedelta(minutes=10)
    assert ("paged", "paged level 1: Alice (push now, email in 5 min)") in team.timeline(incident)


def test_escalate_pages_whoever_is_on_call_and_acknowledge_cancels_what_is_pending(team: Team) -> None:
    incident = team.open_incident()

    escalated = team.act(incident, "escalate")
    assert escalated.status_code == 200, escalated.text
    assert escalated.json()["escalation_level"] == 2
    assert ("Bob", "push", 2, 0, "pending") in team.notifications(incident)

    assert team.act(incident, "acknowledge").json()["status"] == "acknowledged"
    assert {n[4] for n in team.notifications(incident)} == {"cancelled"}
    assert team.api.get(f"/api/v1/incidents/{incident['id']}").json()["next_escalation_at"] is None
    kinds = [kind for kind, _ in team.timeline(incident)]
    assert kinds == ["triggered", "paged", "escalated", "paged", "acknowledged"]


def test_an_override_is_visible_to_the_next_page(team: Team) -> None:
    incident = team.open_incident()
    now = datetime.now(timezone.utc)
    team.created(f"/api/v1/schedules/{team.schedule['id']}/overrides", {
        "user_id": team.alice["id"], "start": (now - timedelta(minutes=1)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat()})

    assert team.act(incident, "escalate", {"escalation_level": 2}).status_code == 200

    level_two = [n for n in team.notifications(incident) if n[2] == 2]
    assert [n[0] for n in level_two] == ["Alice", "Alice"]  # covering for Bob, by her own rules


def test_snooze_acknowledges_until_it_runs_out(team: Team) -> None:
    incident = team.open_incident()

    snoozed = team.act(incident, "snooze", {"minutes": 30}).json()

    assert snoozed["status"] == "acknowledged"
    until = datetime.fromisoformat(snoozed["snoozed_until"])
    assert timedelta(minutes=29) < until - datetime.now(timezone.utc) <= timedelta(minutes=30)
    assert {n[4] for n in team.notifications(incident)} == {"cancelled"}
    assert team.timeline(incident)[-1][0] == "snoozed"


def test_reassign_to_a_person_pages_them_and_retriggers(team: Team) -> None:
    incident = team.open_incident()
    team.act(incident, "acknowledge")

    reassigned = team.act(incident, "reassign", {"user_id": team.bob["id"]})

    assert reassigned.status_code == 200, reassigned.text
    body = reassigned.json()
    assert (body["status"], body["assigned_user_id"]) == ("triggered", team.bob["id"])
    assert team.notifications(incident)[-1] == ("Bob", "push", 1, 0, "pending")


def test_urgency_by_severity_uses_the_low_urgency_rules(team: Team) -> None:
    incident = team.open_incident(urgency="severity", severity="warning")
    assert incident["urgency"] == "low"

    team.act(incident, "escalate")

    # Alice has no low-urgency rules: every verified contact method at once, and the log says so.
    assert sorted(team.notifications(incident)) == [
        ("Alice", "email", 1, 0, "pending"), ("Alice", "push", 1, 0, "pending"), ("Bob", "push", 2, 0, "pending"),
    ]
    assert any("no low-urgency rules" in message for _, message in team.timeline(incident))


@pytest.mark.parametrize("action, body, status, words", [
    ("escalate", {"escalation_level": 3}, 409, "levels are"),
    ("escalate", {"escalation_level": 0}, 422, "escalation_level"),
    ("snooze", {"minutes": 0}, 422, "minutes"),
    ("snooze", {}, 422, "minutes"),
    ("reassign", {}, 422, "exactly one"),
    ("reassign", {"user_id": "00000000-0000-4000-8000-000000000000"}, 404, "no user"),
    ("reassign", {"escalation_policy_id": "00000000-0000-4000-8000-000000000000"}, 404, "no escalation policy"),
])
def test_bad_commands_are_refused_with_a_reason(team: Team, action: str, body: dict[str, Any], status: int,
                                                words: str) -> None:
    incident = team.open_incident()

    response = team.act(incident, action, body)

    assert response.status_code == status, response.text
    assert words in response.json()["message"]
    assert team.notifications(incident) == [("Alice", "push", 1, 0, "pending"), ("Alice", "email", 1, 5, "pending")]


def test_a_resolved_incident_cannot_be_escalated_or_snoozed(team: Team) -> None:
    incident = team.open_incident()
    team.act(incident, "resolve")

    for action, body in (("escalate", None), ("snooze", {"minutes": 5})):
        response = team.act(incident, action, body)
        assert response.status_code == 409 and "resolved" in response.json()["message"]
    assert {n[4] for n in team.notifications(incident)} == {"cancelled"}
