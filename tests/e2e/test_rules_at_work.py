"""Routing rules acting on real traffic, over HTTP: one Alertmanager key routed by label to
several services, the catch-all, service rules rewriting, dropping, suppressing and pausing
alerts from any integration, a rule changed through the API taking effect without a restart,
inhibition by an open incident, and the counts on the Rules API and /metrics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tocsin.serve.ingest.prometheus_alerts import label_fingerprint

from tests.client import Service, add_integration, create_user, trigger
from tests.e2e.alert_payloads import AM_HEADERS, am_alert, am_notification
from tests.e2e.conftest import incidents_of

RULES = "/api/v1/rules"
ROUTERS = "/api/v1/integrations"
SETTLE_S = 20.0  # the bound of a wait for something the gateway does in the background
RULE_REACHES_GATEWAY_S = 2.0  # a saved rule acts on alerts within this, without a restart


def made(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


def labelled(instance: str, **labels: str) -> dict[str, Any]:
    """An Alertmanager alert on `instance` with `labels` added, fingerprinted as Alertmanager does."""
    alert = am_alert(instance)
    alert["labels"] = {**alert["labels"], **labels}
    alert["fingerprint"] = label_fingerprint(alert["labels"])
    return alert


def notify(client: httpx.Client, key: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/integrations/alertmanager/{key}", json=am_notification(*alerts), headers=AM_HEADERS)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def new_router(api: httpx.Client, catch_all: dict[str, Any], format: str = "alertmanager") -> dict[str, Any]:
    return made(api.post(ROUTERS, json={"type": "router", "name": unique("router"), "format": format,
                                        "catch_all": catch_all}))


def route(api: httpx.Client, router_id: str, service_id: str, conditions: Any) -> dict[str, Any]:
    return made(api.post(RULES, json={"kind": "router", "integration_id": router_id, "name": unique("route"),
                                      "conditions": conditions, "route_to": service_id}))


def service_rule(api: httpx.Client, service_id: str, **fields: Any) -> dict[str, Any]:
    return made(api.post(RULES, json={"kind": "service", "service_id": service_id, "name": unique("rule"),
                                      **fields}))


def in_effect(api: httpx.Client, service_id: str) -> None:
    """Once the rules saved so far act at the gateway: trying them loads them there (the gateway
    polls for changes too, the test below shows, but a test need not wait for its poll)."""
    sample = {"format": "pagerduty", "service_id": service_id, "payload": trigger("0" * 32)}
    made(api.post(f"{RULES}/test", json=sample), 200)


def label_is(name: str, value: str) -> dict[str, str]:
    return {"field": f"labels.{name}", "op": "equals", "value": value}


def settled(read: Callable[[], Any], done: Callable[[Any], bool], bound_s: float = SETTLE_S) -> Any:
    """`read()` once `done` holds of it, read again until then, at most `bound_s`; the last
    reading either way (the caller asserts on it)."""
    deadline = time.monotonic() + bound_s
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


def scrape(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def matches(api: httpx.Client, rule: dict[str, Any], **owner: str) -> int:
    """The rule's matches in the last hour, as GET /api/v1/rules lists them."""
    listed = made(api.get(RULES, params={"kind": rule["kind"], **owner}), 200)["rules"]
    [found] = [r for r in listed if r["id"] == rule["id"]]
    return found["matches"]["last_hour"]  # type: ignore[no-any-return]


def by_source(api: httpx.Client, service_id: str) -> dict[str, dict[str, Any]]:
    return {incident["source"]: incident for incident in incidents_of(api, service_id)}


# -- router integrations ----------------------------------------------------------------------------

