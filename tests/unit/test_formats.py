"""The ingestion formats and the channels are each declared once (serve/ingest/formats.py,
actors/domain/channels.py), and everything that lists them follows: the gateway's routes, the
OpenAPI document, the REST API's choices, the body limit, where a source sends, the rules'
view of an alert, and the dashboard. Each test goes through the registry, so a new format is
held to all of this by its declaration alone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from ray import cloudpickle
from starlette.routing import compile_path

from tocsin.actors.domain.channels import CHANNELS
from tocsin.actors.domain.rules import FORMATS as RULE_VIEWS
from tocsin.actors.settings import Settings
from tocsin.cluster import deploy
from tocsin.serve import runtime
from tocsin.serve.app import create_api
from tocsin.actors.domain.events import Action
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.api.rule_models import RouterFormat
from tocsin.serve.ingest.common import IntegrationConfig, Refusal, too_large
from tocsin.serve.ingest.formats import CONFIG_MODELS, FORMATS, Format, IntegrationType
from tocsin.serve.route_limits import route_limits

STATIC = Path(__file__).parents[2] / "serve" / "static"
SETTINGS = Settings(max_body_bytes=500_000, max_api_body_bytes=1_000_000, host="tocsin.example", port=8443,
                    email_domain="alerts.example")
KINDS = [declared.kind for declared in FORMATS]
BY_HTTP = [declared for declared in FORMATS if declared.routes is not None]
KEY = "k" * 32


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_api().openapi()


def operations(declared: Format) -> list[tuple[str, str]]:
    """(path as the document writes it, method) of each of the format's routes."""
    assert declared.routes is not None
    return [(re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path), method.lower())
            for route in declared.routes.routes for method in route.methods]


def test_each_kind_is_declared_once_and_the_type_checkers_literal_is_the_same_list() -> None:
    assert len(set(KINDS)) == len(KINDS) == len(FORMATS)
    assert list(get_args(IntegrationType)) == KINDS


def test_only_email_comes_by_another_way_than_http() -> None:
    assert [declared.kind for declared in FORMATS if declared.routes is None] == ["email"]


@pytest.mark.parametrize("declared", FORMATS, ids=KINDS)
def test_each_format_has_a_config_model_and_a_mapping(declared: Format) -> None:
    assert issubclass(declared.config, IntegrationConfig)
    assert CONFIG_MODELS[declared.kind] is declared.config
    assert callable(declared.mapping)


@pytest.mark.parametrize("declared", BY_HTTP, ids=[d.kind for d in BY_HTTP])
def test_each_route_of_a_format_is_in_the_document_with_refusals_in_its_shape(
    document: dict[str, Any], declared: Format,
) -> None:
    assert operations(declared)
    for path, method in operations(declared):
        operation = document["paths"][path][method]
        shapes = {answer["content"]["application/json"]["schema"]["$ref"]
                  for status, answer in operation["responses"].items() if status.startswith("4")}
        assert shapes == {f"#/components/schemas/{declared.refusal_model.__name__}"}, path
        assert declared.refusal_model.__name__ in document["components"]["schemas"]


def test_the_api_offers_each_format_as_an_integration_type(document: dict[str, Any]) -> None:
    assert document["components"]["schemas"]["IntegrationIn"]["properties"]["type"]["enum"] == KINDS


@pytest.mark.parametrize("declared", BY_HTTP, ids=[d.kind for d in BY_HTTP])
def test_the_address_given_to_a_source_is_a_route_of_its_format(declared: Format) -> None:
    address = declared.address_of(KEY, SETTINGS)
    assert address.startswith("http://tocsin.example:8443/")
    path = address.removeprefix("http://tocsin.example:8443")
    assert declared.routes is not None
    assert any(compile_path(route.path)[0].fullmatch(path) for route in declared.routes.routes), address


def test_an_email_integration_is_given_its_own_address() -> None:
    [email] = [declared for declared in FORMATS if declared.kind == "email"]
    assert email.address_of(KEY, SETTINGS) == f"{KEY}@alerts.example"


@pytest.mark.parametrize("declared", BY_HTTP, ids=[d.kind for d in BY_HTTP])
def test_each_route_of_a_format_takes_an_ingestion_body_and_refuses_one_past_it_in_the_formats_shape(
    declared: Format,
) -> None:
    limits = route_limits(SETTINGS)
    assert declared.routes is not None
    for route in declared.routes.routes:
        limit = limits.for_path(route.path.replace("{", "").replace("}", ""))
        assert limit.max_bytes == SETTINGS.max_body_bytes, route.path
        refused = json.loads(limit.refuse(limit.max_bytes).body)
        own = json.loads(declared.refuse(too_large(limit.max_bytes)).body)
        assert refused.keys() == own.keys() and refused["message"] == own["message"], route.path


def answers(api: Any, declared: Format) -> list[tuple[int, list[str]]]:
    """The status and the body's keys of a request to each of the format's routes, each refused
    before any lookup (a malformed key, no key, or an event that is not one)."""
    assert declared.routes is not None
    with TestClient(api) as client:
        found = []
        for route in declared.routes.routes:
            for method in sorted(route.methods):
                answer = client.request(method, re.sub(r"\{[^}]*\}", "x", route.path), content=b"{}",
                                        headers={"Content-Type": "application/json"})
                found.append((answer.status_code, sorted(answer.json())))
        return found


