"""Keys nobody has cost nothing, over HTTP and SMTP against `tocsin up`: a key that cannot be
anybody's is refused in each source's own shape, before any lookup; each client address may
try only so many unknown keys, then 429 with Retry-After; real keys, and other addresses,
go on. Each test connects from loopback addresses of its own, as separate machines would."""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.client import add_integration, trigger
from tests.e2e.accounts import client_at, new_address
from tests.e2e.alert_payloads import am_alert, am_notification, grafana_alert, grafana_notification

NOT_A_KEY = "32 characters of 0123456789abcdef"


@dataclass(frozen=True)
class Route:
    """A way a key comes in: what an unknown key gets, and what a real one does."""

    name: str
    kind: str  # the integration type whose keys it takes; "heartbeat" for a heartbeat's
    unknown: int
    accepted: int
    send: Callable[[httpx.Client, str], httpx.Response]


ROUTES = [
    Route("PagerDuty", "pagerduty", 400, 202, lambda c, key: c.post("/v2/enqueue", json=trigger(key))),
    Route("Opsgenie", "opsgenie", 401, 202, lambda c, key: c.post(
        "/v2/alerts", json={"message": "Disk full on db1"}, headers={"Authorization": f"GenieKey {key}"})),
    Route("Alertmanager", "alertmanager", 404, 200, lambda c, key: c.post(
        f"/integrations/alertmanager/{key}", json=am_notification(am_alert("db1")))),
    Route("Grafana", "grafana", 404, 200, lambda c, key: c.post(
        "/integrations/grafana", json=grafana_notification(grafana_alert("db1")),
        headers={"Authorization": f"Bearer {key}"})),
    Route("generic", "generic", 404, 202, lambda c, key: c.post(
        f"/integrations/generic/{key}", json={"title": "Disk full on db1"})),
    Route("heartbeat ping", "heartbeat", 404, 200, lambda c, key: c.get(f"/api/v1/heartbeats/{key}/ping")),
]
# Of the right length, or PagerDuty's model refuses them first, naming the length; ASCII, as
# a header carries it (the unit tests try others).
MALFORMED = ["Z" * 32, "A" * 32, "0" * 31 + "g", "0" * 16 + "-" * 16, "0" * 31 + "."]


def unknown_key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def real_key(tocsin: Any, admin_token: str, api: httpx.Client, new_service: Callable[..., Any]
             ) -> Callable[[Route], str]:
    def make(route: Route) -> str:
        service = new_service(f"keys for {route.name}")
        if route.kind == "heartbeat":
            beat = api.post(f"/api/v1/services/{service.id}/heartbeats", json={"name": "cron", "interval_seconds": 600})
            assert beat.status_code == 201, beat.text
            return beat.json()["key"]  # type: ignore[no-any-return]
        return add_integration(tocsin.base_url, admin_token, service.id, route.kind).key
    return make


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_a_key_that_cannot_be_anybodys_is_refused_as_such_before_any_lookup(tocsin, route):
    with client_at(tocsin.base_url) as client:
        # More of them than an address's budget of unknown keys: none of them is charged to it.
        for _ in range(3):
            for malformed in MALFORMED:
                refusal = route.send(client, malformed)
                assert refusal.status_code == route.unknown, refusal.text
                assert NOT_A_KEY in refusal.text, refusal.text
        unknown = route.send(client, unknown_key())
    assert unknown.status_code == route.unknown, unknown.text
    assert NOT_A_KEY not in unknown.text


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_an_address_trying_unknown_keys_gets_429_while_real_keys_and_other_addresses_go_on(
        tocsin, real_key, route):
    key = real_key(route)
    with client_at(tocsin.base_url) as flooder, client_at(tocsin.base_url) as other:
        assert route.send(flooder, key).status_code == route.accepted
        # 20 unknown keys, then one a second: the first 429 comes within 200 unless each
        # request took a second.
        answers = [route.send(flooder, unknown_key()) for _ in range(200)]
        statuses = [a.status_code for a in answers]
        assert 429 in statuses, statuses
        assert set(statuses) == {route.unknown, 429}
        assert statuses.index(429) >= 20
        limited = answers[statuses.index(429)]
        assert int(limited.headers["retry-after"]) >= 1
        assert "too many unknown" in limited.text

        # The key it uses still goes through; so does another address, known keys or not.
        assert route.send(flooder, key).status_code == route.accepted
        assert route.send(other, unknown_key()).status_code == route.unknown
        assert route.send(other, key).status_code == route.accepted


def test_an_email_address_that_cannot_be_an_integrations_is_refused_as_such(tocsin):
    with smtplib.SMTP("127.0.0.1", tocsin.smtp_port, timeout=30, source_address=(new_address(), 0)) as smtp:
        smtp.ehlo()
        smtp.mail("nagios@monitor.example.com")
        code, message = smtp.rcpt(f"{'Z' * 32}@alerts.tocsin.local")
        assert code == 550 and NOT_A_KEY.encode() in message, message
        code, message = smtp.rcpt(f"{unknown_key()}@alerts.tocsin.local")
        assert code == 550 and NOT_A_KEY.encode() not in message, message
