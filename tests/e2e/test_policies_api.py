"""Escalation policies, and the services that use them, through the REST API."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.client import create_user
from tests.e2e.conftest import refused

MISSING = str(uuid.uuid4())


@pytest.fixture
def user_id(tocsin, admin_token):
    return create_user(tocsin.base_url, admin_token, "Escalation Target")["id"]


@pytest.fixture
def schedule_id(db):
    """A schedule row as the schedules API stores it; policies only need it to exist."""
    schedule = str(uuid.uuid4())
    db("execute", "INSERT INTO schedules (id, name, time_zone, calendar_token) VALUES ($1::uuid, 'primary', 'UTC', $2)",
       schedule, uuid.uuid4().hex)
    return schedule


def _levels(*levels):
    """_levels((delay, [("user", id), ...]), ...) as the API takes them."""
    return [{"delay_minutes": delay, "targets": [{"type": kind, "id": id_} for kind, id_ in targets]}
            for delay, targets in levels]


def _policy(api, levels, **fields):
    response = api.post("/api/v1/escalation-policies", json={"name": "default", "levels": levels, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_policy_crud(api, user_id, schedule_id):
    levels = _levels((5, [("user", user_id)]), (15, [("schedule", schedule_id), ("user", user_id)]))
    created = api.post("/api/v1/escalation-policies",
                       json={"name": "payments", "description": "card team", "repeat": 2, "levels": levels})
    assert created.status_code == 201, created.text
    policy = created.json()
    assert policy | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None, "name": "payments", "description": "card team", "repeat": 2, "levels": levels, "version": 1,
        "created_at": None, "updated_at": None, "team_id": None,
    }
    assert api.get(f"/api/v1/escalation-policies/{policy['id']}").json() == policy
    assert policy in api.get("/api/v1/escalation-policies").json()["escalation_policies"]

    new_levels = _levels((30, [("schedule", schedule_id)]))
    replaced = api.put(f"/api/v1/escalation-policies/{policy['id']}",
                       json={"name": "payments v2", "levels": new_levels})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() | {"updated_at": None} == policy | {
        "name": "payments v2", "description": "", "repeat": 0, "levels": new_levels, "version": 2, "updated_at": None,
    }
    assert api.get(f"/api/v1/escalation-policies/{policy['id']}").json()["version"] == 2

    assert api.delete(f"/api/v1/escalation-policies/{policy['id']}").status_code == 204
    refused(api.get(f"/api/v1/escalation-policies/{policy['id']}"), 404, policy["id"])
    refused(api.put(f"/api/v1/escalation-policies/{policy['id']}", json={"name": "x", "levels": new_levels}), 404,
            policy["id"])
    refused(api.delete(f"/api/v1/escalation-policies/{policy['id']}"), 404, policy["id"])


USER = "<user id>"
ONE = _levels((5, [("user", USER)]))
BAD_POLICIES = [
    ("no levels", {"levels": []}, "levels"),
    ("levels missing", {}, "levels"),
    ("no name", {"name": "", "levels": ONE}, "name"),
    ("no targets", {"levels": _levels((5, []))}, "levels.0.targets"),
    ("zero delay", {"levels": _levels((0, [("user", USER)]))}, "levels.0.delay_minutes"),
    ("delay over a day", {"levels": ONE + _levels((1441, [("user", USER)]))}, "levels.1.delay_minutes"),
    ("repeat 10", {"levels": ONE, "repeat": 10}, "repeat"),
    ("negative repeat", {"levels": ONE, "repeat": -1}, "repeat"),
    ("team target", {"levels": _levels((5, [("team", USER)]))}, "levels.0.targets.0.type"),
    ("target id not a uuid", {"levels": _levels((5, [("user", "alice")]))}, "levels.0.targets.0.id"),
    ("unknown level field", {"levels": [{**ONE[0], "urgency": "high"}]}, "levels.0.urgency"),
    ("unknown field", {"levels": ONE, "owner": "me"}, "owner"),
]


@pytest.mark.parametrize(("body", "field"), [c[1:] for c in BAD_POLICIES], ids=[c[0] for c in BAD_POLICIES])
def test_bad_policy_is_refused(api, user_id, body, field):
    body = json.loads(json.dumps({"name": "bad", **body}).replace(USER, user_id))
    before = api.get("/api/v1/escalation-policies").json()["escalation_policies"]
    refused(api.post("/api/v1/escalation-policies", json=body), 422, field)
    assert api.get("/api/v1/escalation-policies").json()["escalation_policies"] == before


def test_targets_must_exist(api, user_id, schedule_id):
    ghost_user, ghost_schedule = str(uuid.uuid4()), str(uuid.uuid4())
    levels = _levels((5, [("user", user_id), ("user", ghost_user)]),
                     (5, [("schedule", schedule_id), ("schedule", ghost_schedule)]),
                     (5, [("schedule", user_id)]))
    message = refused(api.post("/api/v1/escalation-policies", json={"name": "ghosts", "levels": levels}), 422,
                      f"levels.0.targets.1.id: no user with id {ghost_user}",
                      f"levels.1.targets.1.id: no schedule with id {ghost_schedule}",
                      f"levels.2.targets.0.id: no schedule with id {user_id}")
    assert "levels.0.targets.0" not in message and "levels.1.targets.0" not in message

    policy = _policy(api, _levels((5, [("user", user_id)])))
    refused(api.put(f"/api/v1/escalation-policies/{policy['id']}",
                    json={"name": "p", "levels": _levels((5, [("user", ghost_user)]))}), 422, ghost_user)
    assert api.get(f"/api/v1/escalation-policies/{policy['id']}").json() == policy


def test_a_policy_in_use_cannot_be_deleted(api, user_id):
    policy = _policy(api, _levels((5, [("user", user_id)])))
    name = f"billing-{uuid.uuid4().hex[:6]}"
    service = api.post("/api/v1/services", json={"name": name, "escalation_policy_id": policy["id"]}).json()
    refused(api.delete(f"/api/v1/escalation-policies/{policy['id']}"), 409, name)
    assert api.get(f"/api/v1/escalation-policies/{policy['id']}").status_code == 200

    detached = api.patch(f"/api/v1/services/{service['id']}", json={"escalation_policy_id": None})
    assert detached.status_code == 200 and detached.json()["escalation_policy_id"] is None
    assert api.delete(f"/api/v1/escalation-policies/{policy['id']}").status_code == 204


# -- the service fields -----------------------------------------------------------------------

def test_service_policy_and_urgency(api, user_id):
    policy = _policy(api, _levels((5, [("user", user_id)])))
    plain = api.post("/api/v1/services", json={"name": "plain"}).json()
    assert (plain["escalation_policy_id"], plain["urgency"]) == (None, "high")

    created = api.post("/api/v1/services", json={"name": "api", "escalation_policy_id": policy["id"],
                                                 "urgency": "severity"})
    assert created.status_code == 201, created.text
    service = created.json()
    assert (service["escalation_policy_id"], service["urgency"]) == (policy["id"], "severity")
    assert api.get(f"/api/v1/services/{service['id']}").json() == service

    low = api.patch(f"/api/v1/services/{service['id']}", json={"urgency": "low"}).json()
    assert (low["escalation_policy_id"], low["urgency"]) == (policy["id"], "low")
    cleared = api.patch(f"/api/v1/services/{service['id']}", json={"escalation_policy_id": None}).json()
    assert (cleared["escalation_policy_id"], cleared["urgency"]) == (None, "low")
    again = api.patch(f"/api/v1/services/{service['id']}", json={"escalation_policy_id": policy["id"]}).json()
    assert again["escalation_policy_id"] == policy["id"]


def test_service_refuses_an_unknown_policy_or_urgency(api):
    refused(api.post("/api/v1/services", json={"name": "s", "escalation_policy_id": MISSING}), 422,
            "escalation_policy_id", MISSING)
    refused(api.post("/api/v1/services", json={"name": "s", "escalation_policy_id": "default"}), 422,
            "escalation_policy_id")
    refused(api.post("/api/v1/services", json={"name": "s", "urgency": "medium"}), 422, "urgency")
    service = api.post("/api/v1/services", json={"name": "s"}).json()
    refused(api.patch(f"/api/v1/services/{service['id']}", json={"escalation_policy_id": MISSING}), 422,
            "escalation_policy_id", MISSING)
    refused(api.patch(f"/api/v1/services/{service['id']}", json={"urgency": "urgent"}), 422, "urgency")
    assert api.get(f"/api/v1/services/{service['id']}").json() == service
