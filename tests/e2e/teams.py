"""Teams for tests: a team with a member of each role, and one of everything a team owns,
made over HTTP by the admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from tests.client import create_service, trigger
from tests.e2e.accounts import Login, logged_in, make_user, personal_token

TEAM_ROLES = ("viewer", "responder", "admin")


@dataclass(frozen=True)
class Member:
    """A user whose global role is viewer, with `role` in their team."""

    user: dict[str, Any]
    role: str
    login: Login
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Team:
    id: str
    name: str
    members: dict[str, Member]  # by team role
    bystander: dict[str, Any]  # a member with no login, for membership routes to act on
    owned: dict[str, str] = field(default_factory=dict)  # path parameter name -> the id of the team's object


def ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def make_team(api: httpx.Client, base_url: str, name: str | None = None) -> Team:
    """A team with a viewer, a responder and an admin (each logged in, with a token)."""
    name = name or f"team {uuid.uuid4().hex[:8]}"
    team = ok(api.post("/api/v1/teams", json={"name": name}))
    members = {}
    for role in TEAM_ROLES:
        user = make_user(api, "viewer", name=f"{role.title()} of {name}")
        ok(api.put(f"/api/v1/teams/{team['id']}/members/{user['id']}", json={"role": role}), 200)
        login = logged_in(base_url, user)
        members[role] = Member(user, role, login, personal_token(base_url, login))
    bystander = make_user(api, "viewer", password=None, name=f"Bystander of {name}")
    ok(api.put(f"/api/v1/teams/{team['id']}/members/{bystander['id']}", json={"role": "viewer"}), 200)
    return Team(team["id"], name, members, bystander)


def furnish(api: httpx.Client, base_url: str, admin_token: str, team: Team, covering: str | None = None) -> Team:
    """Give `team` one of everything a team owns, with an open incident, and fill
    `team.owned`; the schedule's override puts `covering` (a user id) on call."""
    tid = team.id
    policy = ok(api.post("/api/v1/escalation-policies", json={
        "name": f"policy of {team.name}", "team_id": tid,
        "levels": [{"delay_minutes": 5, "targets": [{"type": "user", "id": team.bystander["id"]}]}]}))
    service = create_service(base_url, admin_token, f"service of {team.name}")
    ok(api.patch(f"/api/v1/services/{service.id}", json={"team_id": tid, "escalation_policy_id": policy["id"]}), 200)
    heartbeat = ok(api.post(f"/api/v1/services/{service.id}/heartbeats", json={"name": "cron", "interval_seconds": 3600}))
    start = datetime.now(timezone.utc) + timedelta(days=1)
    window = ok(api.post(f"/api/v1/services/{service.id}/maintenance", json={
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()}))
    schedule = ok(api.post("/api/v1/schedules", json={"name": f"schedule of {team.name}", "time_zone": "UTC",
                                                      "layers": [], "team_id": tid}))
    override = ok(api.post(f"/api/v1/schedules/{schedule['id']}/overrides", json={
        "user_id": covering or team.bystander["id"], "start": start.isoformat(),
        "end": (start + timedelta(hours=8)).isoformat()}))
    router = ok(api.post("/api/v1/integrations", json={"type": "router", "name": f"router of {team.name}",
                                                       "format": "alertmanager", "catch_all": {"drop": True},
                                                       "team_id": tid}))
    rule = ok(api.post("/api/v1/rules", json={"kind": "service", "service_id": service.id, "name": "quiet"}))
    ok(httpx.post(f"{base_url}/v2/enqueue", json=trigger(service.key, f"incident of {team.name}")), 202)
    incidents = ok(api.get("/api/v1/incidents", params={"service_id": service.id}), 200)["incidents"]
    team.owned = {
        "team_id": tid, "service_id": service.id, "policy_id": policy["id"], "schedule_id": schedule["id"],
        "override_id": override["id"], "heartbeat_id": heartbeat["id"], "window_id": window["id"],
        "rule_id": rule["id"], "incident_id": str(incidents[0]["id"]), "user_id": team.bystander["id"],
        "router_id": router["id"], "service_integration_id": service.integration_id,
    }
    return team
