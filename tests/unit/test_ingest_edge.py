"""The ingestion edge with the shards and the database stood in for: rate limits answer
429 with Retry-After, and a batch that cannot be made durable answers 503."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.fakes.gateway import FakeShards
from tests.fakes.gateway import gateway as fake_gateway

KEY = "a" * 32


@pytest.fixture
def gateway() -> Iterator[tuple[TestClient, FakeShards]]:
    with fake_gateway(KEY, "pagerduty") as client_and_shards:
        yield client_and_shards


def event(dedup_key: str) -> dict[str, object]:
    return {"routing_key": KEY, "event_action": "trigger", "dedup_key": dedup_key,
            "payload": {"summary": "s", "source": "h", "severity": "info"}}


def test_over_the_rate_limit_is_429_with_retry_after(gateway):
    client, shards = gateway
    assert [client.post("/v2/enqueue", json=event(f"e{n}")).status_code for n in range(2)] == [202, 202]
    refused = client.post("/v2/enqueue", json=event("e3"))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "Rate limit" in refused.json()["message"]
    assert len(shards.received) == 2  # the refused event went nowhere


def test_unknown_keys_do_not_spend_a_real_integrations_budget(gateway):
    client, _ = gateway
    for _ in range(5):
        assert client.post("/v2/enqueue", json={**event("x"), "routing_key": "e" * 32}).status_code == 400
    assert client.post("/v2/enqueue", json=event("real")).status_code == 202


def test_not_durable_is_503_with_retry_after(gateway):
    client, shards = gateway
    shards.fail = True
    response = client.post("/v2/enqueue", json=event("e"))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["status"] == "error"