@pytest.mark.parametrize("declared", BY_HTTP, ids=[d.kind for d in BY_HTTP])
def test_each_formats_routes_answer_the_same_in_an_app_that_serve_pickled_into_a_replica(declared: Format) -> None:
    """Serve sends the app to its replicas pickled; routes made by a function are pickled with it."""
    runtime.install(runtime.GatewayRuntime(Settings(), "postgresql://127.0.0.1:1/none"))
    replica = cloudpickle.loads(cloudpickle.dumps(create_api()))
    assert answers(replica, declared) == answers(create_api(), declared)
    assert replica.openapi()["paths"] == create_api().openapi()["paths"]


def test_each_format_has_a_view_for_the_rules() -> None:
    assert set(KINDS) <= set(RULE_VIEWS)


SAMPLES = {
    "pagerduty": {"event_action": "trigger", "payload": {"summary": "Disk full", "source": "db1",
                                                         "severity": "warning"}},
    "alertmanager": {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull"}}]},
    "grafana": {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull"}}]},
    "opsgenie": {"message": "Disk full", "alias": "disk"},
    "generic": [{"summary": "Disk full", "id": "disk"}],
}


def test_each_format_sent_over_http_makes_alert_events_of_a_whole_body_and_a_router_may_take_it() -> None:
    assert [declared.kind for declared in FORMATS if declared.events is not None] == [d.kind for d in BY_HTTP]
    assert list(get_args(RouterFormat)) == [d.kind for d in BY_HTTP] == list(SAMPLES)


@pytest.mark.parametrize("declared", BY_HTTP, ids=[d.kind for d in BY_HTTP])
def test_a_body_makes_the_alert_events_its_routes_would_and_a_bad_one_is_refused(declared: Format) -> None:
    assert declared.events is not None
    sender = IntegrationKey("integration-1", "service-1", declared.kind, False, {})
    now = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
    [event] = declared.events(SAMPLES[declared.kind], sender, now)
    assert (event.service_id, event.integration_id, event.received_at, event.action) == (
        "service-1", "integration-1", now, Action.TRIGGER)
    assert event.summary in ("Disk full", "DiskFull")
    assert "routing_key" not in json.loads(event.payload)
    with pytest.raises(Refusal):
        declared.events(42, sender, now)


def test_a_replica_knows_every_formats_options_without_importing_a_format_for_its_side_effects() -> None:
    """In a fresh interpreter that imports only the app, as a Serve replica does, an e-mail
    integration's options are checked by the e-mail model, though no route refers to it."""
    script = textwrap.dedent(f"""
        from fastapi.testclient import TestClient
        from tocsin.actors.settings import Settings
        from tocsin.serve import runtime
        from tocsin.serve.app import create_api
        runtime.install(runtime.GatewayRuntime(Settings(admin_token="t"), "postgresql://127.0.0.1:1/none"))
        with TestClient(create_api()) as client:
            answer = client.post("/api/v1/services/{uuid.uuid4()}/integrations",
                                 headers={{"Authorization": "Bearer t"}},
                                 json={{"type": "email", "config": {{"resolve_subject_pattern": ".*"}}}})
        print(answer.status_code, answer.text)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=os.environ.copy(), check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    status, _, body = done.stdout.strip().splitlines()[-1].partition(" ")
    assert status == "422", body
    assert "config.resolve_subject_pattern" in body and "matches an empty subject" in body


# -- channels ----------------------------------------------------------------------------


def test_the_api_offers_each_channel_as_a_contact_kind_and_a_filter(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["ContactMethodIn"]["properties"]["kind"]["enum"] == list(CHANNELS)
    assert schemas["ContactMethodOut"]["properties"]["kind"]["enum"] == list(CHANNELS)
    [channel] = [p for p in document["paths"]["/api/v1/notifications"]["get"]["parameters"] if p["name"] == "channel"]
    assert channel["schema"]["anyOf"][0]["enum"] == list(CHANNELS)


def test_a_channel_actor_is_started_for_each_channel() -> None:
    assert tuple(deploy.CHANNELS) == CHANNELS


# -- the dashboard keeps its own words for each, and offers all of them --------------------


def js_object_keys(source: str, name: str) -> list[str]:
    body = re.search(rf"const {name} = \{{(.*?)\n\}};", source, re.DOTALL)
    assert body, name
    return re.findall(r"^\s+(\w+):", body.group(1), re.MULTILINE)


def test_the_dashboard_offers_every_integration_type() -> None:
    assert sorted(js_object_keys((STATIC / "services.js").read_text(), "SOURCE_HINTS")) == sorted(KINDS)


def test_the_dashboard_offers_every_contact_kind_and_channel() -> None:
    assert sorted(js_object_keys((STATIC / "users.js").read_text(), "CONTACT_KINDS")) == sorted(CHANNELS)
    page = (STATIC / "notifications.html").read_text()
    select = re.search(r'<select id="filter-channel".*?</select>', page, re.DOTALL)
    assert select
    assert [v for v in re.findall(r'<option value="(\w*)"', select.group(0)) if v] == list(CHANNELS)
