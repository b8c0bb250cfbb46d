"""Text Postgres cannot store (U+0000) sent through every ingestion route: the alert is kept
with U+FFFD in its place, wherever it was (summary, source, dedup key, label, annotation,
detail, key or value), and the alerts sent beside it are stored as well."""

from __future__ import annotations

import smtplib
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from typing import Any

import httpx

from tests.e2e.alert_payloads import am_alert, grafana_alert, send, source_of
from tests.e2e.conftest import incidents_of

NUL, REPLACED = "\x00", "\ufffd"


def details_of(api: httpx.Client, incident: dict[str, Any]) -> dict[str, Any]:
    response = api.get(f"/api/v1/incidents/{incident['id']}")
    assert response.status_code == 200, response.text
    return response.json()["details"]  # type: ignore[no-any-return]


def test_pagerduty_keeps_the_event_and_its_neighbours(anonymous, api, new_service, db):
    poisoned, neighbour = new_service("nul-source"), new_service("neighbour")
    event = {"routing_key": poisoned.key, "event_action": "trigger", "dedup_key": f"disk{NUL}db1",
             "payload": {"summary": f"Disk{NUL}full", "source": f"db{NUL}1", "severity": "critical",
                         "custom_details": {f"free{NUL}space": f"1{NUL}%", "nested": [{"k": NUL}]}}}

    def neighbour_trigger(n: int) -> httpx.Response:
        return anonymous.post("/v2/enqueue", json={"routing_key": neighbour.key, "event_action": "trigger",
                                                   "dedup_key": f"cpu-{n}", "payload": {
                                                       "summary": "CPU high", "source": "web1", "severity": "error"}})

    with ThreadPoolExecutor(4) as pool:  # sent together, so that they share the shard's commits
        neighbours = [pool.submit(neighbour_trigger, n) for n in range(6)]
        response = anonymous.post("/v2/enqueue", json=event)
        answers = [future.result() for future in neighbours]

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "success"
    assert [a.status_code for a in answers] == [202] * 6
    [incident] = incidents_of(api, poisoned.id)
    assert (incident["summary"], incident["source"], incident["dedup_key"]) == (
        f"Disk{REPLACED}full", f"db{REPLACED}1", f"disk{REPLACED}db1")
    details = details_of(api, incident)
    assert details["payload"]["custom_details"] == {f"free{REPLACED}space": f"1{REPLACED}%",
                                                    "nested": [{"k": REPLACED}]}
    assert len(incidents_of(api, neighbour.id)) == 6

    # The same dedup key, sent again as it was, names the same incident.
    resolved = anonymous.post("/v2/enqueue", json={"routing_key": poisoned.key, "event_action": "resolve",
                                                   "dedup_key": f"disk{NUL}db1"})
    assert resolved.status_code == 202, resolved.text
    assert [i["status"] for i in incidents_of(api, poisoned.id)] == ["resolved"]
    raw = db("fetch", "SELECT payload::text AS payload FROM alerts WHERE service_id = $1::uuid", poisoned.id)
    assert len(raw) == 2 and all("\\u0000" not in r["payload"] for r in raw)


def test_a_pagerduty_change_event_is_kept(anonymous, new_service, db):
    service = new_service()
    response = anonymous.post("/v2/change/enqueue", json={"routing_key": service.key, "payload": {
        "summary": f"Deployed{NUL}v42", "source": f"c{NUL}i", "custom_details": {f"b{NUL}": NUL}}})
    assert response.status_code == 202, response.text
    [row] = db("fetch", "SELECT summary, source, payload->'payload'->'custom_details' AS details FROM change_events"
                        " WHERE service_id = $1::uuid", service.id)
    assert (row["summary"], row["source"], row["details"]) == (
        f"Deployed{REPLACED}v42", f"c{REPLACED}i", f'{{"b{REPLACED}": "{REPLACED}"}}')


def test_opsgenie_keeps_the_alert_and_closes_it_by_the_same_alias(anonymous, api):
    service = api.post("/api/v1/services", json={"name": "opsgenie-nul"}).json()
    key = api.post(f"/api/v1/services/{service['id']}/integrations", json={"type": "opsgenie"}).json()["key"]
    auth = {"Authorization": f"GenieKey {key}"}
    created = anonymous.post("/v2/alerts", headers=auth, json={
        "message": f"Disk{NUL}full", "alias": f"disk{NUL}db1", "description": f"95%{NUL}", "source": f"nag{NUL}ios",
        "tags": [f"d{NUL}b"], "details": {f"ho{NUL}st": f"db{NUL}1"}})
    assert created.status_code == 202, created.text

    [incident] = incidents_of(api, service["id"])
    assert (incident["summary"], incident["dedup_key"], incident["source"]) == (
        f"Disk{REPLACED}full", f"og:disk{REPLACED}db1", f"nag{REPLACED}ios")
    details = details_of(api, incident)
    assert (details["details"], details["tags"]) == ({f"ho{REPLACED}st": f"db{REPLACED}1"}, [f"d{REPLACED}b"])
    status = anonymous.get(f"/v2/alerts/requests/{created.json()['requestId']}", headers=auth).json()["data"]
    assert (status["status"], status["alias"]) == ("Created alert", f"disk{REPLACED}db1")

    closed = anonymous.post("/v2/alerts/disk%00db1/close", params={"identifierType": "alias"}, headers=auth,
                            json={"user": f"al{NUL}ice"})
    assert closed.status_code == 202, closed.text
    assert [i["status"] for i in incidents_of(api, service["id"])] == ["resolved"]