def test_one_alertmanager_key_routes_each_alert_by_label_to_its_service_and_the_rest_to_the_catch_all(
        api, anonymous, new_service):
    payments, search, storage = (new_service(unique(team)) for team in ("payments", "search", "storage"))
    router = new_router(api, {"drop": True})
    routes = {team: route(api, router["id"], service.id, label_is("team", team))
              for team, service in (("payments", payments), ("search", search), ("storage", storage))}

    answer = notify(anonymous, router["key"], labelled("pay-1:9100", team="payments"),
                    labelled("search-1:9100", team="search"), labelled("disk-1:9100", team="storage"),
                    labelled("pay-2:9100", team="payments"), labelled("lost-1:9100", team="nobody"))

    assert [i["outcome"] for i in answer["incidents"]] == ["opened"] * 4 + ["dropped"]
    assert set(by_source(api, payments.id)) == {"pay-1:9100", "pay-2:9100"}
    assert set(by_source(api, search.id)) == {"search-1:9100"}
    assert set(by_source(api, storage.id)) == {"disk-1:9100"}
    assert settled(lambda: matches(api, routes["payments"], integration_id=router["id"]), lambda n: n == 2) == 2
    dropped = ("tocsin_alerts_dropped_total", (("by", "catch_all"), ("id", router["id"])))
    assert settled(lambda: scrape(anonymous).get(dropped), lambda n: n == 1) == 1
    assert scrape(anonymous)[("tocsin_rule_matches_total", (("rule", routes["search"]["id"]),))] == 1


def test_the_catch_all_takes_what_no_route_matches_and_what_a_route_sends_to_a_deleted_service(
        api, anonymous, new_service):
    fallback, doomed = new_service(unique("fallback")), new_service(unique("doomed"))
    router = new_router(api, {"route_to": fallback.id})
    route(api, router["id"], doomed.id, label_is("team", "doomed"))
    assert api.delete(f"/api/v1/services/{doomed.id}").status_code == 204
    sample = {"format": "alertmanager", "integration_id": router["id"],
              "payload": am_notification(labelled("gone-1:9100", team="doomed"))}
    tried = settled(lambda: made(api.post(f"{RULES}/test", json=sample), 200)["alerts"][0]["router"],
                    lambda routed: routed["by_catch_all"])
    assert tried == {"rule": None, "by_catch_all": True, "service_id": fallback.id}

    notify(anonymous, router["key"], labelled("gone-1:9100", team="doomed"), labelled("other-1:9100", team="x"))

    assert set(by_source(api, fallback.id)) == {"gone-1:9100", "other-1:9100"}


def test_router_keys_work_on_every_json_format_and_a_change_event_names_why_it_is_refused(
        api, anonymous, new_service):
    service = new_service(unique("routed"))
    keys = {fmt: new_router(api, {"route_to": service.id}, fmt)["key"]
            for fmt in ("pagerduty", "opsgenie", "generic", "grafana")}

    sent = [
        anonymous.post("/v2/enqueue", json=trigger(keys["pagerduty"], "pd-1", summary="from pagerduty")),
        anonymous.post("/v2/alerts", json={"message": "from opsgenie", "alias": "og-1"},
                       headers={"Authorization": f"GenieKey {keys['opsgenie']}"}),
        anonymous.post(f"/integrations/generic/{keys['generic']}", json={"summary": "from generic", "id": "g-1"}),
    ]
    change = anonymous.post("/v2/change/enqueue", json={"routing_key": keys["pagerduty"],
                                                        "payload": {"summary": "deployed"}})

    assert [answer.status_code for answer in sent] == [202, 202, 202], [a.text for a in sent]
    summaries = {incident["summary"] for incident in incidents_of(api, service.id)}
    assert summaries == {"from pagerduty", "from opsgenie", "from generic"}
    assert change.status_code == 400 and "router" in change.text
    wrong = anonymous.post(f"/integrations/alertmanager/{keys['grafana']}", json=am_notification(am_alert("x")),
                           headers=AM_HEADERS)
    assert wrong.status_code == 400 and "router integration taking grafana" in wrong.text


def test_an_acknowledge_and_a_resolve_with_only_a_dedup_key_follow_their_alert_through_a_router(
        api, anonymous, new_service):
    """A PagerDuty acknowledge or resolve carries its dedup key and nothing a route could match:
    it reaches the incident the router's trigger opened, not the catch-all."""
    databases, rest = new_service(unique("databases")), new_service(unique("the-rest"))
    router = new_router(api, {"route_to": rest.id}, "pagerduty")
    route(api, router["id"], databases.id, {"field": "source", "op": "equals", "value": "db1"})
    in_effect(api, databases.id)
    key = router["key"]

    opened = anonymous.post("/v2/enqueue", json=trigger(key, "disk-db1"))
    acknowledged = anonymous.post("/v2/enqueue", json={"routing_key": key, "event_action": "acknowledge",
                                                       "dedup_key": "disk-db1"})
    acked = incidents_of(api, databases.id)
    resolved = anonymous.post("/v2/enqueue", json={"routing_key": key, "event_action": "resolve",
                                                   "dedup_key": "disk-db1"})

    assert [a.status_code for a in (opened, acknowledged, resolved)] == [202, 202, 202]
    assert [(i["dedup_key"], i["status"]) for i in acked] == [("disk-db1", "acknowledged")]
    assert [i["status"] for i in incidents_of(api, databases.id)] == ["resolved"]
    assert incidents_of(api, rest.id) == []


