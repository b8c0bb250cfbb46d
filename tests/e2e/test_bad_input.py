"""Bad input gets a 4xx naming the problem, is not stored, and never a 500."""

from __future__ import annotations

import pytest

from tests.client import trigger



def _cases():
    yield "malformed JSON", lambda key: b'{"routing_key": "' + key.encode() + b'", "event_action": ', \
        "application/json", 400, "not valid JSON"
    yield "wrong type", lambda key: {**trigger(key), "event_action": 5}, "application/json", 400, "event_action"
    yield "missing event_action", lambda key: {k: v for k, v in trigger(key).items() if k != "event_action"}, \
        "application/json", 400, "event_action"
    yield "missing payload", lambda key: {"routing_key": key, "event_action": "trigger"}, \
        "application/json", 400, "payload"
    yield "missing summary", lambda key: {**trigger(key), "payload": {"source": "db1", "severity": "info"}}, \
        "application/json", 400, "payload.summary"
    yield "bad severity", lambda key: trigger(key, severity="apocalyptic"), "application/json", 400, \
        "payload.severity"
    yield "unknown action", lambda key: {**trigger(key), "event_action": "explode"}, "application/json", 400, \
        "event_action"
    yield "summary over 1024", lambda key: trigger(key, summary="x" * 1025), "application/json", 400, \
        "payload.summary"
    yield "dedup key over 255", lambda key: trigger(key, dedup_key="k" * 256), "application/json", 400, \
        "dedup_key"
    yield "body over 512 KB", lambda key: trigger(key, custom_details={"blob": "x" * (513 * 1024)}), \
        "application/json", 413, "too large"
    yield "unknown routing key", lambda key: trigger("0" * 32), "application/json", 400, "routing_key"
    yield "routing key of the wrong length", lambda key: trigger("short"), "application/json", 400, "routing_key"
    yield "form-encoded body", lambda key: b"routing_key=" + key.encode() + b"&event_action=trigger", \
        "application/x-www-form-urlencoded", 415, "Content-Type"
    yield "plain text body", lambda key: b"disk full", "text/plain", 415, "Content-Type"
    yield "not an object", lambda key: [trigger(key)], "application/json", 400, "Event object is invalid"


CASES = list(_cases())


@pytest.mark.parametrize(("build", "content_type", "status", "says"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_event_is_refused_and_not_stored(anonymous, new_service, db, build, content_type, status,
                                             says):
    import json

    service = new_service()
    body = build(service.key)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = anonymous.post("/v2/enqueue", content=content, headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["status"] in ("invalid event", "error")
    assert says.lower() in (answer["message"] + " ".join(answer["errors"])).lower()
    assert db("fetch", "SELECT 1 FROM alerts WHERE service_id = $1::uuid", service.id) == []
    assert db("fetch", "SELECT 1 FROM incidents WHERE service_id = $1::uuid", service.id) == []


def test_revoked_key_is_refused(api, anonymous, new_service, db):
    service = new_service()
    assert anonymous.post("/v2/enqueue", json=trigger(service.key, "before")).status_code == 202
    revoked = api.delete(f"/api/v1/services/{service.id}/integrations/{service.integration_id}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    response = anonymous.post("/v2/enqueue", json=trigger(service.key, "after"))
    assert response.status_code == 400
    assert "revoked" in response.text
    assert [r["dedup_key"] for r in db("fetch", 
        "SELECT dedup_key FROM alerts WHERE service_id = $1::uuid", service.id)] == ["before"]


def test_change_event_bad_input(anonymous, new_service):
    service = new_service()
    response = anonymous.post("/v2/change/enqueue", json={"routing_key": service.key, "payload": {}})
    assert response.status_code == 400
    assert "payload.summary" in response.text


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/api/v1/services", {"name": ""}),
    ("post", "/api/v1/services", {"nom": "typo"}),
    ("get", "/api/v1/services/not-a-uuid", None),
    ("get", "/api/v1/incidents?status=sleeping", None),
    ("get", "/api/v1/incidents?cursor=abc", None),
    ("get", "/api/v1/incidents?limit=0", None),
    ("get", "/api/v1/incidents/abc", None),
])
def test_bad_api_requests_get_4xx_with_a_message(api, method, path, body):
    response = api.request(method.upper(), path, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["message"]


def test_unknown_integration_type_names_the_allowed_ones(api, new_service):
    service = new_service()
    response = api.post(f"/api/v1/services/{service.id}/integrations", json={"type": "carrier-pigeon"})
    assert response.status_code == 422
    assert "pagerduty" in response.json()["message"]
