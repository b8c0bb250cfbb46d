"""Opsgenie's edge with the shards and the database stood in for: no 202 unless the alert is
durable, and over the integration's rate limit a 429, each in Opsgenie's shape."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tocsin.actors.domain.events import AlertEvent
from tests.fakes.gateway import FakeShards
from tests.fakes.gateway import gateway as fake_gateway

KEY = "c" * 32
AUTH = {"Authorization": f"GenieKey {KEY}"}


@pytest.fixture
def gateway() -> Iterator[tuple[TestClient, FakeShards]]:
    with fake_gateway(KEY, "opsgenie") as client_and_shards:
        yield client_and_shards


def test_not_durable_is_503_with_retry_after(gateway):
    client, shards = gateway
    shards.fail = True
    response = client.post("/v2/alerts", json={"message": "Disk full", "alias": "disk"}, headers=AUTH)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert set(response.json()) == {"message", "took", "requestId"}
    assert shards.received == []


def test_durable_but_unrecorded_is_still_202(gateway):
    client, shards = gateway
    response = client.post("/v2/alerts", json={"message": "Disk full", "alias": "disk"}, headers=AUTH)
    assert response.status_code == 202
    assert response.json()["result"] == "Request will be processed"
    [event] = shards.received
    assert isinstance(event, AlertEvent) and event.dedup_key == "og:disk"


def test_over_the_rate_limit_is_429_with_retry_after(gateway):
    client, shards = gateway
    codes = [client.post("/v2/alerts/x/close?identifierType=alias", headers=AUTH).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    limited = client.post("/v2/alerts", json={"message": "m"}, headers=AUTH)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "Rate limit" in limited.json()["message"]
    assert len(shards.received) == 2


@pytest.mark.parametrize(("method", "path"), [("POST", "/v2/alerts/7/close"),
                                            ("GET", f"/v2/alerts/requests/{uuid.uuid4()}")])
def test_database_down_is_503_in_opsgenies_shape(gateway, method, path):
    client, shards = gateway
    response = client.request(method, path, headers=AUTH)
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert set(response.json()) == {"message", "took", "requestId"}
    assert shards.received == []
