"""Opsgenie's Alert API over HTTP: what a tool configured for Opsgenie sees once its base URL
is Tocsin's, and the incidents it leads to."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.conftest import incidents_of


@dataclass(frozen=True)
class Genie:
    """A service with an Opsgenie integration, and a client that speaks for it."""

    service_id: str
    integration_id: str
    key: str
    http: httpx.Client

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"GenieKey {self.key}"}

    def create(self, **alert: Any) -> httpx.Response:
        return self.http.post("/v2/alerts", json={"message": "Disk full on db1", **alert}, headers=self.auth)

    def act(self, identifier: str | int, action: str, identifier_type: str | None = None,
            **body: Any) -> httpx.Response:
        params = {"identifierType": identifier_type} if identifier_type else {}
        path = f"/v2/alerts/{quote(str(identifier), safe='')}/{action}"
        return self.http.post(path, params=params, json=body, headers=self.auth)

    def status(self, request_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v2/alerts/requests/{request_id}", headers=self.auth)
        assert response.status_code == 200, response.text
        return response.json()["data"]  # type: ignore[no-any-return]

    def accepted(self, response: httpx.Response) -> dict[str, Any]:
        """Assert Opsgenie's 202; the request's status."""
        assert response.status_code == 202, response.text
        answer = response.json()
        assert answer["result"] == "Request will be processed"
        assert isinstance(answer["took"], float) and answer["took"] >= 0
        return self.status(str(uuid.UUID(answer["requestId"])))


@pytest.fixture
def genie(api: httpx.Client, anonymous: httpx.Client) -> Callable[..., Genie]:
    def make(urgency: str = "high", kind: str = "opsgenie") -> Genie:
        service = api.post("/api/v1/services", json={"name": "checkout-api", "urgency": urgency})
        assert service.status_code == 201, service.text
        integration = api.post(f"/api/v1/services/{service.json()['id']}/integrations", json={"type": kind})
        assert integration.status_code == 201, integration.text
        assert integration.json()["url"].endswith("/v2/alerts") or kind != "opsgenie"
        made = integration.json()
        return Genie(made["service_id"], made["id"], made["key"], anonymous)

    return make


def detail(api: httpx.Client, incident_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/incidents/{incident_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def stored(db: Callable[..., Any], og: Genie) -> dict[str, int]:
    """How many alerts, incidents and request records the integration's service has."""
    counts = {}
    for table, column, value in (("alerts", "service_id", og.service_id), ("incidents", "service_id", og.service_id),
                                 ("source_requests", "integration_id", og.integration_id)):
        counts[table] = db("fetchval", f"SELECT count(*) FROM {table} WHERE {column} = $1::uuid", value)
    return counts


def test_create_answers_like_opsgenie_and_opens_an_incident(genie, api):
    og = genie()
    status = og.accepted(og.create(alias="disk-db1", description="95% used", tags=["db", "disk"],
                                   details={"host": "db1"}, entity="db1", responders=[{"type": "team", "name": "dba"}]))
    [incident] = incidents_of(api, og.service_id)
    assert (incident["summary"], incident["status"], incident["dedup_key"]) == ("Disk full on db1", "triggered",
                                                                               "og:disk-db1")
    assert (incident["severity"], incident["source"], incident["occurrences"]) == ("warning", "db1", 1)
    details = detail(api, incident["id"])["details"]
    assert (details["tags"], details["details"], details["description"]) == (["db", "disk"], {"host": "db1"},
                                                                           "95% used")
    assert details["responders"] == [{"type": "team", "name": "dba"}]
    assert (status["alertId"], status["alias"], status["status"]) == (str(incident["id"]), "disk-db1", "Created alert")


def test_the_same_alias_adds_occurrences_to_one_incident(genie, api):
    og = genie()
    first = og.accepted(og.create(alias="disk-db1"))
    second = og.accepted(og.create(alias="disk-db1", message="Disk still full on db1"))
    [incident] = incidents_of(api, og.service_id)
    assert (incident["occurrences"], incident["summary"]) == (2, "Disk full on db1")
    assert (first["status"], second["status"]) == ("Created alert", "Alert already exists")
    assert first["alertId"] == second["alertId"] == str(incident["id"])
    timeline = detail(api, incident["id"])["timeline"]
    assert ("occurrence", "occurrence 2: Disk still full on db1") in [(e["kind"], e["message"]) for e in timeline]


