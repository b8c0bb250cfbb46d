"""How tests talk to a running Tocsin, as its users do: over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Service:
    id: str
    key: str
    integration_id: str


def create_service(base_url: str, admin_token: str, name: str = "checkout-api") -> Service:
    """A service with one PagerDuty integration, made through the REST API."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    created = httpx.post(f"{base_url}/api/v1/services", json={"name": name}, headers=headers)
    assert created.status_code == 201, created.text
    service = created.json()
    integration = httpx.post(f"{base_url}/api/v1/services/{service['id']}/integrations",
                             json={"type": "pagerduty"}, headers=headers).json()
    return Service(service["id"], integration["key"], integration["id"])


def add_integration(base_url: str, admin_token: str, service_id: str, kind: str,
                    config: dict[str, Any] | None = None) -> Service:
    """Another integration of `kind` (e.g. "alertmanager") with `config` on a service."""
    created = httpx.post(f"{base_url}/api/v1/services/{service_id}/integrations",
                         json={"type": kind, "config": config or {}}, headers={"Authorization": f"Bearer {admin_token}"})
    assert created.status_code == 201, created.text
    integration = created.json()
    return Service(service_id, integration["key"], integration["id"])


def trigger(key: str, dedup_key: str | None = None, summary: str = "Disk full on db1", **payload: Any) -> dict[str, Any]:
    """A PagerDuty Events API v2 trigger, as monitoring sends it."""
    event: dict[str, Any] = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {"summary": summary, "source": "db1", "severity": "critical", **payload},
    }
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    return event


def create_user(base_url: str, admin_token: str, name: str = "Alice", **fields: Any) -> dict[str, Any]:
    """A user made through the REST API; the e-mail address is made unique from the name."""
    import uuid

    body = {"name": name, "email": f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:8]}@example.com", **fields}
    created = httpx.post(f"{base_url}/api/v1/users", json=body, headers={"Authorization": f"Bearer {admin_token}"})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]
