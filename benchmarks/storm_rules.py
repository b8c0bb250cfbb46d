"""The routing rules the storm runs with (`benchmarks/storm.py --rules N`): a router whose routes
send the storm's alerts to a service by their labels, and that service's own rules, half of N
each, made through the REST API as an operator would.

The sets look like an organisation's: routes by team, namespace, job or instance pattern to
services of their own, of which the storm's alerts (job "checkout", alertname
HighRequestLatency) match only the last; service rules mostly about other alerts (tests on
alertname, environment, severity, patterns on the summary), and three that match every storm
alert and do something to it: a runbook link added and a tag (both saying continue), and the
summary rewritten from its labels. None of them suppresses, drops or pauses, so every alert is
still stored and counted as without rules.
"""

from __future__ import annotations

from typing import Any

import httpx

MATCHING_SERVICE_RULES = 3


def other_route(n: int) -> dict[str, Any]:
    """Route n of those the storm's alerts do not take: four kinds of test, in turn."""
    tests = (
        {"field": "labels.team", "op": "equals", "value": f"team-{n}"},
        {"field": "labels.namespace", "op": "in", "values": [f"ns-{n}", f"ns-{n}-canary", f"ns-{n}-staging"]},
        {"field": "labels.instance", "op": "matches", "value": f"^db-{n}[.]"},
        {"all": [{"field": "labels.job", "op": "equals", "value": f"batch-{n}"},
                 {"field": "labels.severity", "op": "in", "values": ["critical", "error"]}]},
    )
    return tests[n % len(tests)]


def other_service_rule(n: int) -> dict[str, Any]:
    """Service rule n of those that match no storm alert, with what such rules do."""
    tests = (
        {"field": "labels.alertname", "op": "equals", "value": f"DiskFull{n}"},
        {"all": [{"field": "labels.env", "op": "equals", "value": "staging"},
                 {"field": "labels.alertname", "op": "starts_with", "value": f"Batch{n}"}]},
        {"field": "summary", "op": "matches", "value": f"(?i)certificate .* expires in {n} days"},
        {"field": "labels.severity", "op": "equals", "value": f"sev-{n}"},
    )
    actions = ({"severity": "warning"}, {"urgency": "low"}, {"priority": "P4"}, {"tags": [f"rule-{n}"]})
    return {"conditions": tests[n % len(tests)], "actions": actions[n % len(actions)]}


def matching_service_rules() -> list[dict[str, Any]]:
    storm_alert = {"field": "labels.alertname", "op": "equals", "value": "HighRequestLatency"}
    return [
        {"name": "runbook", "conditions": storm_alert, "continue": True,
         "actions": {"details": {"runbook": "https://runbooks.example.com/{{labels.alertname}}"}}},
        {"name": "team tag", "conditions": {"field": "labels.job", "op": "equals", "value": "checkout"},
         "continue": True, "actions": {"tags": ["checkout", "{{labels.severity}}"]}},
        {"name": "summary", "conditions": storm_alert,
         "actions": {"summary": "{{labels.alertname}} on {{labels.instance}}"}},
    ]


def rules_in_place(base_url: str, headers: dict[str, str], service_id: str, count: int,
                   other_services: list[str]) -> str:
    """`count` rules, half of them routes of a new Alertmanager-format router (the last sending
    the storm's alerts to `service_id`, the others to `other_services` in turn) and half rules of
    `service_id`; the router's key."""
    routes = count // 2
    service_rules = count - routes
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as api:
        def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = api.post(path, json=body)
            if response.status_code != 201:
                raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
            return response.json()  # type: ignore[no-any-return]

        router = created("/api/v1/integrations", {"name": "storm router", "type": "router", "format": "alertmanager",
                                                  "catch_all": {"drop": True}})
        for n in range(routes - 1):
            created("/api/v1/rules", {"kind": "router", "integration_id": router["id"], "name": f"route {n}",
                                      "conditions": other_route(n),
                                      "route_to": other_services[n % len(other_services)]})
        created("/api/v1/rules", {"kind": "router", "integration_id": router["id"], "name": "checkout",
                                  "conditions": {"field": "labels.job", "op": "equals", "value": "checkout"},
                                  "route_to": service_id})
        rules = [{"name": f"rule {n}", **other_service_rule(n)}
                 for n in range(service_rules - MATCHING_SERVICE_RULES)] + matching_service_rules()
        for rule in rules:
            created("/api/v1/rules", {"kind": "service", "service_id": service_id, **rule})
    return str(router["key"])
