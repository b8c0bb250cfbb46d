"""An input the shard refused (the database refused a value it holds) is answered with a 4xx
in each format's own shape, naming the field; the request's other inputs are answered as
stored. The shards and the database are stood in for."""

from __future__ import annotations

from typing import Any

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import AlertEvent
from tests.e2e.alert_payloads import am_alert, am_notification
from tests.fakes.gateway import gateway

KEY = "c0ffee" * 5 + "00"  # 32 characters of the key alphabet
REASON = "holds U+0000, which cannot be stored"


def refuse_summaries_with(word: str, *fields: str) -> Any:
    def refuse(item: object) -> Reply | None:
        if isinstance(item, AlertEvent) and word in (item.summary or ""):
            return Reply("invalid", note=REASON, fields=fields)
        return None
    return refuse


def test_pagerduty_answers_400_invalid_event_naming_the_field():
    with gateway(KEY, "pagerduty") as (client, shards):
        shards.refuse = refuse_summaries_with("poison", "payload.custom_details.note")
        event = {"routing_key": KEY, "event_action": "trigger",
                 "payload": {"summary": "poison", "source": "db1", "severity": "critical"}}
        response = client.post("/v2/enqueue", json=event)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "invalid event"
    assert body["errors"] == [f"payload.custom_details.note: {REASON}"]
    assert "payload.custom_details.note" in body["message"]


def test_opsgenie_answers_422_with_its_map_of_fields():
    with gateway(KEY, "opsgenie") as (client, shards):
        shards.refuse = refuse_summaries_with("poison", "details.note", "message")
        response = client.post("/v2/alerts", json={"message": "poison", "alias": "a"},
                               headers={"Authorization": f"GenieKey {KEY}"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["errors"] == {"details.note": REASON, "message": REASON}
    assert {"took", "requestId"} <= set(body)


def test_a_generic_batch_names_the_element_refused_and_says_the_others_are_stored():
    with gateway(KEY, "generic") as (client, shards):
        shards.refuse = refuse_summaries_with("poison", "summary")
        response = client.post(f"/integrations/generic/{KEY}",
                               json=[{"summary": "fine"}, {"summary": "poison"}, {"summary": "also fine"}])
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errors"] == [f"[1] summary: {REASON}"]
    assert body["message"].startswith("1 of 3 alerts not stored (the others are)")
    assert len(shards.received) == 3


def test_alertmanager_names_the_alert_refused_in_tocsins_shape():
    notification = am_notification(am_alert("db1:9100"), am_alert("db2:9100"))
    notification["alerts"][1]["annotations"]["summary"] = "poison"
    with gateway(KEY, "alertmanager") as (client, shards):
        shards.refuse = refuse_summaries_with("poison", "annotations.summary")
        response = client.post(f"/integrations/alertmanager/{KEY}", json=notification)
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["error"], body["errors"]) == ("bad request", [f"[1] annotations.summary: {REASON}"])


def test_a_refusal_that_names_no_field_says_what_the_database_refused():
    with gateway(KEY, "generic") as (client, shards):
        shards.refuse = lambda item: Reply("invalid", note="the database refused it: a value it cannot store")
        response = client.post(f"/integrations/generic/{KEY}", json={"summary": "x"})
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == ["the database refused it: a value it cannot store"]
