"""Routing rules and router integrations through the REST API, as an admin, a responder and a
viewer meet them; and rules tried on a sample alert as Alertmanager sends it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.client import Service, trigger
from tests.e2e.accounts import logged_in, make_user, personal_token
from tests.e2e.alert_payloads import am_alert, am_notification
from tests.e2e.conftest import refused

RULES = "/api/v1/rules"
ROUTERS = "/api/v1/integrations"
DB_HOSTS = {"field": "labels.instance", "op": "starts_with", "value": "db-"}


def made(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def service_rule(api: httpx.Client, service_id: str, name: str, **fields: Any) -> dict[str, Any]:
    return made(api.post(RULES, json={"kind": "service", "service_id": service_id, "name": name, **fields}))


def listed(api: httpx.Client, **params: str) -> dict[str, Any]:
    return made(api.get(RULES, params=params), 200)


def problems(response: httpx.Response) -> list[str]:
    """The problems of a 422, as the API lists them."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid request" and body["message"] == "; ".join(body["errors"])
    return body["errors"]  # type: ignore[no-any-return]


@pytest.fixture
def service(new_service: Callable[..., Service]) -> Service:
    return new_service(f"rules-{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def bearer(api: httpx.Client, tocsin: Any) -> Callable[[str], dict[str, str]]:
    """Headers of a logged-in user of each role, by role; made once per module."""
    tokens = {role: personal_token(tocsin.base_url, logged_in(tocsin.base_url, make_user(api, role)))
              for role in ("viewer", "responder")}
    return lambda role: {"Authorization": f"Bearer {tokens[role]}"}


# -- rules of a service ------------------------------------------------------------------------------

def test_a_service_rule_is_created_read_replaced_and_deleted_and_every_version_kept(api, service):
    body = {"conditions": DB_HOSTS, "actions": {"priority": "P2", "tags": ["database"]}, "continue": True}
    rule = service_rule(api, service.id, "db hosts", **body)
    assert rule | {"id": None, "updated_at": None} == {
        "id": None, "kind": "service", "service_id": service.id, "integration_id": None, "position": 0,
        "name": "db hosts", "enabled": True, **body, "route_to": None, "source": None, "target": None,
        "equal": None, "version": 1, "updated_at": None, "updated_by": "admin",
        "matches": {"last_hour": 0, "last_day": 0},
    }
    assert made(api.get(f"{RULES}/{rule['id']}"), 200) == rule
    assert listed(api, kind="service", service_id=service.id) == {"rules": [rule], "catch_all": None}

    # A rule read back can be sent again as it is, minus what is not the rule's to change.
    again = {key: value for key, value in rule.items()
             if key not in ("id", "kind", "service_id", "integration_id", "version", "updated_at", "updated_by",
                            "matches")}
    replaced = made(api.put(f"{RULES}/{rule['id']}", json={**again, "enabled": False, "actions": {"suppress": True}}),
                    200)
    assert replaced | {"updated_at": None} == rule | {"enabled": False, "actions": {"suppress": True}, "version": 2,
                                                      "updated_at": None}

    assert api.delete(f"{RULES}/{rule['id']}").status_code == 204
    refused(api.get(f"{RULES}/{rule['id']}"), 404, rule["id"])
    refused(api.put(f"{RULES}/{rule['id']}", json={"name": "gone"}), 404, rule["id"])
    refused(api.delete(f"{RULES}/{rule['id']}"), 404, rule["id"])
    versions = made(api.get(f"{RULES}/{rule['id']}/versions"), 200)["versions"]
    assert [(v["version"], v["spec"]["enabled"] if "enabled" in v["spec"] else True, v["deleted"], v["saved_by"])
            for v in versions] == [(1, True, False, "admin"), (2, False, False, "admin"), (3, False, True, "admin")]
    assert versions[0]["spec"] == {"id": rule["id"], "name": "db hosts", "enabled": True, **body}
    refused(api.get(f"{RULES}/{uuid.uuid4()}/versions"), 404)


def test_rules_keep_the_order_they_are_given(api, service):
    first, second, third = (service_rule(api, service.id, name)["id"] for name in ("one", "two", "three"))
    on_top = service_rule(api, service.id, "on top", position=0)["id"]
    assert [r["id"] for r in listed(api, kind="service", service_id=service.id)["rules"]] == [
        on_top, first, second, third]

    reordered = made(api.post(f"{RULES}/order", json={"kind": "service", "service_id": service.id,
                                                      "ids": [third, second, first, on_top]}), 200)
    assert [(r["id"], r["position"]) for r in reordered["rules"]] == [(third, 0), (second, 1), (first, 2), (on_top, 3)]

    moved = made(api.put(f"{RULES}/{on_top}", json={"name": "on top again", "position": 0}), 200)
    assert moved["position"] == 0
    assert api.delete(f"{RULES}/{second}").status_code == 204
    assert [(r["id"], r["position"]) for r in listed(api, kind="service", service_id=service.id)["rules"]] == [
        (on_top, 0), (third, 1), (first, 2)]

    stray = str(uuid.uuid4())
    errors = problems(api.post(f"{RULES}/order", json={"kind": "service", "service_id": service.id,
                                                       "ids": [on_top, third, stray, on_top]}))
    assert errors == [f"ids: names {on_top} twice", f"ids: names {stray}, which is no rule of this set",
                      f"ids: leaves out {first}"]


BAD_RULES = [
    ("an unknown field of the body", {"colour": "red"}, ["colour: Extra inputs are not permitted"]),
    ("an unknown key in a condition", {"conditions": {**DB_HOSTS, "colour": 1}}, ["conditions.colour: unknown key"]),
    ("a field that does not exist", {"conditions": {"field": "lables.env", "op": "equals", "value": "prod"}},
     ['conditions.field: "lables.env" names no field']),
    ("an invalid regular expression", {"conditions": {"field": "labels.instance", "op": "matches", "value": "(["}},
     ["conditions.value: invalid regular expression"]),
    ("a template that refers to nothing", {"actions": {"summary": "{{nothing.here}} is down"}},
     ['actions.summary: in the template, "nothing.here" names no field']),
    ("an unknown operator", {"conditions": {"field": "labels.env", "op": "resembles", "value": "prod"}},
     ['conditions.op: unknown operator "resembles"']),
    ("every problem at once", {"conditions": {"all": [DB_HOSTS, {"field": "labels.env", "op": "resembles"}]},
                               "actions": {"priority": "P9", "summary": "{{labels}}"}},
     ['conditions.all[1].op: unknown operator "resembles"', "actions.priority: must be one of P1",
      'actions.summary: in the template, "labels" names no field']),
    ("a part of another kind", {"route_to": str(uuid.uuid4())}, ["route_to: unknown key"]),
]


@pytest.mark.parametrize("fields, expected", [case[1:] for case in BAD_RULES], ids=[case[0] for case in BAD_RULES])
def test_a_bad_rule_is_refused_naming_every_problem_by_its_path(api, service, fields, expected):
    for response in (api.post(RULES, json={"kind": "service", "service_id": service.id, "name": "bad", **fields}),
                     api.put(f"{RULES}/{service_rule(api, service.id, 'good')['id']}", json={"name": "bad", **fields})):
        errors = problems(response)
        assert len(errors) == len(expected), errors
        for error, start in zip(errors, expected):
            assert error.startswith(start), errors
    assert [r["name"] for r in listed(api, kind="service", service_id=service.id)["rules"]] == ["good"]


def test_a_rule_set_must_be_named_as_its_kind_says_and_exist(api, service):
    missing = str(uuid.uuid4())
    refused(api.post(RULES, json={"kind": "service", "service_id": missing, "name": "x"}), 404, missing)
    refused(api.get(RULES, params={"kind": "service", "service_id": missing}), 404, missing)
    refused(api.post(RULES, json={"kind": "router", "integration_id": missing, "name": "x",
                                  "route_to": service.id}), 404, missing)
    assert problems(api.post(RULES, json={"kind": "service", "name": "x"})) == [
        "service_id: is required for service rules"]
    assert problems(api.get(RULES, params={"kind": "inhibit", "service_id": service.id})) == [
        "query.service_id: is not for inhibit rules"]


# -- roles ---------------------------------------------------------------------------------------------

def test_any_role_reads_rules_and_tries_them_but_only_an_admin_changes_them(api, tocsin, service, bearer):
    rule = service_rule(api, service.id, "admins only")
    sample = {"format": "generic", "payload": {"summary": "Disk full"}, "service_id": service.id}
    for role in ("viewer", "responder"):
        with httpx.Client(base_url=tocsin.base_url, headers=bearer(role), timeout=30) as client:
            assert made(client.get(RULES, params={"kind": "service", "service_id": service.id}), 200)["rules"] == [
                rule]
            assert made(client.get(f"{RULES}/{rule['id']}/versions"), 200)["versions"][0]["version"] == 1
            assert made(client.post(f"{RULES}/test", json=sample), 200)["alerts"][0]["service_rules"] == [rule["id"]]
            refused(client.post(RULES, json={"kind": "service", "service_id": service.id, "name": "x"}), 403, "admin")
            refused(client.put(f"{RULES}/{rule['id']}", json={"name": "x"}), 403, "admin")
            refused(client.delete(f"{RULES}/{rule['id']}"), 403, "admin")
            refused(client.post(f"{RULES}/order", json={"kind": "service", "service_id": service.id,
                                                        "ids": [rule["id"]]}), 403, "admin")
            refused(client.post(ROUTERS, json={"type": "router", "format": "generic", "catch_all": {"drop": True}}),
                    403, "admin")
    assert made(api.get(f"{RULES}/{rule['id']}"), 200) == rule


# -- router integrations -----------------------------------------------------------------------------

@pytest.fixture
def router(api: httpx.Client, service: Service) -> Iterator[dict[str, Any]]:
    """An Alertmanager router whose catch-all is `service`."""
    created = made(api.post(ROUTERS, json={"type": "router", "name": "edge", "format": "alertmanager",
                                           "catch_all": {"route_to": service.id}}))
    yield created
    api.delete(f"{ROUTERS}/{created['id']}")


def test_a_router_integration_answers_with_its_key_and_where_to_send_and_only_admins_see_them(
        api, tocsin, router, service, bearer):
    assert router["type"] == "router" and router["service_id"] is None
    assert router["format"] == "alertmanager" and router["catch_all"] == {"route_to": service.id}
    assert router["config"] == {"format": "alertmanager", "catch_all": {"route_to": service.id}}
    assert router["url"] == f"{tocsin.base_url}/integrations/alertmanager/{router['key']}"
    assert router in made(api.get(ROUTERS, params={"type": "router"}), 200)["integrations"]
    with httpx.Client(base_url=tocsin.base_url, headers=bearer("viewer"), timeout=30) as viewer:
        shown = [i for i in made(viewer.get(ROUTERS), 200)["integrations"] if i["id"] == router["id"]]
    assert shown == [router | {"key": None, "url": None}]

    renamed = made(api.patch(f"{ROUTERS}/{router['id']}", json={"name": "edge 2", "catch_all": {"drop": True}}), 200)
    assert renamed | {"name": None, "catch_all": None, "config": None} == router | {
        "name": None, "catch_all": None, "config": None}
    assert (renamed["name"], renamed["catch_all"]) == ("edge 2", {"drop": True})
    assert listed(api, kind="router", integration_id=router["id"]) == {"rules": [], "catch_all": {"drop": True}}


def test_a_router_sends_only_to_services_that_exist(api, router):
    missing = str(uuid.uuid4())
    assert problems(api.patch(f"{ROUTERS}/{router['id']}", json={"catch_all": {"route_to": missing}})) == [
        f"catch_all.route_to: no service has the id {missing}"]
    assert problems(api.patch(f"{ROUTERS}/{router['id']}", json={"catch_all": {}})) == [
        'catch_all: says either {"route_to": "<service id>"} or {"drop": true}']
    assert problems(api.post(RULES, json={"kind": "router", "integration_id": router["id"], "name": "x",
                                          "route_to": missing})) == [f"route_to: no service has the id {missing}"]
    assert problems(api.post(RULES, json={"kind": "router", "integration_id": router["id"], "name": "x"})) == [
        "route_to: required"]
    assert problems(api.post(ROUTERS, json={"type": "router", "format": "generic",
                                            "catch_all": {"route_to": missing}})) == [
        f"catch_all.route_to: no service has the id {missing}"]


# -- trying rules on a sample --------------------------------------------------------------------------

def test_an_alertmanager_notification_is_routed_by_label_then_through_its_services_rules(
        api, router, service, new_service):
    databases = new_service(f"databases-{uuid.uuid4().hex[:6]}")
    route = made(api.post(RULES, json={"kind": "router", "integration_id": router["id"], "name": "db hosts",
                                       "conditions": DB_HOSTS, "route_to": databases.id}))
    enrich = service_rule(api, databases.id, "db on call", conditions={"field": "labels.job", "op": "equals",
                                                                       "value": "checkout"},
                          actions={"priority": "P1", "urgency": "low", "summary": "{{labels.instance}} is slow",
                                   "details": {"runbook": "https://wiki/{{labels.alertname}}"}, "tags": ["db"]})
    notification = am_notification(am_alert("db-1:9100"), am_alert("web-1:9100", severity="warning"))

    tried = made(api.post(f"{RULES}/test", json={"format": "alertmanager", "payload": notification,
                                                 "integration_id": router["id"]}), 200)["alerts"]

    to_databases, to_catch_all = tried
    assert to_databases == {
        "router": {"rule": route["id"], "by_catch_all": False, "service_id": databases.id},
        "service_rules": [enrich["id"]], "inhibited_by": None,
        "alert": {"summary": "db-1:9100 is slow", "severity": "critical", "urgency": "low", "priority": "P1",
                  "dedup_key": to_databases["alert"]["dedup_key"],
                  "details": {"runbook": "https://wiki/HighRequestLatency"}, "tags": ["db"]},
        "disposition": "page", "pause_minutes": 0, "would_page": True,
    }
    assert to_databases["alert"]["dedup_key"].startswith("am:")
    assert to_catch_all["router"] == {"rule": None, "by_catch_all": True, "service_id": service.id}
    assert to_catch_all["service_rules"] == [] and to_catch_all["disposition"] == "page"
    assert to_catch_all["alert"] | {"dedup_key": None} == {
        "summary": "High request latency on web-1:9100", "severity": "warning", "urgency": "high", "priority": None,
        "dedup_key": None, "details": {}, "tags": []}

    matches = [r["matches"] for r in listed(api, kind="router", integration_id=router["id"])["rules"]]
    assert matches == [{"last_hour": 0, "last_day": 0}]  # a test is no match: nothing is stored


def test_rules_suppress_pause_or_drop_and_inhibit_rules_silence_what_an_open_incident_covers(
        api, anonymous, router, service):
    pause = service_rule(api, service.id, "pause web", conditions={"field": "labels.instance", "op": "starts_with",
                                                                  "value": "web-"}, actions={"pause_minutes": 10})
    sample = {"format": "alertmanager", "payload": am_notification(am_alert("web-1:9100")), "service_id": service.id}
    [paused] = made(api.post(f"{RULES}/test", json=sample), 200)["alerts"]
    assert (paused["router"], paused["service_rules"], paused["disposition"], paused["pause_minutes"],
            paused["would_page"]) == (None, [pause["id"]], "pause", 10, False)

    outage = f"Datacenter {uuid.uuid4().hex[:6]} down"
    assert anonymous.post("/v2/enqueue", json=trigger(service.key, summary=outage)).status_code == 202
    inhibit = made(api.post(RULES, json={"kind": "inhibit", "name": "dc down", "equal": [],
                                         "source": {"field": "summary", "op": "equals", "value": outage},
                                         "target": {"field": "labels.alertname", "op": "equals",
                                                    "value": "HighRequestLatency"}}))
    try:
        [silenced] = made(api.post(f"{RULES}/test", json=sample), 200)["alerts"]
        assert (silenced["inhibited_by"], silenced["disposition"], silenced["pause_minutes"]) == (
            inhibit["id"], "suppress", 0)
    finally:
        assert api.delete(f"{RULES}/{inhibit['id']}").status_code == 204

    made(api.patch(f"{ROUTERS}/{router['id']}", json={"catch_all": {"drop": True}}), 200)
    [dropped] = made(api.post(f"{RULES}/test", json={**sample, "service_id": None, "integration_id": router["id"]}),
                     200)["alerts"]
    assert dropped["router"] == {"rule": None, "by_catch_all": True, "service_id": None}
    assert (dropped["disposition"], dropped["service_rules"], dropped["would_page"]) == ("drop", [], False)


def test_a_sample_its_source_could_not_send_is_refused_as_ingestion_refuses_it(api, router, service):
    errors = problems(api.post(f"{RULES}/test", json={"format": "alertmanager", "payload": {"alerts": []},
                                                      "service_id": service.id}))
    assert any(error.startswith("payload: alerts") for error in errors), errors
    assert problems(api.post(f"{RULES}/test", json={"format": "generic", "payload": {"summary": "x"},
                                                    "integration_id": router["id"]})) == [
        f"format: the router integration {router['id']} takes alertmanager, not generic"]
    assert problems(api.post(f"{RULES}/test", json={"format": "generic", "payload": {}})) == [
        "integration_id: give either integration_id (a router integration's) or service_id"]
