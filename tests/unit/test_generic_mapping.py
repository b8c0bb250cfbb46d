"""The generic webhook's mapping: dotted paths, the usual field names, value maps, and
refusals that name the path at fault."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tocsin.actors.domain.events import Action, Severity
from tocsin.serve.ingest.common import Refusal
from tocsin.serve.ingest.generic import GenericConfig, Unusable, alerts_of, lookup, map_alert, map_all, stable_key

NESTED = {"alerts": [{"name": "CPU hot", "labels": {"host": "web1"}}, {"name": "Disk full"}], "count": 2}


def config(**options: Any) -> GenericConfig:
    return GenericConfig.model_validate(options)


@pytest.mark.parametrize(("path", "value"), [
    ("count", 2), ("alerts.0.name", "CPU hot"), ("alerts.1.name", "Disk full"),
    ("alerts.0.labels.host", "web1"), ("alerts.0.labels", {"host": "web1"}),
])
def test_dotted_paths_reach_into_objects_and_arrays(path, value):
    assert lookup(NESTED, path) == value


@pytest.mark.parametrize(("path", "says"), [
    ("nothing", "the object has no 'nothing'"),
    ("alerts.2.name", "alerts has no '2'"),
    ("alerts.first.name", "alerts has no 'first'"),
    ("alerts.0.labels.rack", "alerts.0.labels has no 'rack'"),
    ("count.value", "count is a number, not an object or array"),
])
def test_a_missing_path_names_where_it_stopped(path, says):
    with pytest.raises(Unusable) as raised:
        lookup(NESTED, path)
    assert repr(path) in str(raised.value) and says in str(raised.value)


def test_defaults_take_the_usual_field_names():
    mapped = map_alert({"title": "Disk full on db1", "id": 42, "level": "warn", "status": "resolved",
                        "host": "db1"}, config())
    assert mapped.summary == "Disk full on db1"
    assert mapped.dedup_key == "42"
    assert mapped.severity is Severity.WARNING
    assert mapped.action is Action.RESOLVE
    assert mapped.source == "db1"


def test_the_first_usable_summary_field_wins():
    assert map_alert({"summary": "", "title": {"x": 1}, "message": "from message", "text": "later"},
                     config()).summary == "from message"


def test_without_a_dedup_key_the_summary_is_hashed_stably():
    first = map_alert({"message": "Disk  full on DB1"}, config())
    again = map_alert({"message": "disk full on db1", "severity": "info"}, config())
    other = map_alert({"message": "disk full on db2"}, config())
    assert first.dedup_key == again.dedup_key == stable_key("disk full on db1")
    assert first.dedup_key != other.dedup_key


def test_without_severity_or_action_it_triggers_with_the_default_severity():
    mapped = map_alert({"message": "m"}, config())
    assert (mapped.action, mapped.severity) == (Action.TRIGGER, None)


@pytest.mark.parametrize(("word", "severity"), [
    ("critical", Severity.CRITICAL), ("CRIT", Severity.CRITICAL), ("fatal", Severity.CRITICAL),
    ("P1", Severity.CRITICAL), ("error", Severity.ERROR), ("err", Severity.ERROR), ("high", Severity.ERROR),
    ("p2", Severity.ERROR), ("Warning", Severity.WARNING), ("warn", Severity.WARNING),
    ("medium", Severity.WARNING), ("p3", Severity.WARNING), ("info", Severity.INFO), ("low", Severity.INFO),
    ("ok", Severity.INFO), ("p4", Severity.INFO), ("p5", Severity.INFO), ("apocalyptic", Severity.CRITICAL),
])
def test_severity_words_are_normalised_and_unknown_is_critical(word, severity):
    assert map_alert({"message": "m", "severity": word}, config()).severity is severity


@pytest.mark.parametrize(("word", "action"), [
    ("resolved", Action.RESOLVE), ("OK", Action.RESOLVE), ("closed", Action.RESOLVE),
    ("recovered", Action.RESOLVE), ("normal", Action.RESOLVE), ("acknowledged", Action.ACKNOWLEDGE),
    ("ack", Action.ACKNOWLEDGE), ("firing", Action.TRIGGER), ("alerting", Action.TRIGGER),
])
def test_action_words_are_normalised_and_anything_else_triggers(word, action):
    assert map_alert({"message": "m", "state": word}, config()).action is action


def test_configured_paths_and_maps():
    options = config(summary="alerts.0.name", dedup_key="alerts.0.labels.host", severity="sev", action="state",
                     source="origin.name", severity_map={"SEV-1": "critical", "sev-3": "info"},
                     action_map={"Alerting": "trigger", "ok": "resolve", "paused": "acknowledge"})
    body = {**NESTED, "sev": "sev-3", "state": "paused", "origin": {"name": "grafana"}}
    mapped = map_alert(body, options)
    assert (mapped.summary, mapped.dedup_key, mapped.source) == ("CPU hot", "web1", "grafana")
    assert (mapped.severity, mapped.action) == (Severity.INFO, Action.ACKNOWLEDGE)
    assert map_alert({**body, "sev": "Sev-1", "state": "OK"}, options).action is Action.RESOLVE
    assert map_alert({**body, "sev": "Sev-1"}, options).severity is Severity.CRITICAL


def test_a_map_falls_back_to_the_usual_words():
    options = config(action_map={"alerting": "trigger"})
    assert map_alert({"message": "m", "state": "resolved"}, options).action is Action.RESOLVE


def test_a_configured_path_overrides_the_usual_names():
    mapped = map_alert({"summary": "ignored", "detail": {"headline": "used"}}, config(summary="detail.headline"))
    assert mapped.summary == "used"


def test_a_long_summary_is_cut_to_1024():
    assert len(map_alert({"message": "x" * 5000}, config()).summary) == 1024


@pytest.mark.parametrize(("body", "options", "says"), [
    ({"title": "t"}, {"summary": "alert.name"}, "summary: 'alert.name' not found"),
    ({"alert": {"name": 5}}, {"summary": "alert.name"}, "summary: 'alert.name' is a number, not a non-empty string"),
    ({"alert": {"name": " "}}, {"summary": "alert.name"}, "summary: 'alert.name' is a string"),
    ({"message": "m"}, {"dedup_key": "labels.fingerprint"}, "dedup_key: 'labels.fingerprint' not found"),
    ({"message": "m", "id": [1]}, {"dedup_key": "id"}, "dedup_key: 'id' is an array"),
    ({"message": "m", "sev": None}, {"severity": "sev"}, "severity: 'sev' is null"),
    ({"message": "m", "ok": True}, {"action": "ok"}, "action: 'ok' is a boolean"),
    ({"message": "m"}, {"source": "origin.0"}, "source: 'origin.0' not found"),
    ({"count": 3}, {}, "summary: none of summary, title, message"),
    ({"message": "m", "id": "k" * 256}, {}, "dedup_key: longer than 255"),
])
def test_unusable_fields_are_refused_naming_the_path(body, options, says):
    with pytest.raises(Unusable) as raised:
        map_alert(body, config(**options))
    assert says in str(raised.value)


def test_a_batch_names_each_element_at_fault():
    with pytest.raises(Refusal) as raised:
        map_all([{"message": "fine"}, {"nope": 1}, {"message": "fine"}, {"title": 7}], config(), batch=True)
    assert raised.value.status == 400
    assert [e.split(" ")[0] for e in raised.value.errors] == ["[1]", "[3]"]
    assert "[1] summary: none of" in raised.value.message


@pytest.mark.parametrize(("body", "says"), [
    ([], "The array is empty"),
    ([{"message": "m"}, "text", 3], "[1]: a string, not an object; [2]: a number, not an object"),
    ("just text", "The body is a string"),
    (None, "The body is null"),
])
def test_bodies_that_are_not_alert_objects_are_refused(body, says):
    with pytest.raises(Refusal) as raised:
        alerts_of(body)
    assert raised.value.status == 400 and says in raised.value.message


def test_an_object_or_an_array_of_objects_are_alerts():
    assert alerts_of({"a": 1}) == [{"a": 1}]
    assert alerts_of([{"a": 1}, {"b": 2}]) == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize(("options", "field"), [
    ({"summary": "a..b"}, "summary"), ({"source": ""}, "source"),
    ({"severity_map": {"x": "apocalyptic"}}, "severity_map"), ({"action_map": {"x": "explode"}}, "action_map"),
    ({"unknown_option": 1}, "unknown_option"),
])
def test_bad_options_are_refused_naming_the_option(options, field):
    with pytest.raises(ValidationError) as raised:
        GenericConfig.model_validate(options)
    assert field in str(raised.value)
