"""The Alertmanager and Grafana endpoints refuse bad input and bad keys with a 4xx naming the
problem, in Tocsin's shape, and store nothing of it; the key may also come as a Bearer token."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.alert_payloads import (
    Source,
    am_alert,
    am_notification,
    grafana_alert,
    grafana_notification,
    source_of,
)
from tests.e2e.conftest import incidents_of

NOTIFICATIONS = {"alertmanager": am_notification(am_alert("checkout-0:8080")),
                 "grafana": grafana_notification(grafana_alert("node-a:9100"))}
KINDS = list(NOTIFICATIONS)


def bad_input(notification: dict[str, Any]) -> Iterator[tuple[str, Any, str, int, str]]:
    """(case, body, Content-Type, status, what the message names) for a valid `notification`."""
    alert = notification["alerts"][0]

    def with_alert(**fields: Any) -> dict[str, Any]:
        return {**notification, "alerts": [{**alert, **fields}]}

    yield "malformed JSON", json.dumps(notification).encode()[:-40], "application/json", 400, "not valid JSON"
    yield "not an object", [notification], "application/json", 400, "dictionary"
    yield "wrong type of labels", with_alert(labels="severity=critical"), "application/json", 400, "alerts.0.labels"
    yield "wrong type of a label", with_alert(labels={"severity": 5}), "application/json", 400, \
        "alerts.0.labels.severity"
    yield "wrong type of startsAt", with_alert(startsAt="at noon"), "application/json", 400, "alerts.0.startsAt"
    yield "missing alerts", {k: v for k, v in notification.items() if k != "alerts"}, "application/json", 400, \
        "alerts: Field required"
    yield "no alerts", {**notification, "alerts": []}, "application/json", 400, "alerts"
    yield "missing alert status", {**notification, "alerts": [{k: v for k, v in alert.items() if k != "status"}]}, \
        "application/json", 400, "alerts.0.status"
    yield "bad status value", {**notification, "status": "pending"}, "application/json", 400, "status"
    yield "bad alert status value", with_alert(status="acknowledged"), "application/json", 400, "alerts.0.status"
    yield "form-encoded body", b"status=firing", "application/x-www-form-urlencoded", 415, "Content-Type"
    yield "body over 512 KB", {**notification, "commonAnnotations": {"blob": "x" * (513 * 1024)}}, \
        "application/json", 413, "too large"


BAD_INPUT = [(kind, *case) for kind in KINDS for case in bad_input(NOTIFICATIONS[kind])]
KEY_CASES = [("unknown key", 404, "no integration has this key"), ("revoked key", 403, "revoked"),
             ("PagerDuty key", 400, "pagerduty integration")]


@pytest.fixture
def source(tocsin: Any, admin_token: str) -> Callable[[str], Source]:
    return lambda kind: source_of(tocsin.base_url, admin_token, kind)


def post(client: httpx.Client, path: str, body: Any, content_type: str = "application/json",
         **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=content, headers={"Content-Type": content_type, **headers})


def refuses(response: httpx.Response, status: int, says: str, api: httpx.Client, db: Callable[..., Any],
            source: Source) -> None:
    """A refusal in Tocsin's shape naming the problem, and nothing of it stored."""
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error"] and isinstance(answer["errors"], list)
    assert says.lower() in answer["message"].lower(), answer
    assert incidents_of(api, source.service_id) == []
    assert db("fetch", "SELECT 1 FROM alerts WHERE service_id = $1::uuid", source.service_id) == []


@pytest.mark.parametrize(("kind", "body", "content_type", "status", "says"), [c[:1] + c[2:] for c in BAD_INPUT],
                         ids=[f"{c[0]}: {c[1]}" for c in BAD_INPUT])
def test_bad_input_is_refused_and_not_stored(anonymous, api, db, source, kind, body, content_type, status, says):
    fed = source(kind)
    refuses(post(anonymous, fed.path, body, content_type), status, says, api, db, fed)


def key_for(case: str, api: httpx.Client, fed: Source) -> str:
    if case == "unknown key":
        return "0" * 32
    if case == "revoked key":
        revoked = api.delete(f"/api/v1/services/{fed.service_id}/integrations/{fed.integration_id}")
        assert revoked.status_code == 200, revoked.text
        return fed.key
    return fed.pagerduty_key


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("case", "status", "says"), KEY_CASES, ids=[c[0] for c in KEY_CASES])
def test_bad_keys_are_refused_and_not_stored(anonymous, api, db, source, kind, case, status, says):
    fed = source(kind)
    key = key_for(case, api, fed)
    refuses(post(anonymous, f"/integrations/{kind}/{key}", NOTIFICATIONS[kind]), status, says, api, db, fed)


@pytest.mark.parametrize(("kind", "other"), [("alertmanager", "grafana"), ("grafana", "alertmanager")])
def test_a_key_of_the_other_format_is_refused(anonymous, api, db, source, kind, other):
    fed = source(other)
    response = post(anonymous, f"/integrations/{kind}/{fed.key}", NOTIFICATIONS[kind])
    refuses(response, 400, f"belongs to a {other} integration, not {kind}", api, db, fed)


@pytest.mark.parametrize("kind", KINDS)
def test_the_key_may_come_as_a_bearer_token(anonymous, api, db, source, kind):
    fed = source(kind)
    refuses(post(anonymous, f"/integrations/{kind}", NOTIFICATIONS[kind]), 401, "Authorization: Bearer",
            api, db, fed)
    response = post(anonymous, f"/integrations/{kind}", NOTIFICATIONS[kind], Authorization=f"Bearer {fed.key}")
    assert response.status_code == 200, response.text
    assert [i["status"] for i in incidents_of(api, fed.service_id)] == ["triggered"]


def test_grafana_values_of_the_wrong_type_are_refused(anonymous, api, db, source):
    fed = source("grafana")
    alert = {**grafana_alert("node-a:9100"), "values": {"A": "high"}}
    refuses(post(anonymous, fed.path, grafana_notification(alert)), 400, "alerts.0.values.A", api, db, fed)
