"""Grafana alerting's webhook contact point over HTTP: what Grafana sees, and the incidents it leads to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.alert_payloads import Source, by_instance, grafana_alert, send, source_of
from tests.e2e.conftest import incidents_of

INSTANCES = ("node-a:9100", "node-b:9100", "node-c:9100")


@pytest.fixture
def grafana(tocsin: Any, admin_token: str) -> Callable[..., Source]:
    return lambda **config: source_of(tocsin.base_url, admin_token, "grafana", **config)


def test_a_firing_batch_opens_an_incident_per_alert(anonymous, api, grafana):
    source = grafana()
    alerts = [grafana_alert(instance) for instance in INSTANCES]
    answer = send(anonymous, source, *alerts)
    assert [i["outcome"] for i in answer["incidents"]] == ["opened"] * 3
    incidents = by_instance(api, source)
    assert set(incidents) == set(INSTANCES)
    for alert in alerts:
        incident = incidents[alert["labels"]["instance"]]
        assert incident["summary"] == f"CPU above 90% on {alert['labels']['instance']}"
        assert incident["dedup_key"] == f"grafana:{alert['fingerprint']}"
        assert (incident["severity"], incident["status"]) == ("warning", "triggered")


def test_grafana_values_and_links_are_kept(anonymous, api, grafana):
    source = grafana()
    alert = {**grafana_alert(INSTANCES[0]), "imageURL": "https://grafana-images.example.com/render/abc123.png"}
    send(anonymous, source, alert)
    [incident] = incidents_of(api, source.service_id)
    details = api.get(f"/api/v1/incidents/{incident['id']}").json()["details"]
    assert details["values"] == {"A": 93.41, "C": 1}
    assert details["valueString"].startswith("[ var='A' labels={instance=node-a:9100} value=93.41 ]")
    links = {link["text"]: link["href"] for link in details["links"]}
    assert links == {"Alert rule": alert["generatorURL"], "Dashboard": alert["dashboardURL"],
                     "Panel": alert["panelURL"], "Silence": alert["silenceURL"], "Image": alert["imageURL"]}
    assert details["labels"]["grafana_folder"] == "Infrastructure"
    assert details["annotations"]["description"] == "5m average CPU usage"
    assert (details["orgId"], details["externalURL"]) == (1, "http://grafana.monitoring:3000/")
    assert details["title"] == "[FIRING:1] HighCPU Infrastructure"


def test_repeats_add_occurrences_and_resolved_alerts_resolve(anonymous, api, grafana):
    source = grafana()
    alerts = [grafana_alert(instance) for instance in INSTANCES]
    send(anonymous, source, *alerts)
    send(anonymous, source, *alerts)
    assert {(i["status"], i["occurrences"]) for i in incidents_of(api, source.service_id)} == {("triggered", 2)}
    answer = send(anonymous, source, grafana_alert(INSTANCES[2], "resolved"))
    assert [i["outcome"] for i in answer["incidents"]] == ["resolved"]
    statuses = {name: i["status"] for name, i in by_instance(api, source).items()}
    assert statuses == {INSTANCES[0]: "triggered", INSTANCES[1]: "triggered", INSTANCES[2]: "resolved"}


def test_group_key_mode_gives_one_incident_for_the_group(anonymous, api, grafana):
    source = grafana(group_by="group_key")
    answer = send(anonymous, source, *(grafana_alert(instance) for instance in INSTANCES))
    assert [i["outcome"] for i in answer["incidents"]] == ["opened", "occurrence", "occurrence"]
    [incident] = incidents_of(api, source.service_id)
    assert incident["dedup_key"].startswith("grafana:group:") and incident["occurrences"] == 3
    send(anonymous, source, *(grafana_alert(instance, "resolved") for instance in INSTANCES))
    assert [i["status"] for i in incidents_of(api, source.service_id)] == ["resolved"]
