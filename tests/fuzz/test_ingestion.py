"""Random JSON and bytes at every ingestion route, with a valid key: no answer is a server
error, and every alert an answer accepts is stored.

Three kinds of body per route: any JSON at all, bodies shaped like the route's own format
with any value in any field (text with NUL, lone surrogates, right-to-left marks; numbers;
nesting), and raw bytes. Requests go one at a time, so that what each accepted is counted
from the rows it added.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.client import add_integration, create_service
from tests.e2e.alert_payloads import am_alert, am_notification, grafana_alert, grafana_notification

EXAMPLES = 40

# Text of every kind a sender may write, lone surrogates and control characters included, and
# the strings that have broken alert paths before, often.
NASTY = ["\x00", "disk\x00full", "\ud800", "a\udfffb", "\u202eevil", "line\r\nBcc: victim@example.com",
         "\\u0000", "💥🔥", "x" * 2000, "", " ", "null", "-1", "9" * 40]
any_text = st.text(st.characters(exclude_categories=()), max_size=40) | st.sampled_from(NASTY)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | any_text
any_json = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(any_text, inner, max_size=4), max_leaves=20)


def shaped_like(example: Any) -> st.SearchStrategy[Any]:
    """Bodies with the structure of `example`: each value mostly the example's, else text or
    a value of any kind (three to one, so that many bodies are still taken and stored), and
    sometimes keys left out or added."""
    if isinstance(example, dict):
        fields = {key: _mostly(shaped_like(value), any_json) for key, value in example.items()}
        whole = st.fixed_dictionaries(fields)
        return _mostly(whole, st.fixed_dictionaries({}, optional=fields)
                       | st.builds(lambda body, extra: {**body, **extra}, whole,
                                   st.dictionaries(any_text, any_json, max_size=2)))
    if isinstance(example, list):
        return st.lists(_mostly(*(shaped_like(item) for item in example[:1]), any_json), min_size=1, max_size=4)
    return _mostly(st.just(example), any_text if isinstance(example, str) else scalars)


def _mostly(usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(usual, usual, usual, other)


@dataclass(frozen=True)
class Route:
    name: str
    send: Callable[[httpx.Client, bytes], httpx.Response]
    example: Any
    # Rows the answer says it stored: (table, how many), checked against what the request added.
    stored: Callable[[httpx.Response], int]


@dataclass(frozen=True)
class Deployment:
    client: httpx.Client
    count: Callable[[str], int]  # rows of the fuzzed integrations in a table


@pytest.fixture(scope="module")
def deployment(fuzz_tocsin: Any, fuzz_admin_token: str, fuzz_db: Callable[..., Any]
               ) -> Iterator[tuple[Deployment, dict[str, str]]]:
    base = fuzz_tocsin.base_url
    service = create_service(base, fuzz_admin_token, "fuzzed-sources")
    keys = {"pagerduty": service.key}
    for kind in ("opsgenie", "alertmanager", "grafana", "generic"):
        keys[kind] = add_integration(base, fuzz_admin_token, service.id, kind).key

    def count(table: str) -> int:
        if table == "source_requests":  # kept per integration
            return int(fuzz_db("fetchval", "SELECT count(*) FROM source_requests WHERE integration_id IN"
                                           " (SELECT id FROM integrations WHERE service_id = $1)", service.id))
        return int(fuzz_db("fetchval", f"SELECT count(*) FROM {table} WHERE service_id = $1", service.id))

    with httpx.Client(base_url=base, timeout=30) as client:
        yield Deployment(client, count), keys


def routes(keys: dict[str, str]) -> dict[str, tuple[Route, str]]:
    """Each route with the table its accepted alerts land in."""
    json_type = {"Content-Type": "application/json"}
    genie = {**json_type, "Authorization": f"GenieKey {keys['opsgenie']}"}
    return {
        "pagerduty": (Route(
            "pagerduty", lambda c, body: c.post("/v2/enqueue", content=body, headers=json_type),
            {"routing_key": keys["pagerduty"], "event_action": "trigger", "dedup_key": "fuzz",
             "payload": {"summary": "s", "source": "db1", "severity": "critical", "custom_details": {"a": 1}}},
            lambda r: 1), "alerts"),
        "pagerduty change": (Route(
            "pagerduty change", lambda c, body: c.post("/v2/change/enqueue", content=body, headers=json_type),
            {"routing_key": keys["pagerduty"], "payload": {"summary": "deploy", "source": "ci"}},
            lambda r: 1), "change_events"),
        "opsgenie": (Route(
            "opsgenie", lambda c, body: c.post("/v2/alerts", content=body, headers=genie),
            {"message": "m", "alias": "fuzz", "description": "d", "priority": "P1", "tags": ["t"],
             "details": {"k": "v"}, "entity": "e", "source": "s"},
            lambda r: 1), "source_requests"),
        "opsgenie close": (Route(
            "opsgenie close", lambda c, body: c.post("/v2/alerts/fuzz/close", params={"identifierType": "alias"},
                                                     content=body, headers=genie),
            {"user": "u", "source": "s", "note": "n"}, lambda r: 1), "source_requests"),
        "alertmanager": (Route(
            "alertmanager", lambda c, body: c.post(f"/integrations/alertmanager/{keys['alertmanager']}",
                                                   content=body, headers=json_type),
            am_notification(am_alert("a:1"), am_alert("b:1", status="resolved")),
            lambda r: len(r.json()["incidents"])), "alerts"),
        "grafana": (Route(
            "grafana", lambda c, body: c.post(f"/integrations/grafana/{keys['grafana']}", content=body,
                                              headers=json_type),
            grafana_notification(grafana_alert("a:1")), lambda r: len(r.json()["incidents"])), "alerts"),
        "generic": (Route(
            "generic", lambda c, body: c.post(f"/integrations/generic/{keys['generic']}", content=body,
                                              headers=json_type),
            [{"summary": "s", "id": "fuzz", "severity": "critical", "status": "firing"}],
            lambda r: int(r.json()["events"])), "alerts"),
    }


ROUTES = ["pagerduty", "pagerduty change", "opsgenie", "opsgenie close", "alertmanager", "grafana", "generic"]


def check(deployment: Deployment, route: Route, table: str, body: bytes) -> bool:
    """Send `body`; whether it was accepted (and so stored)."""
    before = deployment.count(table)
    response = route.send(deployment.client, body)
    assert response.status_code < 500, (route.name, body[:300], response.status_code, response.text[:500])
    added = deployment.count(table) - before
    expected = route.stored(response) if response.is_success else 0
    assert added == expected, (route.name, body[:300], response.status_code, response.text[:300], added)
    return response.is_success


def encoded(value: Any) -> bytes:
    """JSON as a sender writes it; lone surrogates travel as their \\u escapes."""
    return json.dumps(value, ensure_ascii=True, allow_nan=False).encode()


FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("name", ROUTES)
def test_any_json_is_answered_without_a_server_error_and_what_is_accepted_is_stored(deployment, name):
    running, keys = deployment
    route, table = routes(keys)[name]

    @FUZZ
    @given(any_json)
    def any_body(body: Any) -> None:
        check(running, route, table, encoded(body))

    any_body()


@pytest.mark.parametrize("name", ROUTES)
def test_bodies_shaped_like_the_format_with_any_values_are_answered_and_stored(deployment, name):
    running, keys = deployment
    route, table = routes(keys)[name]

    accepted = []

    @FUZZ
    @given(shaped_like(route.example))
    def shaped(body: Any) -> None:
        accepted.append(check(running, route, table, encoded(body)))

    shaped()
    assert any(accepted), f"no body shaped like {name}'s was accepted: the storing was never checked"


@pytest.mark.parametrize("name", ROUTES)
def test_any_bytes_are_answered_without_a_server_error(deployment, name):
    running, keys = deployment
    route, table = routes(keys)[name]

    @FUZZ
    @given(st.binary(max_size=300))
    def raw(body: bytes) -> None:
        check(running, route, table, body)

    raw()
