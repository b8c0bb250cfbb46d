"""Opsgenie's alert as Tocsin's event: priority to severity, de-duplication by alias, the
limits Opsgenie sets, and the request status each outcome reads as."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from pydantic import ValidationError

from tocsin.actors.domain.events import Action, Severity, Urgency, urgency_of
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.ingest.opsgenie_models import (
    AlertActionIn,
    CreateAlertIn,
    action_event,
    alias_of,
    field_errors,
    request_status,
    to_event,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
INTEGRATION = IntegrationKey("integration-1", "service-1", "opsgenie", False)


def event_of(**body: object):  # type: ignore[no-untyped-def]
    alert = CreateAlertIn.model_validate({"message": "Disk full on db1", **body})
    return to_event(alert, alias_of(alert), INTEGRATION, "event-1", NOW)


def errors_of(**body: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as refused:
        CreateAlertIn.model_validate({"message": "Disk full on db1", **body})
    return field_errors(refused.value.errors())


@pytest.mark.parametrize(("priority", "severity", "urgency"), [
    ("P1", Severity.CRITICAL, Urgency.HIGH),
    ("P2", Severity.ERROR, Urgency.HIGH),
    ("P3", Severity.WARNING, Urgency.LOW),
    ("P4", Severity.INFO, Urgency.LOW),
    ("P5", Severity.INFO, Urgency.LOW),
])
def test_priority_sets_severity_and_so_urgency(priority: str, severity: Severity, urgency: Urgency) -> None:
    event = event_of(priority=priority)
    assert event.severity is severity
    assert urgency_of(event.severity) is urgency


def test_priority_defaults_to_p3() -> None:
    assert event_of().severity is Severity.WARNING


def test_the_alias_is_the_dedup_key() -> None:
    first, second = event_of(alias="disk-db1"), event_of(alias="disk-db1", message="Disk still full")
    assert first.dedup_key == second.dedup_key == "og:disk-db1"
    assert (first.action, first.summary, second.summary) == (Action.TRIGGER, "Disk full on db1", "Disk still full")
    assert event_of(alias="disk-db2").dedup_key != first.dedup_key


@pytest.mark.parametrize("alias", [None, ""])
def test_without_an_alias_each_alert_stands_alone(alias: str | None) -> None:
    keys = {event_of(alias=alias).dedup_key for _ in range(3)}
    assert len(keys) == 3
    assert all(key.startswith("og:") and len(key) > len("og:") for key in keys)


def test_event_names_service_integration_and_source() -> None:
    event = event_of(alias="a", entity="db1", source="nagios")
    assert (event.service_id, event.integration_id, event.event_id) == ("service-1", "integration-1", "event-1")
    assert (event.source, event.received_at) == ("nagios", NOW)
    assert event_of(entity="db1").source == "db1"
    assert event_of().source is None


def test_the_whole_alert_is_kept_as_the_details() -> None:
    body = {"alias": "a", "description": "95% used", "responders": [{"type": "team", "name": "dba"}],
            "visibleTo": [{"type": "user", "username": "ann@example.com"}], "actions": ["Restart"],
            "tags": ["db", "disk"], "details": {"host": "db1"}, "entity": "db1", "source": "nagios",
            "priority": "P2", "user": "monitor", "note": "first seen", "runbook": "https://example.com/rb"}
    payload = orjson.loads(event_of(**body).payload)
    assert payload == {"message": "Disk full on db1", **body}


@pytest.mark.parametrize(("field", "at_limit", "over"), [
    ("message", "m" * 130, "m" * 131),
    ("alias", "a" * 512, "a" * 513),
    ("description", "d" * 15000, "d" * 15001),
    ("entity", "e" * 512, "e" * 513),
    ("source", "s" * 100, "s" * 101),
    ("user", "u" * 100, "u" * 101),
    ("note", "n" * 25000, "n" * 25001),
    ("tags", ["t"] * 20, ["t"] * 21),
    ("actions", ["a"] * 10, ["a"] * 11),
    ("responders", [{"type": "team", "id": "t"}] * 50, [{"type": "team", "id": "t"}] * 51),
    ("details", {"k": "v" * 7999}, {"k": "v" * 8000}),
])
def test_limits_are_opsgenies(field: str, at_limit: object, over: object) -> None:
    CreateAlertIn.model_validate({"message": "m", field: at_limit})
    assert field in errors_of(**{field: over})


def test_each_tag_is_at_most_50_characters() -> None:
    event_of(tags=["t" * 50])
    assert set(errors_of(tags=["ok", "t" * 51])) == {"tags.1"}


@pytest.mark.parametrize(("body", "field"), [
    ({"message": None}, "message"),
    ({"message": ""}, "message"),
    ({"priority": "P0"}, "priority"),
    ({"priority": "high"}, "priority"),
    ({"details": {"count": 3}}, "details.count"),
    ({"tags": "db"}, "tags"),
    ({"responders": [{"type": "team"}]}, "responders.0"),
    ({"responders": [{"type": "robot", "id": "r"}]}, "responders.0.type"),
])
def test_bad_fields_are_named(body: dict[str, object], field: str) -> None:
    assert field in errors_of(**body)


def test_a_missing_message_is_named() -> None:
    with pytest.raises(ValidationError) as refused:
        CreateAlertIn.model_validate({"alias": "a"})
    assert list(field_errors(refused.value.errors())) == ["message"]


def test_action_body_names_who_acted() -> None:
    assert AlertActionIn(user="ann", source="cli").actor == "ann"
    assert AlertActionIn(source="cli").actor == "cli"
    assert AlertActionIn().actor == "opsgenie"


@pytest.mark.parametrize(("verb", "action"), [("Acknowledge", Action.ACKNOWLEDGE), ("Close", Action.RESOLVE)])
def test_acknowledge_and_close_act_on_the_alias(verb: str, action: Action) -> None:
    body = AlertActionIn(user="ann", note="on it")
    event = action_event(verb, "disk-db1", body, INTEGRATION, "event-2", NOW)  # type: ignore[arg-type]
    assert (event.action, event.dedup_key, event.source) == (action, "og:disk-db1", "ann")
    assert event.dedup_key == event_of(alias="disk-db1").dedup_key
    assert orjson.loads(event.payload) == {"user": "ann", "note": "on it"}


@pytest.mark.parametrize(("action", "outcome", "incident_id", "expected"), [
    ("Create", "opened", 7, (True, "Created alert")),
    ("Create", "occurrence", 7, (True, "Alert already exists")),
    ("Acknowledge", "acknowledged", 7, (True, "Acknowledged")),
    ("Acknowledge", "unchanged", 7, (True, "Alert is already acknowledged")),
    ("Acknowledge", "dropped", None, (False, "Alert does not exist")),
    ("Acknowledge", "unchanged", None, (False, "Alert is already closed")),
    ("Close", "resolved", 7, (True, "Closed")),
    ("Close", "dropped", None, (False, "Alert does not exist")),
    ("Close", "unchanged", None, (True, "Alert is already closed")),
])
def test_request_status_of_each_outcome(action: str, outcome: str, incident_id: int | None,
                                        expected: tuple[bool, str]) -> None:
    assert request_status(action, outcome, incident_id) == expected