def test_without_an_alias_every_alert_opens_its_own_incident(genie, api):
    og = genie()
    aliases = [og.accepted(og.create())["alias"] for _ in range(2)]
    assert all(aliases) and aliases[0] != aliases[1]
    assert sorted(i["dedup_key"] for i in incidents_of(api, og.service_id)) == sorted(f"og:{a}" for a in aliases)


def test_request_status_reports_the_outcome(genie, api):
    og = genie()
    response = og.create(alias="status-check")
    request_id = response.json()["requestId"]
    status = og.accepted(response)
    [incident] = incidents_of(api, og.service_id)
    assert status == {"success": True, "isSuccess": True, "action": "Create", "status": "Created alert",
                      "alertId": str(incident["id"]), "alias": "status-check", "integrationId": og.integration_id,
                      "processedAt": status["processedAt"]}
    assert datetime.fromisoformat(status["processedAt"]) >= datetime.fromisoformat(incident["created_at"])
    again = og.http.get(f"/v2/alerts/requests/{request_id}", headers=og.auth).json()
    assert again["requestId"] != request_id and isinstance(again["took"], float)


@pytest.mark.parametrize("request_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_request_is_404_in_opsgenies_shape(genie, request_id):
    og = genie()
    response = og.http.get(f"/v2/alerts/requests/{request_id}", headers=og.auth)
    assert response.status_code == 404
    answer = response.json()
    assert answer["message"].startswith("Request not found") and set(answer) == {"message", "took", "requestId"}


def test_a_request_is_only_visible_to_its_own_integration(genie):
    og, other = genie(), genie()
    request_id = og.create(alias="mine").json()["requestId"]
    assert og.http.get(f"/v2/alerts/requests/{request_id}", headers=og.auth).status_code == 200
    assert other.http.get(f"/v2/alerts/requests/{request_id}", headers=other.auth).status_code == 404


def test_acknowledge_and_close_by_alias(genie, api):
    og = genie()
    og.accepted(og.create(alias="web/5xx"))
    [incident] = incidents_of(api, og.service_id)
    acked = og.accepted(og.act("web/5xx", "acknowledge", "alias", user="ann", note="looking"))
    assert (acked["status"], acked["success"], acked["action"], acked["alias"]) == ("Acknowledged", True,
                                                                                   "Acknowledge", "web/5xx")
    assert acked["alertId"] == str(incident["id"])
    assert incidents_of(api, og.service_id)[0]["status"] == "acknowledged"
    closed = og.accepted(og.act("web/5xx", "close", "alias", source="nagios"))
    assert (closed["status"], closed["success"], closed["action"]) == ("Closed", True, "Close")
    assert incidents_of(api, og.service_id)[0]["status"] == "resolved"
    timeline = [(e["kind"], e["actor"], e["message"]) for e in detail(api, incident["id"])["timeline"]]
    assert ("acknowledged", "ann", "acknowledged by ann") in timeline
    assert ("resolved", "nagios", "resolved by nagios") in timeline


def test_after_close_the_alias_opens_a_new_incident(genie, api):
    og = genie()
    og.accepted(og.create(alias="flappy"))
    og.accepted(og.act("flappy", "close", "alias"))
    assert og.accepted(og.create(alias="flappy"))["status"] == "Created alert"
    newest, oldest = incidents_of(api, og.service_id)
    assert (newest["status"], oldest["status"]) == ("triggered", "resolved")


def test_acknowledge_and_close_by_incident_id(genie, api):
    og = genie()
    og.accepted(og.create(alias="by-id"))
    [incident] = incidents_of(api, og.service_id)
    assert og.accepted(og.act(incident["id"], "acknowledge"))["status"] == "Acknowledged"  # id is the default
    assert incidents_of(api, og.service_id)[0]["status"] == "acknowledged"
    assert og.accepted(og.act(incident["id"], "close", "id", user="ann"))["status"] == "Closed"
    assert incidents_of(api, og.service_id)[0]["status"] == "resolved"
    assert og.accepted(og.act(incident["id"], "close", "id"))["status"] == "Alert is already closed"
    assert ("resolved", "ann") in [(e["kind"], e["actor"]) for e in detail(api, incident["id"])["timeline"]]


def test_another_services_incident_does_not_exist_for_this_key(genie, api):
    og, other = genie(), genie()
    other.accepted(other.create(alias="theirs"))
    [theirs] = incidents_of(api, other.service_id)
    status = og.accepted(og.act(theirs["id"], "close"))
    assert (status["success"], status["status"], status["alertId"]) == (False, "Alert does not exist", "")
    assert incidents_of(api, other.service_id)[0]["status"] == "triggered"


@pytest.mark.parametrize("action", ["acknowledge", "close"])
def test_unknown_alias_is_accepted_and_reported_as_not_existing(genie, api, action):
    og = genie()
    status = og.accepted(og.act("never-sent", action, "alias"))
    assert (status["success"], status["isSuccess"], status["status"]) == (False, False, "Alert does not exist")
    assert (status["alias"], status["alertId"]) == ("never-sent", "")
    assert incidents_of(api, og.service_id) == []


def test_acknowledge_without_a_body(genie, api):
    og = genie()
    og.accepted(og.create(alias="bare"))
    response = og.http.post("/v2/alerts/bare/acknowledge?identifierType=alias", headers=og.auth)
    assert og.accepted(response)["status"] == "Acknowledged"
    assert incidents_of(api, og.service_id)[0]["status"] == "acknowledged"


def test_an_unknown_identifier_type_is_422(genie, api):
    og = genie()
    og.accepted(og.create(alias="x"))
    response = og.act("x", "close", "name")
    assert response.status_code == 422
    assert "id, tiny or alias" in response.json()["errors"]["identifierType"]
    assert incidents_of(api, og.service_id)[0]["status"] == "triggered"


def test_a_tiny_id_is_the_incident_number(genie, api):
    og = genie()
    og.accepted(og.create(alias="disk-tiny"))
    [incident] = incidents_of(api, og.service_id)
    status = og.accepted(og.act(str(incident["id"]), "acknowledge", "tiny"))
    assert (status["success"], status["alertId"]) == (True, str(incident["id"]))
    assert incidents_of(api, og.service_id)[0]["status"] == "acknowledged"


@pytest.mark.parametrize(("priority", "severity", "urgency"), [
    ("P1", "critical", "high"), ("P2", "error", "high"), ("P3", "warning", "low"), ("P5", "info", "low"),
])
def test_priority_sets_urgency_under_a_service_that_follows_severity(genie, api, priority, severity, urgency):
    og = genie(urgency="severity")
    og.accepted(og.create(alias=f"prio-{priority}", priority=priority))
    [incident] = incidents_of(api, og.service_id)
    assert (incident["severity"], incident["urgency"]) == (severity, urgency)


def _auth_cases():
    yield "no header", lambda og: {}, 401
    yield "another scheme", lambda og: {"Authorization": f"Bearer {og.key}"}, 401
    yield "no key", lambda og: {"Authorization": "GenieKey"}, 401
    yield "unknown key", lambda og: {"Authorization": f"GenieKey {uuid.uuid4().hex}"}, 401


AUTH_CASES = list(_auth_cases())


@pytest.mark.parametrize(("headers", "status"), [c[1:] for c in AUTH_CASES], ids=[c[0] for c in AUTH_CASES])
def test_missing_or_wrong_keys_are_refused(genie, db, headers, status):
    og = genie()
    for method, path in (("POST", "/v2/alerts"), ("POST", "/v2/alerts/x/close"),
                         ("GET", f"/v2/alerts/requests/{uuid.uuid4()}")):
        response = og.http.request(method, path, json={"message": "m"}, headers=headers(og))
        assert response.status_code == status, response.text
        assert set(response.json()) == {"message", "took", "requestId"}
        assert response.json()["message"] == "Could not authenticate"
    assert stored(db, og) == {"alerts": 0, "incidents": 0, "source_requests": 0}


def test_a_revoked_key_is_refused(genie, api, db):
    og = genie()
    og.accepted(og.create(alias="before"))
    assert api.delete(f"/api/v1/services/{og.service_id}/integrations/{og.integration_id}").status_code == 200
    response = og.create(alias="after")
    assert response.status_code == 401
    assert stored(db, og) == {"alerts": 1, "incidents": 1, "source_requests": 1}


def test_a_key_of_another_integration_type_is_forbidden(genie, db):
    pd = genie(kind="pagerduty")
    response = pd.create(alias="wrong-door")
    assert response.status_code == 403
    assert "pagerduty" in response.json()["message"]
    assert stored(db, pd) == {"alerts": 0, "incidents": 0, "source_requests": 0}


def _bad_inputs():
    yield "message missing", {"alias": "a"}, "application/json", 422, "message"
    yield "message too long", {"message": "m" * 131}, "application/json", 422, "message"
    yield "empty message", {"message": ""}, "application/json", 422, "message"
    yield "too many tags", {"message": "m", "tags": [f"t{n}" for n in range(21)]}, "application/json", 422, "tags"
    yield "tag too long", {"message": "m", "tags": ["t" * 51]}, "application/json", 422, "tags.0"
    yield "bad priority", {"message": "m", "priority": "P9"}, "application/json", 422, "priority"
    yield "details not strings", {"message": "m", "details": {"n": 1}}, "application/json", 422, "details.n"
    yield "alias too long", {"message": "m", "alias": "a" * 513}, "application/json", 422, "alias"
    yield "not an object", [{"message": "m"}], "application/json", 422, "body"
    yield "malformed JSON", b'{"message": "m", ', "application/json", 400, "JSON"
    yield "wrong content type", b"message=m", "application/x-www-form-urlencoded", 415, "Content-Type"
    yield "body over 512 KB", {"message": "m", "description": "d" * (513 * 1024)}, "application/json", 413, \
        "too large"


BAD_INPUTS = list(_bad_inputs())


@pytest.mark.parametrize(("body", "content_type", "status", "names"), [c[1:] for c in BAD_INPUTS],
                         ids=[c[0] for c in BAD_INPUTS])
def test_bad_alerts_are_refused_naming_the_field_and_not_stored(genie, db, body, content_type, status, names):
    og = genie()
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = og.http.post("/v2/alerts", content=content, headers={**og.auth, "Content-Type": content_type})
    assert response.status_code == status, response.text
    answer = response.json()
    assert isinstance(answer["took"], float) and uuid.UUID(answer["requestId"])
    if status == 422:
        assert answer["message"] == "Request body is not processable. Please check the errors."
        assert names in answer["errors"], answer
    else:
        assert names in answer["message"], answer
    assert stored(db, og) == {"alerts": 0, "incidents": 0, "source_requests": 0}


def test_bad_action_body_is_refused_and_changes_nothing(genie, api):
    og = genie()
    og.accepted(og.create(alias="keep"))
    response = og.act("keep", "close", "alias", user="u" * 101)
    assert response.status_code == 422
    assert "user" in response.json()["errors"]
    assert incidents_of(api, og.service_id)[0]["status"] == "triggered"


def test_openapi_lists_the_opsgenie_routes(anonymous):
    paths = anonymous.get("/openapi.json").json()["paths"]
    assert {"/v2/alerts", "/v2/alerts/requests/{request_id}", "/v2/alerts/{identifier}/acknowledge",
            "/v2/alerts/{identifier}/close"} <= set(paths)
    schema = paths["/v2/alerts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["message"]["maxLength"] == 130


def test_opsgenies_own_client_works_unchanged(tocsin, genie, api):
    """Opsgenie's Python SDK, given Tocsin's base URL and the integration's key and nothing else."""
    import opsgenie_sdk

    og = genie()
    config = opsgenie_sdk.configuration.Configuration()
    config.host = tocsin.base_url
    config.api_key["Authorization"] = og.key
    config.api_key_prefix["Authorization"] = "GenieKey"
    config.retry_enabled = False
    alerts = opsgenie_sdk.AlertApi(api_client=opsgenie_sdk.api_client.ApiClient(configuration=config))
    created = alerts.create_alert(create_alert_payload=opsgenie_sdk.CreateAlertPayload(
        message="Replication lag 300s", alias="lag-db2", priority="P2", tags=["db"], details={"lag_s": "300"}))
    assert created.result == "Request will be processed"
    status = alerts.get_request_status(request_id=created.request_id).data
    [incident] = incidents_of(api, og.service_id)
    assert (status.is_success, status.status, status.alert_id) == (True, "Created alert", str(incident["id"]))
    assert (incident["summary"], incident["severity"]) == ("Replication lag 300s", "error")
    alerts.acknowledge_alert(identifier="lag-db2", identifier_type="alias",
                             acknowledge_alert_payload=opsgenie_sdk.AcknowledgeAlertPayload(user="ann"))
    assert incidents_of(api, og.service_id)[0]["status"] == "acknowledged"
    closed = alerts.close_alert(identifier=str(incident["id"]),
                                close_alert_payload=opsgenie_sdk.CloseAlertPayload(note="replica caught up"))
    assert alerts.get_request_status(request_id=closed.request_id).data.status == "Closed"
    assert incidents_of(api, og.service_id)[0]["status"] == "resolved"


def test_an_alias_with_a_line_break_is_closed_by_it(genie, api):
    """Aliases are the source's text: one made of lines names its alert in a URL too."""
    og = genie()
    alias = "disk full\non db1/var"
    og.accepted(og.create(message="Disk full", alias=alias))
    closed = og.act(alias, "close", "alias")
    assert closed.status_code == 202, closed.text
    [incident] = incidents_of(api, og.service_id)
    assert incident["status"] == "resolved"