# -- service rules ---------------------------------------------------------------------------------

def test_service_rules_rewrite_the_summary_merge_by_a_dedup_key_from_labels_and_add_details_and_tags(
        api, anonymous, new_service, tocsin, admin_token):
    service = new_service(unique("rewritten"))
    am = add_integration(tocsin.base_url, admin_token, service.id, "alertmanager")
    rule = service_rule(api, service.id, conditions=label_is("alertname", "HighRequestLatency"), actions={
        "summary": "{{labels.alertname}} in {{labels.cluster}}", "dedup_key": "{{labels.alertname}}/{{labels.cluster}}",
        "severity": "warning", "priority": "P2", "details": {"runbook": "https://wiki/{{labels.alertname}}"},
        "tags": ["latency", "{{labels.cluster}}"]})
    in_effect(api, service.id)

    notify(anonymous, am.key, labelled("web-1:9100", cluster="eu-1"), labelled("web-2:9100", cluster="eu-1"))

    [incident] = incidents_of(api, service.id)
    assert (incident["summary"], incident["severity"], incident["priority"], incident["tags"]) == (
        "HighRequestLatency in eu-1", "warning", "P2", ["latency", "eu-1"])
    assert incident["dedup_key"] == "HighRequestLatency/eu-1" and incident["occurrences"] == 2
    detail = made(api.get(f"/api/v1/incidents/{incident['id']}"), 200)
    assert detail["details"]["runbook"] == "https://wiki/HighRequestLatency"
    assert any(rule["id"] in entry["rules"] for entry in detail["timeline"])
    assert settled(lambda: matches(api, rule, service_id=service.id), lambda n: n == 2) == 2


def test_a_dropped_alert_is_accepted_counted_and_opens_nothing_from_any_integration(api, anonymous, new_service):
    service = new_service(unique("dropping"))
    drop = service_rule(api, service.id, conditions={"field": "summary", "op": "contains", "value": "noise"},
                        actions={"drop": True})
    in_effect(api, service.id)

    dropped = anonymous.post("/v2/enqueue", json=trigger(service.key, "noisy", summary="some noise"))
    kept = anonymous.post("/v2/enqueue", json=trigger(service.key, "real", summary="disk full"))

    assert (dropped.status_code, kept.status_code) == (202, 202), dropped.text
    assert [incident["dedup_key"] for incident in incidents_of(api, service.id)] == ["real"]
    assert settled(lambda: matches(api, drop, service_id=service.id), lambda n: n == 1) == 1
    totals = settled(lambda: scrape(anonymous), lambda metrics: (
        "tocsin_alerts_dropped_total", (("by", "service_rules"), ("id", service.id))) in metrics)
    assert totals[("tocsin_alerts_dropped_total", (("by", "service_rules"), ("id", service.id)))] == 1
    assert totals[("tocsin_rule_matches_total", (("rule", drop["id"]),))] == 1


def paging_service(api: httpx.Client, tocsin: Any, admin_token: str) -> Service:
    """A service whose escalation policy pages a user at once, with a PagerDuty integration."""
    user = create_user(tocsin.base_url, admin_token, unique("oncall"))
    policy = made(api.post("/api/v1/escalation-policies", json={"name": unique("policy"), "levels": [
        {"delay_minutes": 5, "targets": [{"type": "user", "id": user["id"]}]}]}))
    service = made(api.post("/api/v1/services", json={"name": unique("paging"), "escalation_policy_id": policy["id"]}))
    integration = made(api.post(f"/api/v1/services/{service['id']}/integrations", json={"type": "pagerduty"}))
    return Service(service["id"], integration["key"], integration["id"])


