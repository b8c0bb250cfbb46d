"""The alert as rules see it: each wire format's fields, and field paths into them."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest

from tocsin.actors.domain.rules import FORMATS, view_of
from tocsin.actors.domain.rules.fields import FieldError, getter_of, number_of, render, text_of

PAGERDUTY = {
    "event_action": "trigger", "dedup_key": "disk-7",
    "payload": {"summary": "Disk full on db-7", "source": "db-7", "severity": "critical", "class": "disk",
                "component": "postgres", "group": "storage",
                "custom_details": {"free_mb": 12, "mount": "/var", "volume": {"id": "vol-1"}, "a.b": "dotted"}},
}
ALERTMANAGER = {
    "receiver": "tocsin", "status": "firing", "groupKey": "{}:{}", "fingerprint": "c0ffee",
    "labels": {"alertname": "DiskFull", "instance": "db-7:9100", "cluster": "eu-1"},
    "annotations": {"summary": "Disk full", "runbook_url": "https://wiki/disk"},
}
OPSGENIE = {"message": "Queue backlog", "alias": "q-1", "tags": ["queue", "prod"], "details": {"queue": "orders"},
            "priority": "P2", "entity": "orders-service", "responders": [{"type": "team", "name": "ops"}]}
GENERIC = {"title": "Backup failed", "host": "nas-1", "labels": {"team": "storage"},
           "alerts": [{"name": "first"}, {"name": "second"}]}


def read(path: str, format: str, payload: dict[str, Any], **normalised: Any) -> Any:
    return getter_of(path)(view_of(format, payload, **normalised))


@pytest.mark.parametrize(("path", "value"), [
    ("details.free_mb", 12), ("custom_details.mount", "/var"), ("details.volume.id", "vol-1"),
    ("details.a.b", "dotted"), ("class", "disk"), ("component", "postgres"), ("group", "storage"),
    ("payload.payload.severity", "critical"), ("payload.dedup_key", "disk-7"), ("labels.alertname", None),
    ("tags", None),
])
def test_pagerduty_fields_come_from_the_event_payload(path: str, value: Any) -> None:
    assert read(path, "pagerduty", PAGERDUTY) == value


@pytest.mark.parametrize("format", ["alertmanager", "grafana"])
@pytest.mark.parametrize(("path", "value"), [
    ("labels.alertname", "DiskFull"), ("labels.cluster", "eu-1"), ("annotations.runbook_url", "https://wiki/disk"),
    ("labels.missing", None), ("payload.fingerprint", "c0ffee"), ("details.anything", None), ("class", None),
])
def test_alertmanager_and_grafana_fields_are_labels_and_annotations(format: str, path: str, value: Any) -> None:
    assert read(path, format, ALERTMANAGER) == value


@pytest.mark.parametrize(("path", "value"), [
    ("details.queue", "orders"), ("tags", ("queue", "prod")), ("priority", "P2"), ("entity", "orders-service"),
    ("payload.responders.0.name", "ops"), ("payload.alias", "q-1"), ("labels.team", None),
])
def test_opsgenie_fields_are_details_tags_priority_and_entity(path: str, value: Any) -> None:
    assert read(path, "opsgenie", OPSGENIE) == value


@pytest.mark.parametrize("format", ["generic", "email"])
@pytest.mark.parametrize(("path", "value"), [
    ("details.title", "Backup failed"), ("details.labels.team", "storage"), ("payload.host", "nas-1"),
    ("payload.alerts.1.name", "second"), ("payload.alerts.2.name", None), ("payload.alerts.x", None),
    ("payload.title.more", None), ("labels.team", None),
])
def test_generic_details_are_the_object_itself(format: str, path: str, value: Any) -> None:
    assert read(path, format, GENERIC) == value


class Severity(str, Enum):
    CRITICAL = "critical"


def test_normalised_fields_read_as_plain_strings_even_from_str_enums() -> None:
    view = view_of("alertmanager", ALERTMANAGER, summary="Disk full", severity=Severity.CRITICAL, source="db-7",
                   dedup_key="am:c0ffee", action="trigger")
    assert [getter_of(path)(view) for path in ("summary", "severity", "source", "dedup_key", "action", "format")] \
        == ["Disk full", "critical", "db-7", "am:c0ffee", "trigger", "alertmanager"]
    assert type(view.severity) is str


def test_a_json_null_reads_as_absent() -> None:
    assert read("labels.team", "alertmanager", {"labels": {"team": None}}) is None
    assert read("details.a.b", "generic", {"a": {"b": None}}) is None


def test_a_payload_without_the_formats_objects_gives_empty_fields() -> None:
    view = view_of("pagerduty", {"event_action": "resolve", "dedup_key": "k"})
    assert (view.details, view.class_) == ({}, None)
    view = view_of("alertmanager", {"labels": "not an object"})
    assert view.labels == {}
    view = view_of("opsgenie", {"tags": "not a list"})
    assert view.tags is None


def test_every_format_declared_builds_a_view() -> None:
    assert set(FORMATS) == {"pagerduty", "alertmanager", "grafana", "opsgenie", "generic", "email"}
    for format in FORMATS:
        assert view_of(format, {}).format == format


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="no rule mapping for the format 'heartbeat'"):
        view_of("heartbeat", {})


@pytest.mark.parametrize(("path", "message"), [
    ("labels", "write labels.<name>"), ("summary.text", "summary has no parts"), ("nope", "fields are summary"),
    ("labels..x", "no empty part"), ("", "no empty part"), ("payload", "write payload.<name>"),
])
def test_a_path_that_names_no_field_is_refused_saying_why(path: str, message: str) -> None:
    with pytest.raises(FieldError, match="names no field") as refused:
        getter_of(path)
    assert message in str(refused.value)


@pytest.mark.parametrize(("value", "text"), [
    ("x", "x"), (5, "5"), (2.5, "2.5"), (5.0, "5.0"), (True, "true"), (False, "false"), (None, None),
    ([1], None), ({"a": 1}, None),
])
def test_text_of_values(value: Any, text: str | None) -> None:
    assert text_of(value) == text


@pytest.mark.parametrize(("value", "number"), [
    (3, 3), (2.5, 2.5), ("12", 12.0), (" 3.5 ", 3.5), ("1e3", 1000.0), ("-4", -4.0), ("1_000", None),
    ("twelve", None), ("", None), (True, None), (None, None), ([1], None),
])
def test_number_of_values(value: Any, number: float | None) -> None:
    assert number_of(value) == number


@pytest.mark.parametrize(("value", "text"), [
    (None, ""), ("x", "x"), (7, "7"), (["a", 1, None], "a, 1, "), ({"k": [1, "é"]}, '{"k":[1,"é"]}'),
])
def test_render_for_templates(value: Any, text: str) -> None:
    assert render(value) == text
