"""Teams over HTTP: making them and their members, what a team admin may make and move,
`?team=mine|<id>` on lists and the live stream, and personal tokens limited to a team."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.client import trigger
from tests.e2e.conftest import refused
from tests.e2e.sse_client import open_stream
from tests.e2e.teams import Team, furnish, make_team, ok


@pytest.fixture(scope="module")
def a(api: httpx.Client, tocsin: Any, admin_token: str) -> Team:
    team = make_team(api, tocsin.base_url, "Payments " + uuid.uuid4().hex[:6])
    return furnish(api, tocsin.base_url, admin_token, team)


@pytest.fixture(scope="module")
def b(api: httpx.Client, tocsin: Any, admin_token: str) -> Team:
    team = make_team(api, tocsin.base_url, "Search " + uuid.uuid4().hex[:6])
    return furnish(api, tocsin.base_url, admin_token, team)


def ids(response: httpx.Response, key: str) -> set[str]:
    return {str(item["id"]) for item in ok(response, 200)[key]}


def test_teams_are_made_named_once_and_list_their_members_with_their_roles(api, a):
    shown = ok(api.get(f"/api/v1/teams/{a.id}"), 200)
    roles = {member["user_id"]: member["role"] for member in shown["members"]}
    assert roles == {**{m.user["id"]: role for role, m in a.members.items()}, a.bystander["id"]: "viewer"}
    assert shown["member_count"] == 4 and a.id in ids(api.get("/api/v1/teams"), "teams")
    refused(api.post("/api/v1/teams", json={"name": a.name.upper()}), 409, "already named")
    refused(api.put(f"/api/v1/teams/{a.id}/members/{uuid.uuid4()}", json={"role": "viewer"}), 404, "no user")
    assert api.put(f"/api/v1/teams/{a.id}/members/{a.bystander['id']}", json={"role": "owner"}).status_code == 422


def test_a_team_admin_manages_its_members_and_name_but_makes_no_teams(anonymous, a, b):
    admin = a.members["admin"].bearer
    renamed = ok(anonymous.patch(f"/api/v1/teams/{a.id}", json={"name": a.name + " team"}, headers=admin), 200)
    assert renamed["name"] == a.name + " team"
    anonymous.patch(f"/api/v1/teams/{a.id}", json={"name": a.name}, headers=admin)
    path = f"/api/v1/teams/{a.id}/members/{a.bystander['id']}"
    assert ok(anonymous.put(path, json={"role": "responder"}, headers=admin), 200)["member_count"] == 4
    assert anonymous.delete(path, headers=admin).status_code == 204
    assert anonymous.put(path, json={"role": "viewer"}, headers=admin).status_code == 200
    refused(anonymous.put(f"/api/v1/teams/{b.id}/members/{a.bystander['id']}", json={"role": "admin"},
                          headers=admin), 403, "admin role in team", b.id)
    refused(anonymous.post("/api/v1/teams", json={"name": "mine"}, headers=admin), 403, "admin")
    refused(anonymous.delete(f"/api/v1/teams/{a.id}", headers=admin), 403, "admin")


def test_a_team_that_owns_something_is_not_deleted(api, a):
    refused(api.delete(f"/api/v1/teams/{a.id}"), 409, "still owns", "service of")
    empty = ok(api.post("/api/v1/teams", json={"name": "short-lived " + uuid.uuid4().hex[:6]}))
    assert api.delete(f"/api/v1/teams/{empty['id']}").status_code == 204


def test_a_team_admin_makes_things_in_their_team_only(anonymous, a, b):
    admin = a.members["admin"].bearer
    made = ok(anonymous.post("/api/v1/services", json={"name": "ledger", "team_id": a.id}, headers=admin))
    assert made["team_id"] == a.id
    refused(anonymous.post("/api/v1/services", json={"name": "ledger"}, headers=admin), 403, "admin", "no team")
    refused(anonymous.post("/api/v1/services", json={"name": "ledger", "team_id": b.id}, headers=admin), 403, b.id)
    refused(anonymous.post("/api/v1/schedules", headers=admin,
                           json={"name": "s", "time_zone": "UTC", "layers": [], "team_id": b.id}), 403, b.id)
    # What no team owns stays the global admins': inhibit rules, users.
    refused(anonymous.post("/api/v1/rules", json={"kind": "inhibit", "name": "x", "equal": []}, headers=admin),
            403, "admin")
    refused(anonymous.post("/api/v1/users", json={"name": "n", "email": "n@example.com"}, headers=admin), 403)
    # The team's routing keys are its admins' to see, not its responders'.
    listed = anonymous.get(f"/api/v1/services/{a.owned['service_id']}/integrations", headers=admin)
    assert [i["id"] for i in ok(listed, 200)["integrations"]] == [a.owned["service_integration_id"]]
    routers = ok(anonymous.get("/api/v1/integrations", params={"team": "mine"}, headers=admin), 200)["integrations"]
    assert [(r["id"], bool(r["key"])) for r in routers] == [(a.owned["router_id"], True)]
    others = ok(anonymous.get("/api/v1/integrations", params={"team": b.id}, headers=admin), 200)["integrations"]
    assert [(r["id"], r["key"]) for r in others] == [(b.owned["router_id"], None)]


def test_moving_something_to_another_team_needs_admin_of_both(api, anonymous, a, b):
    admin = a.members["admin"]
    service = ok(anonymous.post("/api/v1/services", json={"name": "mover", "team_id": a.id}, headers=admin.bearer))
    path = f"/api/v1/services/{service['id']}"
    refused(anonymous.patch(path, json={"team_id": b.id}, headers=admin.bearer), 403, "admin", b.id)
    refused(anonymous.patch(path, json={"team_id": None}, headers=admin.bearer), 403, "no team")
    ok(api.put(f"/api/v1/teams/{b.id}/members/{admin.user['id']}", json={"role": "admin"}), 200)
    try:
        assert ok(anonymous.patch(path, json={"team_id": b.id}, headers=admin.bearer), 200)["team_id"] == b.id
    finally:
        api.delete(f"/api/v1/teams/{b.id}/members/{admin.user['id']}")
    refused(anonymous.patch(path, json={"name": "mine again"}, headers=admin.bearer), 403, b.id)
    # A replacement that leaves team_id out keeps the team.
    policy = f"/api/v1/escalation-policies/{a.owned['policy_id']}"
    body = {"name": "kept", "levels": [{"delay_minutes": 5, "targets": [{"type": "user", "id": a.bystander["id"]}]}]}
    assert ok(anonymous.put(policy, json=body, headers=admin.bearer), 200)["team_id"] == a.id
    assert api.patch(path, json={"team_id": str(uuid.uuid4())}).status_code == 422


def test_lists_keep_my_teams_or_one_team(anonymous, a, b):
    me = a.members["viewer"].bearer
    lists = {"/api/v1/services": ("services", "service_id"), "/api/v1/schedules": ("schedules", "schedule_id"),
             "/api/v1/escalation-policies": ("escalation_policies", "policy_id"),
             "/api/v1/integrations": ("integrations", "router_id"), "/api/v1/incidents": ("incidents", "incident_id")}
    for path, (key, owned) in lists.items():
        everything = ids(anonymous.get(path, headers=me), key)
        mine = ids(anonymous.get(path, params={"team": "mine"}, headers=me), key)
        theirs = ids(anonymous.get(path, params={"team": b.id}, headers=me), key)
        assert a.owned[owned] in mine and b.owned[owned] not in mine, path
        assert b.owned[owned] in theirs and a.owned[owned] not in theirs, path
        assert {a.owned[owned], b.owned[owned]} <= everything, path
        refused(anonymous.get(path, params={"team": "yours"}, headers=me), 422, "team")


def test_team_responders_act_on_their_teams_incidents_only(anonymous, a, b):
    responder = a.members["responder"].bearer
    ok(anonymous.post(f"/api/v1/incidents/{a.owned['incident_id']}/notes", json={"text": "on it"},
                      headers=responder))
    refused(anonymous.post(f"/api/v1/incidents/{b.owned['incident_id']}/acknowledge", headers=responder), 403,
            "responder", b.id)
    refused(anonymous.post(f"/api/v1/incidents/{a.owned['incident_id']}/acknowledge",
                           headers=a.members["viewer"].bearer), 403, "responder")


def test_a_token_limited_to_a_team_acts_with_that_role_there_and_as_a_viewer_elsewhere(anonymous, tocsin, a, b):
    admin = a.members["admin"]
    made = httpx.post(f"{tocsin.base_url}/api/v1/tokens", headers=admin.login.headers(),
                      json={"name": "ci", "team_id": a.id, "role": "responder"})
    limited = ok(made)
    assert (limited["team_id"], limited["team_role"]) == (a.id, "responder")
    bearer = {"Authorization": f"Bearer {limited['token']}"}
    ok(anonymous.post(f"/api/v1/incidents/{a.owned['incident_id']}/notes", json={"text": "ci"}, headers=bearer))
    refused(anonymous.patch(f"/api/v1/services/{a.owned['service_id']}", json={"name": "x"}, headers=bearer),
            403, "admin")
    refused(anonymous.post("/api/v1/tokens", json={"name": "wider"}, headers=bearer), 403, "limited")
    # Never above the owner's role there, nor in a team they are not in.
    responder = a.members["responder"]
    refused(httpx.post(f"{tocsin.base_url}/api/v1/tokens", headers=responder.login.headers(),
                       json={"name": "up", "team_id": a.id, "role": "admin"}), 403, "at most", "responder")
    refused(httpx.post(f"{tocsin.base_url}/api/v1/tokens", headers=responder.login.headers(),
                       json={"name": "elsewhere", "team_id": b.id, "role": "responder"}), 403, "viewer")
    assert httpx.post(f"{tocsin.base_url}/api/v1/tokens", headers=responder.login.headers(),
                      json={"name": "half", "team_id": a.id}).status_code == 422
    listed = ok(httpx.get(f"{tocsin.base_url}/api/v1/tokens", headers=admin.login.headers()), 200)["tokens"]
    assert {(t["team_id"], t["team_role"]) for t in listed} == {(None, None), (a.id, "responder")}


def test_the_session_says_which_teams_the_user_is_in(tocsin, a):
    member = a.members["responder"]
    shown = ok(httpx.get(f"{tocsin.base_url}/api/v1/session", headers=member.login.headers()), 200)
    assert shown["user"]["teams"] == {a.id: "responder"} and shown["user"]["role"] == "viewer"


def test_the_live_stream_keeps_my_teams_incidents(anonymous, tocsin, api, a, b):
    service_of = {team.id: ok(api.get(f"/api/v1/services/{team.owned['service_id']}"), 200) for team in (a, b)}
    keys = {team.id: ok(api.get(f"/api/v1/services/{team.owned['service_id']}/integrations"), 200)
            ["integrations"][0]["key"] for team in (a, b)}
    with open_stream(anonymous, headers=a.members["viewer"].bearer, params={"team": "mine"}) as stream:
        for team in (b, a):
            sent = anonymous.post("/v2/enqueue", json=trigger(keys[team.id], f"live {team.id}", summary=f"live {team.name}"))
            assert sent.status_code == 202, sent.text
        seen = stream.until(lambda m: m.json()["incident"]["summary"] == f"live {a.name}")
    assert {m.json()["incident"]["service_id"] for m in seen} == {service_of[a.id]["id"]}
