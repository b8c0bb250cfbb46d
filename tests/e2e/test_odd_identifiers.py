"""Odd identifiers answer 4xx with a message, on every route that takes an id, a cursor, a
key or a time: digits that are not ASCII, numbers past Postgres's bigint, NUL and other
control characters, values far too long. Never a 500, and never a 503 saying the database
is down when it is not.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.client import add_integration, create_service, trigger
from tests.e2e.accounts import client_at

NOT_ASCII_DIGITS = ["%D9%A1%D9%A2%D9%A3", "%C2%B2", "%EF%BC%91%EF%BC%92"]  # '١٢٣', '²', fullwidth '１２'
PAST_INT64 = ["9223372036854775808", "-9223372036854775809", "99999999999999999999999"]
CONTROL = ["%00", "1%00", "%0A", "1%7F"]
TOO_LONG = ["9" * 5000]
ODD_NUMBERS = NOT_ASCII_DIGITS + PAST_INT64 + CONTROL + TOO_LONG + ["0", "-1"]
ODD_UUIDS = NOT_ASCII_DIGITS + CONTROL + ["00000000-0000-0000-0000-00000000000%00", "f" * 5000]
ODD_KEYS = ["0" * 31 + "%00", "0" * 31 + "%0A", "%D9%A1" * 32, "0" * 5000]  # 32 characters, but not a key
ODD_INSTANTS = ["2026-01-05T09:00:00Z%00", "2026-01-05T09:00:00Z%0A", "%D9%A2%D9%A0%D9%A2%D9%A6-01-05T09:00:00Z",
                "9" * 5000]
ODD_TEXT = ["%00", "a%00b", "%1B[31m", "x" * 5000]

SOME_UUID = str(uuid.uuid4())


def refused(response: httpx.Response, where: str) -> str | None:
    """None when the answer is a 4xx with a message; else what is wrong with it."""
    if not 400 <= response.status_code < 500:
        return f"{where}: {response.status_code} {response.text[:200]}"
    try:
        message = response.json().get("message")
    except ValueError:
        message = None
    return None if message else f"{where}: {response.status_code} without a message: {response.text[:200]}"


def all_refused(client: httpx.Client, method: str, template: str, values: list[str], **kwargs: Any) -> None:
    """`template` with each of `values` in place of {} answers a 4xx with a message."""
    wrong = []
    for value in values:
        path = template.format(value)
        problem = refused(client.request(method, path, **kwargs), f"{method} {path[:120]}")
        if problem:
            wrong.append(problem)
    assert wrong == []


@pytest.mark.parametrize(("method", "template", "body"), [
    ("GET", "/api/v1/incidents/{}", None),
    ("POST", "/api/v1/incidents/{}/acknowledge", None),
    ("POST", "/api/v1/incidents/{}/resolve", None),
    ("POST", "/api/v1/incidents/{}/escalate", None),
    ("POST", "/api/v1/incidents/{}/snooze", {"minutes": 5}),
    ("POST", "/api/v1/incidents/{}/reassign", {"user_id": SOME_UUID}),
    ("POST", "/api/v1/incidents/{}/notes", {"text": "a note"}),
    ("GET", "/api/v1/incidents/{}/notifications", None),
    ("GET", "/api/v1/notifications/{}", None),
    ("POST", "/api/v1/notifications/{}/retry", None),
    ("GET", "/ui/incidents/{}", None),
])
def test_odd_numeric_ids_in_paths(api: httpx.Client, method: str, template: str, body: Any) -> None:
    all_refused(api, method, template, ODD_NUMBERS, json=body)


@pytest.mark.parametrize("template", ["/api/v1/incidents?cursor={}", "/api/v1/notifications?cursor={}",
                                      "/api/v1/incidents?limit={}", "/api/v1/notifications?limit={}"])
def test_odd_cursors_and_limits(api: httpx.Client, template: str) -> None:
    all_refused(api, "GET", template, ODD_NUMBERS)


@pytest.mark.parametrize("template", ["/api/v1/incidents?status={}", "/api/v1/incidents?service_id={}",
                                      "/api/v1/notifications?status={}", "/api/v1/notifications?channel={}"])
def test_odd_search_filters(api: httpx.Client, template: str) -> None:
    all_refused(api, "GET", template, ODD_TEXT)


@pytest.mark.parametrize(("method", "template"), [
    ("GET", "/api/v1/services/{}"), ("GET", "/api/v1/services/{}/integrations"),
    ("GET", "/api/v1/services/{}/maintenance"), ("GET", "/api/v1/services/{}/heartbeats"),
    ("GET", "/api/v1/users/{}"), ("GET", "/api/v1/users/{}/contact-methods"),
    ("GET", "/api/v1/escalation-policies/{}"), ("GET", "/api/v1/schedules/{}"),
    ("GET", "/api/v1/schedules/{}/shifts"), ("GET", "/api/v1/heartbeats/{}"), ("DELETE", "/api/v1/tokens/{}"),
    ("GET", "/api/v1/schedules/{}/checks"), ("GET", "/api/v1/users/{}/shift-notices"),
    ("GET", "/api/v1/schedules/{}/oncall.ics?token=t"), ("GET", "/api/v1/users/{}/oncall.ics?token=t"),
    ("GET", "/api/v1/stream?service_id={}"),
])
def test_odd_uuids(api: httpx.Client, method: str, template: str) -> None:
    all_refused(api, method, template, ODD_UUIDS)


@pytest.mark.parametrize("template", ["/api/v1/oncall?at={}", "/api/v1/schedules/{schedule}/oncall?at={}",
                                      "/api/v1/schedules/{schedule}/shifts?from={}",
                                      "/api/v1/schedules/{schedule}/shifts?to={}",
                                      "/api/v1/schedules/{schedule}/overrides?from={}"])
def test_odd_times(api: httpx.Client, template: str) -> None:
    schedule = api.post("/api/v1/schedules", json={"name": "odd times", "time_zone": "UTC", "layers": []})
    assert schedule.status_code == 201, schedule.text
    all_refused(api, "GET", template.replace("{schedule}", schedule.json()["id"]), ODD_INSTANTS)


def test_control_characters_in_a_stream_cursor(api: httpx.Client) -> None:
    all_refused(api, "GET", "/api/v1/stream?last_event_id={}", ["1700000000000-0%00", "%0A", "1-2%7F"])


def test_odd_calendar_tokens(api: httpx.Client, anonymous: httpx.Client) -> None:
    schedule = api.post("/api/v1/schedules", json={"name": "odd tokens", "time_zone": "UTC", "layers": []})
    assert schedule.status_code == 201, schedule.text
    all_refused(anonymous, "GET", f"/api/v1/schedules/{schedule.json()['id']}/oncall.ics?token={{}}", ODD_TEXT)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_odd_heartbeat_keys(anonymous: httpx.Client, method: str) -> None:
    all_refused(anonymous, method, "/api/v1/heartbeats/{}/ping", ODD_KEYS)


def test_odd_check_tokens(anonymous: httpx.Client) -> None:
    all_refused(anonymous, "POST", "/api/v1/checks/{}", ODD_KEYS)


@pytest.mark.parametrize("kind", ["alertmanager", "grafana", "generic"])
def test_odd_integration_keys_in_the_url(anonymous: httpx.Client, kind: str) -> None:
    all_refused(anonymous, "POST", f"/integrations/{kind}/{{}}", ODD_KEYS, json={"alerts": []})


def test_an_odd_routing_key_in_a_pagerduty_event(anonymous: httpx.Client) -> None:
    for key in ("\x00" * 32, "\u0661" * 32):
        assert refused(anonymous.post("/v2/enqueue", json=trigger(key)), repr(key)) is None


@pytest.fixture(scope="module")
def genie(tocsin: Any, admin_token: str) -> dict[str, str]:
    """The headers of an Opsgenie integration's requests."""
    service = create_service(tocsin.base_url, admin_token, "odd identifiers")
    integration = add_integration(tocsin.base_url, admin_token, service.id, "opsgenie")
    return {"Authorization": f"GenieKey {integration.key}"}


