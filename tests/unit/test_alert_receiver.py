"""The Alertmanager endpoint with the shards and the database stood in for: one batch per
request, and 503 with Retry-After when the batch is not durable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import Action, AlertEvent
from tests.fakes.gateway import FakeShards, gateway

KEY = "a" * 32


@pytest.fixture
def alertmanager() -> Iterator[tuple[TestClient, FakeShards, list[list[object]]]]:
    """The gateway, and the batches its shards were given."""
    with gateway(KEY, "alertmanager") as (client, shards):
        batches: list[list[object]] = []
        submit_many = shards.submit_many

        async def recording(items: list[object]) -> list[Reply]:
            batches.append(list(items))
            return await submit_many(items)

        shards.submit_many = recording  # type: ignore[method-assign]
        yield client, shards, batches


def notification(count: int) -> dict[str, Any]:
    alerts = [{"status": "firing", "labels": {"alertname": "Down", "instance": f"host-{n}"}} for n in range(count)]
    return {"version": "4", "status": "firing", "groupKey": '{}:{alertname="Down"}', "alerts": alerts}


def test_every_alert_of_a_request_goes_as_one_batch(alertmanager):
    client, _, batches = alertmanager
    response = client.post(f"/integrations/alertmanager/{KEY}", json=notification(5))
    assert response.status_code == 200, response.text
    [batch] = batches
    assert all(isinstance(e, AlertEvent) and e.action is Action.TRIGGER for e in batch)
    assert len({e.dedup_key for e in batch if isinstance(e, AlertEvent)}) == 5
    assert [i["outcome"] for i in response.json()["incidents"]] == ["opened"] * 5


def test_not_durable_is_503_with_retry_after(alertmanager):
    client, shards, _ = alertmanager
    shards.fail = True
    response = client.post(f"/integrations/alertmanager/{KEY}", json=notification(2))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"] == "unavailable"


def test_an_authorization_of_another_scheme_is_no_key(alertmanager):
    client, shards, _ = alertmanager
    response = client.post("/integrations/alertmanager", json=notification(1),
                           headers={"Authorization": f"Basic {KEY}"})
    assert response.status_code == 401
    assert "Bearer" in response.json()["message"]
    assert shards.received == []
