"""TOCSIN_INCIDENT_VISIBILITY=team: a `tocsin up` of its own (its own Ray, as Serve is one per
Ray, and its own database) where incidents are seen by their service's team and global admins
only: in lists, at their id, on the live stream and for actions."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.client import create_service, trigger
from tests.conftest import free_port, fresh_database
from tests.e2e.accounts import logged_in, make_user, personal_token
from tests.e2e.sse_client import open_stream
from tests.e2e.teams import furnish, make_team, ok
from tests.server import TocsinProcess
from tocsin.cluster.raystart import LOCAL_RAY_VARIABLES


class Deployment:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token
        self.api = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.anonymous = httpx.Client(base_url=base_url, timeout=30)


@pytest.fixture(scope="module")
def team_only(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    namespace, token = f"tocsin-e2e-visibility-{uuid.uuid4().hex[:8]}", "test-admin-token-" + uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TOCSIN_", "RAY_ADDRESS")) and k not in LOCAL_RAY_VARIABLES}
    with fresh_database(postgres_admin_url) as database_url:
        env.update({"TOCSIN_DATABASE_URL": database_url, "TOCSIN_ADMIN_TOKEN": token, "TOCSIN_NAMESPACE": namespace,
                    "TOCSIN_SHARD_TIMEOUT_S": "5", "TOCSIN_INCIDENT_VISIBILITY": "team"})
        server = TocsinProcess(port=free_port(), data_dir=tmp_path_factory.mktemp("tocsin-visibility"), env=env,
                               inherit_env=False, extra_args=("--shards", "1")).start(timeout_s=240)
        deployment = Deployment(server.base_url, token)
        try:
            yield deployment
        finally:
            deployment.api.close()
            deployment.anonymous.close()
            assert server.stop() == 0, server.log()


@pytest.fixture(scope="module")
def world(team_only: Deployment) -> dict[str, Any]:
    d = team_only
    a = furnish(d.api, d.base_url, d.token, make_team(d.api, d.base_url, "A"))
    b = furnish(d.api, d.base_url, d.token, make_team(d.api, d.base_url, "B"))
    teamless = create_service(d.base_url, d.token, "nobody's")
    ok(httpx.post(f"{d.base_url}/v2/enqueue", json=trigger(teamless.key, "teamless")), 202)
    responder = make_user(d.api, "responder", name="Global responder")
    token = personal_token(d.base_url, logged_in(d.base_url, responder))
    return {"a": a, "b": b, "teamless": teamless, "responder": {"Authorization": f"Bearer {token}"}}


def listed(d: Deployment, headers: dict[str, str], **params: str) -> set[str]:
    response = d.anonymous.get("/api/v1/incidents", params={"limit": "100", **params}, headers=headers)
    return {str(i["id"]) for i in ok(response, 200)["incidents"]}


def test_members_list_and_read_only_their_teams_incidents(team_only, world):
    d, a, b = team_only, world["a"], world["b"]
    mine, theirs = a.owned["incident_id"], b.owned["incident_id"]
    viewer = a.members["viewer"].bearer
    assert listed(d, viewer) == {mine}
    assert listed(d, viewer, team=b.id) == set()
    assert ok(d.anonymous.get(f"/api/v1/incidents/{mine}", headers=viewer), 200)["id"] == int(mine)
    for path in (f"/api/v1/incidents/{theirs}", f"/api/v1/incidents/{theirs}/notifications"):
        assert d.anonymous.get(path, headers=viewer).status_code == 404
    everything = listed(d, {"Authorization": f"Bearer {d.token}"})
    assert {mine, theirs} < everything and len(everything) == 3  # the global admin's: the teamless one too


def test_a_global_responder_in_no_team_sees_and_acts_on_no_team_incident(team_only, world):
    d, a = team_only, world["a"]
    assert listed(d, world["responder"]) == set()
    refused = d.anonymous.post(f"/api/v1/incidents/{a.owned['incident_id']}/acknowledge", headers=world["responder"])
    assert refused.status_code == 404, refused.text
    responder = a.members["responder"].bearer
    acted = d.anonymous.post(f"/api/v1/incidents/{a.owned['incident_id']}/acknowledge", headers=responder)
    assert ok(acted, 200)["status"] == "acknowledged"
    b_incident = world["b"].owned["incident_id"]
    assert d.anonymous.post(f"/api/v1/incidents/{b_incident}/acknowledge", headers=responder).status_code == 404


def test_the_live_stream_carries_only_the_teams_incidents(team_only, world):
    d, a, b = team_only, world["a"], world["b"]
    keys = {team.id: ok(d.api.get(f"/api/v1/services/{team.owned['service_id']}/integrations"), 200)
            ["integrations"][0]["key"] for team in (a, b)}
    with open_stream(d.anonymous, headers=b.members["viewer"].bearer) as stream:
        for key, summary in ((keys[a.id], "a's"), (world["teamless"].key, "nobody's"), (keys[b.id], "b's")):
            ok(d.anonymous.post("/v2/enqueue", json=trigger(key, f"live {summary}", summary=summary)), 202)
        seen = stream.until(lambda m: m.json()["incident"]["summary"] == "b's")
    assert {m.json()["incident"]["service_id"] for m in seen} == {b.owned["service_id"]}