@pytest.mark.parametrize("identifier_type", ["id", "tiny"])
@pytest.mark.parametrize("action", ["acknowledge", "close"])
def test_odd_opsgenie_ids(anonymous: httpx.Client, genie: dict[str, str], identifier_type: str, action: str) -> None:
    all_refused(anonymous, "POST", f"/v2/alerts/{{}}/{action}?identifierType={identifier_type}",
                ODD_NUMBERS + ["not-a-number"], headers=genie)


@pytest.mark.parametrize("action", ["acknowledge", "close"])
def test_an_alias_longer_than_opsgenie_takes_is_refused(anonymous: httpx.Client, genie: dict[str, str],
                                                         action: str) -> None:
    """An alias with a control character names an alert created with it (see
    test_unstorable_text.py); only one no alert could have is refused."""
    all_refused(anonymous, "POST", f"/v2/alerts/{{}}/{action}?identifierType=alias", ["a" * 513], headers=genie)


def test_odd_opsgenie_request_ids(anonymous: httpx.Client, genie: dict[str, str]) -> None:
    all_refused(anonymous, "GET", "/v2/alerts/requests/{}", ODD_UUIDS + NOT_ASCII_DIGITS, headers=genie)


def test_an_odd_twilio_notification_id(tocsin: Any, fake_twilio: Any) -> None:
    wrong = []
    for path in ("/webhooks/twilio/voice", "/webhooks/twilio/voice/keypad"):
        for value in ODD_NUMBERS:
            url = f"{tocsin.base_url}{path}?notification={value}"
            signed_url = str(httpx.URL(url))  # as the request goes out, percent-encoded
            response = fake_twilio.signed_post(signed_url, {"Digits": "4"})
            wrong.append(refused(response, f"{path} {value[:40]}"))
    assert [problem for problem in wrong if problem] == []


def test_text_the_database_cannot_hold_is_not_an_outage(tocsin: Any) -> None:
    """The safety net: a value that reaches Postgres and is refused there is the request's
    fault: 400 naming it, not 503."""
    with client_at(tocsin.base_url) as client:  # an address of its own: no other test's failures count
        response = client.post("/api/v1/session", json={"email": "a\x00b@example.com", "password": "whatever"})
    assert response.status_code == 400, response.text
    assert "0x00" in response.json()["message"]
