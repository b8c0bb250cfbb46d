"""Incidents routing rules suppressed, as the REST API shows them: flagged, filtered in or out of
the list, and their timeline naming the rules. The alert comes to the service's shard as the
gateway hands it over once it has evaluated the rules."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import httpx
import ray

from tocsin.actors.domain.events import Action, AlertEvent
from tocsin.actors.domain.rules.decision import Disposition
from tocsin.actors.ownership import shard_index, shard_name
from tests.client import Service, trigger
from tests.conftest import E2E_NAMESPACE
from tests.e2e.conftest import incidents_of, refused

SHARDS = 2  # as the test deployment runs


def send_suppressed(service: Service, key: str) -> Any:
    shard = ray.get_actor(shard_name(shard_index(service.id, SHARDS)), namespace=E2E_NAMESPACE)
    [reply] = ray.get(shard.apply.remote([AlertEvent(
        event_id=str(uuid.uuid4()), service_id=service.id, integration_id=service.integration_id, dedup_key=key,
        action=Action.TRIGGER, received_at=datetime.now(timezone.utc), summary="host h1 unreachable",
        rules=("inhibit-dc-down",), disposition=Disposition.SUPPRESS, priority="P3",
    )]), timeout=30)
    return reply


def test_the_incident_list_filters_suppressed_incidents_in_or_out(
    api: httpx.Client, anonymous: httpx.Client, new_service: Any
) -> None:
    service = new_service()
    assert anonymous.post("/v2/enqueue", json=trigger(service.key, "datacenter-down")).status_code == 202
    reply = send_suppressed(service, "host-unreachable")
    assert reply.outcome == "opened"

    every = incidents_of(api, service.id)
    only = incidents_of(api, service.id, suppressed="true")
    others = incidents_of(api, service.id, suppressed="false")

    assert {i["dedup_key"]: i["suppressed"] for i in every} == {"datacenter-down": False, "host-unreachable": True}
    assert [(i["id"], i["priority"], i["tags"]) for i in only] == [(reply.incident_id, "P3", [])]
    assert [i["dedup_key"] for i in others] == ["datacenter-down"]
    refused(api.get("/api/v1/incidents", params={"suppressed": "perhaps"}), 422, "suppressed")

    detail = api.get(f"/api/v1/incidents/{reply.incident_id}").json()
    assert detail["suppressed"] is True and detail["paused_until"] is None
    opening = detail["timeline"][0]
    assert (opening["kind"], opening["rules"], opening["rule_effect"]) == (
        "triggered", ["inhibit-dc-down"], "suppressed, priority P3")
    assert api.get(f"/api/v1/incidents/{only[0]['id']}/notifications").json()["notifications"] == []
