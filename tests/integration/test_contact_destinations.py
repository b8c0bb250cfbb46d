"""Webhook and Slack contact methods pointing inside the network are refused where they are
given, by a deployment that allows no private network (the test deployment allows loopback
for its receivers, so these requests go to the gateway's app in-process, on the run's
database, with settings of their own). No Ray."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import asyncpg
import httpx
import pytest

from tocsin.actors.domain.accounts.credentials import digest, new_api_token, shown_part
from tocsin.actors.store import api_tokens, users
from tests.conftest import LOOPBACK_NETWORKS
from tests.integration.in_process import gateway

pytestmark = pytest.mark.timeout(60)

ADMIN_TOKEN = "destination-tests-admin-token-" + uuid.uuid4().hex

INTERNAL = [
    ("webhook", "http://169.254.169.254/latest/meta-data/iam/", "169.254.169.254 is a cloud metadata address"),
    ("webhook", "http://[fd00:ec2::254]/latest/", "fd00:ec2::254 is a cloud metadata address"),
    ("webhook", "http://127.0.0.1:5432/", "127.0.0.1 is a loopback address"),
    ("webhook", "http://[::1]:6379/", "::1 is a loopback address"),
    ("webhook", "http://0x7f000001/", "0x7f000001 is a loopback address"),
    ("webhook", "http://2130706433:8000/", "2130706433 is a loopback address"),
    ("webhook", "http://0177.0.0.1/", "0177.0.0.1 is a loopback address"),
    ("webhook", "http://127.1/", "127.1 is a loopback address"),
    ("webhook", "http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is a loopback address"),
    ("webhook", "http://localhost:8000/api/v1/users", "localhost resolves to 127.0.0.1, which is a loopback address"),
    ("webhook", "https://10.1.2.3/hook", "10.1.2.3 is a private address"),
    ("webhook", "http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("webhook", "http://100.64.1.1/", "100.64.1.1 is a shared (carrier-grade NAT) address"),
    ("slack", "https://169.254.169.254/services/T0/B0/x", "169.254.169.254 is a cloud metadata address"),
    ("slack", "http://127.0.0.1:9/services/T0/B0/x", "127.0.0.1 is a loopback address"),
    ("slack", "http://localhost:9/services/T0/B0/x", "localhost resolves to 127.0.0.1, which is a loopback address"),
]


class Client:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http, self.headers = http, {"Authorization": f"Bearer {token}"}

    async def create(self, user_id: str, kind: str, address: str) -> httpx.Response:
        return await self.http.post(f"/api/v1/users/{user_id}/contact-methods",
                                    json={"kind": kind, "address": address}, headers=self.headers)

    async def move(self, user_id: str, method_id: str, address: str) -> httpx.Response:
        return await self.http.patch(f"/api/v1/users/{user_id}/contact-methods/{method_id}",
                                     json={"address": address}, headers=self.headers)

    async def methods(self, user_id: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"/api/v1/users/{user_id}/contact-methods", headers=self.headers)
        return response.json()["contact_methods"]  # type: ignore[no-any-return]


@pytest.fixture
async def http(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(database_url, ADMIN_TOKEN) as client:
        yield client


@pytest.fixture
def admin(http: httpx.AsyncClient) -> Client:
    return Client(http, ADMIN_TOKEN)


async def new_user(database_url: str, role: str = "responder") -> tuple[str, str]:
    """A user and a personal API token of theirs."""
    token = new_api_token()
    conn = await asyncpg.connect(database_url)
    try:
        user = await users.create_user(conn, "Rita", f"rita.{uuid.uuid4().hex[:10]}@example.com", "UTC", role)
        await api_tokens.create(conn, user["id"], "tests", shown_part(token), digest(token), datetime.now(timezone.utc))
    finally:
        await conn.close()
    return user["id"], token


def message_of(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    message: str = response.json()["message"]
    assert message.startswith("address: "), message
    return message


@pytest.mark.parametrize(("kind", "address", "why"), INTERNAL, ids=[f"{k} {a}" for k, a, _ in INTERNAL])
async def test_an_internal_destination_is_refused_when_created(database_url: str, admin: Client, kind: str,
                                                               address: str, why: str) -> None:
    user_id, _ = await new_user(database_url)

    message = message_of(await admin.create(user_id, kind, address))

    assert f"{kind} destination not allowed: {why}" in message
    assert await admin.methods(user_id) == []


async def test_an_internal_destination_is_refused_when_an_address_changes(database_url: str, admin: Client) -> None:
    user_id, _ = await new_user(database_url)
    created = await admin.create(user_id, "webhook", "https://93.184.216.34/hooks/tocsin")
    assert created.status_code == 201, created.text

    message = message_of(await admin.move(user_id, created.json()["id"], "http://169.254.169.254/latest/"))

    assert "cloud metadata address" in message
    assert [m["address"] for m in await admin.methods(user_id)] == ["https://93.184.216.34/hooks/tocsin"]


async def test_a_public_address_is_taken(database_url: str, admin: Client) -> None:
    user_id, _ = await new_user(database_url)
    for kind, address in (("webhook", "https://93.184.216.34/hook"), ("webhook", "http://[2606:4700:4700::1111]/"),
                          ("slack", "https://0x5db8d822/services/T0/B0/x")):
        response = await admin.create(user_id, kind, address)
        assert response.status_code == 201, (address, response.text)


async def test_a_responder_learns_nothing_of_what_a_name_resolves_to(database_url: str, http: httpx.AsyncClient,
                                                                      admin: Client) -> None:
    user_id, token = await new_user(database_url)
    responder = Client(http, token)

    loopback = message_of(await responder.create(user_id, "webhook", "http://localhost:8000/"))
    unknown = message_of(await responder.create(user_id, "webhook", "http://nothing.invalid/"))
    literal = message_of(await responder.create(user_id, "webhook", "http://169.254.169.254/"))

    assert "localhost does not resolve to a public address" in loopback
    assert "nothing.invalid does not resolve to a public address" in unknown
    assert "127.0.0.1" not in loopback and "loopback" not in loopback
    assert loopback.replace("localhost", "X") == unknown.replace("nothing.invalid", "X")
    assert "169.254.169.254 is a cloud metadata address" in literal  # as typed: nothing to hide
    assert "nothing.invalid does not resolve;" in message_of(await admin.create(user_id, "webhook",
                                                                                "http://nothing.invalid/"))
    assert await admin.methods(user_id) == []


async def test_the_operators_networks_are_allowed(database_url: str) -> None:
    user_id, _ = await new_user(database_url)
    async with gateway(database_url, ADMIN_TOKEN, allow_private_destinations=LOOPBACK_NETWORKS) as http:
        admin = Client(http, ADMIN_TOKEN)
        for address in ("http://localhost:9/hook", "http://127.0.0.1:9/hook", "http://[::1]:9/hook"):
            response = await admin.create(user_id, "webhook", address)
            assert response.status_code == 201, (address, response.text)
        assert "cloud metadata" in message_of(await admin.create(user_id, "webhook", "http://169.254.169.254/"))
        assert "private address" in message_of(await admin.create(user_id, "webhook", "http://10.0.0.1/"))


async def test_other_kinds_are_not_checked(database_url: str, admin: Client) -> None:
    user_id, _ = await new_user(database_url)
    for kind, address in (("email", "oncall@localhost.localdomain"), ("sms", "+14155550123"),
                          ("push", "http://127.0.0.1/not-a-url-for-push")):
        response = await admin.create(user_id, kind, address)
        assert response.status_code == 201, (kind, response.text)
