from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest


pytestmark = pytest.mark.e2e


@dataclass
class Service:
    id: str
    key: str
    integration_id: str


@pytest.fixture(scope="session")
def api(tocsin: Any, admin_token: str) -> Iterator[httpx.Client]:
    """An admin client of the REST API."""
    with httpx.Client(base_url=tocsin.base_url, headers={"Authorization": f"Bearer {admin_token}"},
                      timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def anonymous(tocsin: Any) -> Iterator[httpx.Client]:
    """A client with no credentials, as a monitoring source is."""
    with httpx.Client(base_url=tocsin.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def new_service(api: httpx.Client) -> Callable[..., Service]:
    def make(name: str = "checkout-api") -> Service:
        created = api.post("/api/v1/services", json={"name": name})
        assert created.status_code == 201, created.text
        service = created.json()
        integration = api.post(f"/api/v1/services/{service['id']}/integrations", json={"type": "pagerduty"}).json()
        return Service(service["id"], integration["key"], integration["id"])

    return make


def incidents_of(api: httpx.Client, service_id: str, **params: str) -> list[dict[str, Any]]:
    response = api.get("/api/v1/incidents", params={"service_id": service_id, "limit": "100", **params})
    assert response.status_code == 200, response.text
    return response.json()["incidents"]  # type: ignore[no-any-return]


def trigger(key: str, dedup_key: str | None = None, summary: str = "Disk full on db1", **payload: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {"summary": summary, "source": "db1", "severity": "critical", **payload},
    }
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    return event