def test_suppressed_and_paused_alerts_open_incidents_that_say_so(api, anonymous, tocsin, admin_token):
    service = paging_service(api, tocsin, admin_token)
    service_rule(api, service.id, conditions={"field": "summary", "op": "starts_with", "value": "batch"},
                 actions={"suppress": True})
    service_rule(api, service.id, conditions={"field": "summary", "op": "starts_with", "value": "flappy"},
                 actions={"pause_minutes": 10})
    in_effect(api, service.id)

    for dedup_key, summary in (("s", "batch job late"), ("p", "flappy check"), ("n", "disk full")):
        assert anonymous.post("/v2/enqueue", json=trigger(service.key, dedup_key, summary=summary)).status_code == 202

    incidents = {incident["dedup_key"]: incident for incident in incidents_of(api, service.id)}
    assert (incidents["s"]["suppressed"], incidents["s"]["paused_until"]) == (True, None)
    assert (incidents["p"]["suppressed"], incidents["p"]["paused_until"] is not None) == (False, True)
    assert (incidents["n"]["suppressed"], incidents["n"]["paused_until"]) == (False, None)


def test_a_rule_changed_through_the_api_acts_on_the_next_alerts_without_a_restart(api, anonymous, new_service):
    service = new_service(unique("changing"))
    rule = service_rule(api, service.id, actions={"summary": "first version"})
    changed = made(api.put(f"{RULES}/{rule['id']}", json={"name": rule["name"],
                                                          "actions": {"summary": "second version"}}), 200)
    assert changed["version"] == 2
    deadline = time.monotonic() + RULE_REACHES_GATEWAY_S

    def summary_of_a_new_alert() -> str:
        key = uuid.uuid4().hex
        assert anonymous.post("/v2/enqueue", json=trigger(service.key, key)).status_code == 202
        [summary] = [i["summary"] for i in incidents_of(api, service.id) if i["dedup_key"] == key]
        return summary  # type: ignore[no-any-return]

    summary = summary_of_a_new_alert()
    while summary != "second version" and time.monotonic() < deadline:
        summary = summary_of_a_new_alert()
    assert summary == "second version"


# -- inhibition ------------------------------------------------------------------------------------

def test_an_open_datacenter_incident_silences_its_hosts_alerts_until_it_resolves(api, anonymous, new_service, tocsin,
                                                                                 admin_token):
    datacenter, hosts = new_service(unique("datacenter")), new_service(unique("hosts"))
    dc = unique("dc")
    dc_key = add_integration(tocsin.base_url, admin_token, datacenter.id, "alertmanager").key
    hosts_key = add_integration(tocsin.base_url, admin_token, hosts.id, "alertmanager").key
    rule = made(api.post(RULES, json={"kind": "inhibit", "name": unique("dc down"),
                                      "source": label_is("alertname", "DatacenterDown"),
                                      "target": label_is("alertname", "HostUnreachable"), "equal": ["labels.datacenter"]}))
    in_effect(api, hosts.id)
    try:
        down = labelled("dc-probe", alertname="DatacenterDown", datacenter=dc)
        notify(anonymous, dc_key, down)

        def host_alert(host: str) -> dict[str, Any]:
            notify(anonymous, hosts_key, labelled(host, alertname="HostUnreachable", datacenter=dc))
            return by_source(api, hosts.id)[host]

        # The gateway learns of the opening from the event bus: wait for the first host to be silenced.
        first = settled(lambda: host_alert(unique("h")), lambda incident: incident["suppressed"])
        assert first["suppressed"] is True
        other_dc = labelled("h-elsewhere", alertname="HostUnreachable", datacenter=unique("dc"))
        notify(anonymous, hosts_key, other_dc)
        assert by_source(api, hosts.id)["h-elsewhere"]["suppressed"] is False

        notify(anonymous, dc_key, {**down, "status": "resolved", "endsAt": "2026-03-02T09:41:51Z"})
        after = settled(lambda: host_alert(unique("h")), lambda incident: not incident["suppressed"])
        assert after["suppressed"] is False
        detail = made(api.get(f"/api/v1/incidents/{first['id']}"), 200)
        assert any(rule["id"] in entry["rules"] for entry in detail["timeline"])
    finally:
        assert api.delete(f"{RULES}/{rule['id']}").status_code == 204