def test_alertmanager_keeps_every_alert_of_a_notification_one_holding_nul(anonymous, api, tocsin, admin_token):
    source = source_of(tocsin.base_url, admin_token, "alertmanager")
    alerts = [am_alert(f"checkout-{n}:8080") for n in range(3)]
    poisoned = alerts[1]
    poisoned["labels"] = {**poisoned["labels"], "instance": f"checkout{NUL}-1:8080", f"pod{NUL}": "a"}
    poisoned["annotations"] = {**poisoned["annotations"], "summary": f"High{NUL}latency",
                               f"note{NUL}": f"see{NUL}runbook"}
    poisoned.pop("fingerprint")  # Alertmanager's own is computed from the labels: let Tocsin compute it

    answer = send(anonymous, source, *alerts)

    assert [i["outcome"] for i in answer["incidents"]] == ["opened"] * 3
    incidents = {i["source"]: i for i in incidents_of(api, source.service_id)}
    assert set(incidents) == {"checkout-0:8080", f"checkout{REPLACED}-1:8080", "checkout-2:8080"}
    incident = incidents[f"checkout{REPLACED}-1:8080"]
    assert incident["summary"] == f"High{REPLACED}latency"
    details = details_of(api, incident)
    assert details["labels"]["instance"] == f"checkout{REPLACED}-1:8080" and details["labels"][f"pod{REPLACED}"] == "a"
    assert details["annotations"][f"note{REPLACED}"] == f"see{REPLACED}runbook"


def test_grafana_keeps_the_alert(anonymous, api, tocsin, admin_token):
    source = source_of(tocsin.base_url, admin_token, "grafana")
    alert = grafana_alert("node-a:9100")
    alert["annotations"]["summary"] = f"CPU{NUL}above 90%"
    alert["valueString"] = f"[ var='A' value={NUL} ]"
    answer = send(anonymous, source, alert, grafana_alert("node-b:9100"))
    assert [i["outcome"] for i in answer["incidents"]] == ["opened", "opened"]
    incidents = {i["source"]: i for i in incidents_of(api, source.service_id)}
    assert incidents["node-a:9100"]["summary"] == f"CPU{REPLACED}above 90%"
    assert details_of(api, incidents["node-a:9100"])["valueString"] == f"[ var='A' value={REPLACED} ]"


def test_the_generic_webhook_keeps_the_alert(anonymous, api, new_service):
    service = new_service("generic-nul")
    key = api.post(f"/api/v1/services/{service.id}/integrations", json={"type": "generic"}).json()["key"]
    response = anonymous.post(f"/integrations/generic/{key}", json=[
        {"summary": f"Queue{NUL}stuck", "dedup_key": f"q{NUL}1", "source": f"work{NUL}er", "extra": {f"k{NUL}": NUL}},
        {"summary": "Queue slow", "dedup_key": "q2"}])
    assert response.status_code == 202, response.text
    incidents = {i["dedup_key"]: i for i in incidents_of(api, service.id)}
    assert set(incidents) == {f"q{REPLACED}1", "q2"}
    incident = incidents[f"q{REPLACED}1"]
    assert (incident["summary"], incident["source"]) == (f"Queue{REPLACED}stuck", f"work{REPLACED}er")
    assert details_of(api, incident)["extra"] == {f"k{REPLACED}": REPLACED}


def test_an_email_is_kept(tocsin, api, new_service):
    service = new_service("mail-nul")
    integration = api.post(f"/api/v1/services/{service.id}/integrations", json={"type": "email"}).json()
    message = EmailMessage()
    message["From"], message["To"] = "Nagios <nagios@monitor.example.com>", integration["url"]
    message["Subject"] = f"Disk{NUL}full on db1"  # the byte sent as it is, as a careless sender does
    message["Message-ID"] = f"<{uuid.uuid4().hex}@monitor.example.com>"
    message.set_content(f"db1: /var{NUL} is 92% full", cte="quoted-printable")
    with smtplib.SMTP("127.0.0.1", tocsin.smtp_port, timeout=30) as smtp:
        assert smtp.send_message(message) == {}  # 250: durable

    [incident] = incidents_of(api, service.id)
    assert incident["summary"] == f"Disk{REPLACED}full on db1"
    details = details_of(api, incident)
    assert (details["subject"], details["body"]) == (f"Disk{REPLACED}full on db1", f"db1: /var{REPLACED} is 92% full")
