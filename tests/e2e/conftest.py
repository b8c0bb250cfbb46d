from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.client import Service, create_service



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
def new_service(tocsin: Any, admin_token: str) -> Callable[..., Service]:
    return lambda name="checkout-api": create_service(tocsin.base_url, admin_token, name)


def incidents_of(api: httpx.Client, service_id: str, **params: str) -> list[dict[str, Any]]:
    response = api.get("/api/v1/incidents", params={"service_id": service_id, "limit": "100", **params})
    assert response.status_code == 200, response.text
    return response.json()["incidents"]  # type: ignore[no-any-return]


def audited_reply(api: httpx.Client, incident_id: int, via: str) -> dict[str, Any]:
    """The one audit log entry of an action on the incident taken by answering a page on `via`."""
    response = api.get("/api/v1/audit", params={"object_type": "incident", "object_id": str(incident_id)})
    assert response.status_code == 200, response.text
    [entry] = [e for e in response.json()["entries"] if e["via"] == via]
    return entry  # type: ignore[no-any-return]


def refused(response: httpx.Response, status: int, *names: str) -> str:
    """Assert a refusal with `status` whose message names each of `names`; the message."""
    assert response.status_code == status, response.text
    message: str = response.json()["message"]
    for name in names:
        assert name in message, message
    return message
