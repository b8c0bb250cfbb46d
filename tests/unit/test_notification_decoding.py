"""Alertmanager and Grafana notifications are read by msgspec Structs: what they take and refuse,
and how, is exactly what the pydantic models took and refused before, down to the stored
payload's text and the refusal's words, whether the body comes parsed or as sent (read in one
pass); the rules read the same view of each alert as when they parsed its payload; and a shard
call's inputs cross the process as columns, unchanged."""

from __future__ import annotations

import copy
import pickle
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from ray import cloudpickle

from tocsin.actors.domain.events import Action, AlertEvent, Command, IncidentCommand, event_ids
from tocsin.actors.domain.input_batch import InputBatch
from tocsin.actors.rulebook import event_view
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.errors import describe
from tocsin.serve.ingest import generic
from tocsin.serve.ingest.alert_receiver import Notification, json_events, read_notification
from tocsin.serve.ingest.common import Refusal, parse_json
from tocsin.serve.ingest.formats import ALERTMANAGER, BY_KIND, GRAFANA
from tocsin.serve.ingest.prometheus_alerts import (
    AlertmanagerIn,
    AlertmanagerWire,
    GrafanaAlertIn,
    GrafanaIn,
    GrafanaWire,
    NotificationIn,
    NotificationWire,
    Target,
    alert_events,
    decoded,
    decoded_json,
    label_fingerprint,
)
from tests.e2e.alert_payloads import am_alert, am_notification, grafana_alert, grafana_notification

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
MODELS: dict[str, tuple[type[NotificationIn], str]] = {
    "alertmanager": (AlertmanagerIn, "Alertmanager"), "grafana": (GrafanaIn, "Grafana")}
WIRES: dict[str, type[NotificationWire]] = {"alertmanager": AlertmanagerWire, "grafana": GrafanaWire}
SOURCES: dict[str, Notification] = {"alertmanager": ALERTMANAGER, "grafana": GRAFANA}
KINDS = ["alertmanager", "grafana"]

# How a notification reaches its reading: parsed (as `Format.events` takes it), or as sent,
# JSON text (as the routes read it: in one pass, else parsed and read as the other).
READERS: dict[str, Callable[[str, Any], list[AlertEvent]]] = {
    "parsed": lambda kind, sent: BY_KIND[kind].events(orjson.loads(orjson.dumps(sent)), integration(kind), NOW),
    "as sent": lambda kind, sent: json_events(SOURCES[kind], orjson.dumps(sent), integration(kind), NOW),
}


def integration(kind: str, **config: Any) -> IntegrationKey:
    return IntegrationKey("int-1", "svc-1", kind, False, config)


def body(kind: str, **change: Any) -> dict[str, Any]:
    """A notification of two alerts, with top-level fields changed, or its first alert's
    ("alert.<field>")."""
    made = (am_notification(am_alert("a:1"), am_alert("b:2", "resolved")) if kind == "alertmanager"
            else grafana_notification(grafana_alert("a:1"), grafana_alert("b:2", "resolved")))
    made = copy.deepcopy(made)
    for field, value in change.items():
        target = made["alerts"][0] if field.startswith("alert.") else made
        target[field.removeprefix("alert.")] = value
    return made


def as_before(kind: str, sent: dict[str, Any]) -> list[str]:
    """The payloads the pydantic models made of a notification: their fields as read, written
    by orjson (instants in UTC as "Z")."""
    model, _ = MODELS[kind]
    read = model.model_validate(sent)
    shared = ["receiver", "externalURL", "groupKey"] + (["orgId", "title"] if kind == "grafana" else [])
    own = ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL"]
    own += ["values", "valueString"] if kind == "grafana" else []
    payloads = []
    for alert in read.alerts:
        details = {**{f: getattr(read, f) for f in shared}, **{f: getattr(alert, f) for f in own}}
        if isinstance(alert, GrafanaAlertIn):
            details["links"] = [{"href": getattr(alert, f), "text": text} for f, text in alert.LINKS.items()
                                if getattr(alert, f)]
        details["fingerprint"] = alert.fingerprint or label_fingerprint(alert.labels)
        payloads.append(orjson.dumps(details, option=orjson.OPT_UTC_Z).decode())
    return payloads


TAKEN = [  # as sent, and the values pydantic coerces, which the Structs hand back to it
    {},
    {"alert.startsAt": "2026-03-02T09:29:51.9999999Z"},  # truncated, as pydantic does, not rounded
    {"alert.startsAt": "2026-03-02T09:29:51+02:00"},
    {"alert.startsAt": "2026-03-02T09:29:51-00:00"},
    {"alert.startsAt": "2026-03-02T09:29:51"},
    {"alert.startsAt": "2026-03-02 09:29:51z"},
    {"alert.startsAt": "2026-03-02"},
    {"alert.startsAt": "2026-03-02T09:29Z"},
    {"alert.startsAt": 1772443791},
    {"alert.startsAt": None, "alert.endsAt": None},
    {"truncatedAlerts": "3"},
    {"truncatedAlerts": 2.0},
    {"truncatedAlerts": True},
    {"alert.fingerprint": "f" * 128},
    {"alert.fingerprint": ""},
    {"alert.annotations": {}},
    {"alert.newField": {"x": [1, 2]}, "anotherNewField": True},
]
GRAFANA_TAKEN = [{"orgId": "7"}, {"orgId": 7.0}, {"orgId": None}, {"alert.values": {"A": 1, "B": None, "C": "2.5"}},
                 {"alert.values": None}, {"alert.values": {"A": True}}]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("change", TAKEN, ids=str)
def test_what_the_models_took_is_taken_and_stored_as_before(reader: str, kind: str, change: dict[str, Any]) -> None:
    sent = body(kind, **change)
    events = READERS[reader](kind, sent)
    assert [event.payload for event in events] == as_before(kind, sent)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("change", GRAFANA_TAKEN, ids=str)
def test_grafana_values_are_taken_and_stored_as_before(reader: str, change: dict[str, Any]) -> None:
    test_what_the_models_took_is_taken_and_stored_as_before(reader, "grafana", change)


REFUSED = [
    {"alerts": []}, {"alerts": None}, {"alerts": "none"}, {"status": "pending"}, {"status": None},
    {"version": "3"}, {"version": 4}, {"truncatedAlerts": -1}, {"truncatedAlerts": 1.5}, {"groupKey": 7},
    {"receiver": None}, {"groupLabels": {"a": 1}}, {"commonLabels": []},
    {"alert.status": "ok"}, {"alert.labels": {"alertname": 7}}, {"alert.labels": None},
    {"alert.startsAt": "yesterday"}, {"alert.startsAt": "2026-03-02T24:00:00Z"}, {"alert.endsAt": []},
    {"alert.fingerprint": "f" * 129}, {"alert.fingerprint": None}, {"alert.annotations": {"summary": None}},
    {"alert.generatorURL": 3}, {"externalURL": False},
]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("change", REFUSED, ids=str)
def test_what_the_models_refused_is_refused_in_their_words(reader: str, kind: str, change: dict[str, Any]) -> None:
    sent = orjson.loads(orjson.dumps(body(kind, **change)))
    model, name = MODELS[kind]
    with pytest.raises(ValidationError) as before:
        model.model_validate(sent)
    with pytest.raises(Refusal) as refused:
        READERS[reader](kind, sent)
    errors = describe(before.value.errors())
    assert (refused.value.status, refused.value.errors) == (400, errors)
    assert refused.value.message == f"Invalid {name} notification: {'; '.join(errors)}"


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("sent", [[], "text", 7, None, {"alerts": [None]}, {"alerts": [[]]}], ids=str)
def test_bodies_of_another_shape_are_refused_in_the_models_words(reader: str, sent: Any) -> None:
    with pytest.raises(ValidationError) as before:
        AlertmanagerIn.model_validate(sent)
    with pytest.raises(Refusal) as refused:
        READERS[reader]("alertmanager", sent)
    assert refused.value.errors == describe(before.value.errors())


@pytest.mark.parametrize("kind", KINDS)
def test_a_notification_as_senders_send_it_is_read_in_one_pass(kind: str) -> None:
    assert decoded_json(orjson.dumps(body(kind)), WIRES[kind]) is not None
    for change in ({"alert.startsAt": 1772443791}, {"truncatedAlerts": "3"}, {"alert.startsAt": "yesterday"},
                   {"alert.newField": 1}, {"newField": 1}):  # coerced, refused, or a field it does not know
        assert decoded_json(orjson.dumps(body(kind, **change)), WIRES[kind]) is None


def events_or_refusal(read: Callable[[], list[AlertEvent]]) -> Any:
    """What reading a body came to: its events (but their random ids), its refusal, or the error
    it raised."""
    try:
        return [replace(event, event_id="") for event in read()]
    except Refusal as refusal:
        return refusal.status, refusal.message, refusal.errors
    except Exception as exc:  # noqa: BLE001 - an error is an outcome to compare too
        return type(exc).__name__


NESTED = b"[" * 2000 + b"]" * 2000  # deeper than orjson reads
AS_SENT = [  # (a change to `body`, then JSON text in its text, and what replaces it)
    # a key repeated: the last counts, as orjson reads it
    ({}, b"{", b'{"status":"pending",'), ({"mark": 0}, b'"mark":0', b'"status":"pending"'),
    ({"alert.mark": 0}, b'"mark":0', b'"status":"resolved"'),
    ({"alert.labels": {"a": "1", "b": "2", "c": "3"}}, b'"c":"3"', b'"a":"3"'),
    ({"alert.mark": 0}, b'"mark":0', b'"st\\u0061tus":"resolved"'),
    # integers beyond 64 bits, which orjson reads as floats
    ({"truncatedAlerts": 0}, b'"truncatedAlerts":0', b'"truncatedAlerts":9223372036854775808'),
    ({"truncatedAlerts": 0}, b'"truncatedAlerts":0', b'"truncatedAlerts":18446744073709551616'),
    ({"truncatedAlerts": 0}, b'"truncatedAlerts":0', b'"truncatedAlerts":1000000000000000000000000000001'),
    ({"orgId": 0}, b'"orgId":0', b'"orgId":-9223372036854775808'),
    ({"orgId": 0}, b'"orgId":0', b'"orgId":-9223372036854775809'),
    ({"orgId": 0}, b'"orgId":0', b'"orgId":18446744073709551615'),
    ({"orgId": 0}, b'"orgId":0', b'"orgId":18446744073709551616'),
    ({"orgId": 0}, b'"orgId":0', b'"orgId":1000000000000000000000000000001'),
    # numbers read as doubles
    *[({"alert.values": {"A": 0}}, b'"A":0', b'"A":' + number) for number in (
        b"18446744073709551617", b"1000000000000000000000000000001", b"9007199254740993", b"-0", b"-0.0", b"1e400",
        b"1e-400", b"0.1000000000000000055511151231257827021181583404541015625", b"2.2250738585072011e-308",
        b"4.9e-324", b"1.7976931348623157e308", b"1.7976931348623159e308", b"123456789.123456789e-3", b"NaN")],
    # what a field the Structs do not know holds, which msgspec would pass over unread
    *[({"mark": 0}, b'"mark":0', b'"extra":' + value) for value in (
        b"1e400", b"-1e400", b"18446744073709551616", b"NaN", b"Infinity", b'"\xff"', b'"\xed\xa0\x80"',
        b'"\\ud800"', b'"\\udc00"', NESTED, b"[[[[1]]]]", b'{"x":[1,2.5,null,true]}')],
    ({"mark": 0}, b'"mark":0', b'"\xff":1'), ({"alert.mark": 0}, b'"mark":0', b'"extra":"\xff"'),
    ({"alert.mark": 0}, b'"mark":0', b'"extra":' + NESTED),
    # strings
    ({"alert.labels": {"a": "x"}}, b'"a":"x"', b'"a":"\xff"'),
    ({"alert.labels": {"a": "x"}}, b'"a":"x"', b'"\xff":"x"'),
    ({"alert.labels": {"a": "x"}}, b'"a":"x"', b'"a":"\\u00e9\\n\\/\\ud83d\\ude00\\u0000"'),
    ({"alert.labels": {"a": "x"}}, b'"a":"x"', b'"a":"\\ud83d"'),
    ({"alert.labels": {"a": "x"}}, b'"a":"x"', b'"a":"\x01"'),
    # the whole body
    ({}, b"{", b"\xef\xbb\xbf{"), ({}, b"{", b" \r\n\t{"), ({"mark": 0}, b',"mark":0}', b"} \r\n\t"),
    ({"mark": 0}, b',"mark":0}', b"}\x0c"), ({"mark": 0}, b',"mark":0}', b"} x"), ({"mark": 0}, b',"mark":0}', b"}{}"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("change", "text", "replaced"), AS_SENT, ids=lambda part: repr(part)[:60])
def test_a_body_as_sent_is_read_as_when_it_was_parsed_first(kind: str, change: dict[str, Any], text: bytes,
                                                            replaced: bytes) -> None:
    written = orjson.dumps(body(kind, **change))
    assert text in written
    sent = written.replace(text, replaced, 1)
    before = events_or_refusal(lambda: BY_KIND[kind].events(parse_json(sent), integration(kind), NOW))
    assert events_or_refusal(lambda: json_events(SOURCES[kind], sent, integration(kind), NOW)) == before


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sent", [b"", b" ", b"[]", b'"text"', b"null", b"7", b"NaN", b"{}", b"{"], ids=repr)
def test_a_body_of_another_shape_is_refused_as_when_it_was_parsed_first(kind: str, sent: bytes) -> None:
    before = events_or_refusal(lambda: BY_KIND[kind].events(parse_json(sent), integration(kind), NOW))
    assert events_or_refusal(lambda: json_events(SOURCES[kind], sent, integration(kind), NOW)) == before


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("grouping", ["fingerprint", "group_key"])
@pytest.mark.parametrize("kind", KINDS)
def test_the_rules_see_the_details_as_they_would_parse_them(kind: str, grouping: str, reader: str) -> None:
    for status in ("firing", "resolved"):
        sent = body(kind, status=status, **{"alert.status": status})
        read = (decoded(orjson.loads(orjson.dumps(sent)), WIRES[kind], MODELS[kind][0]) if reader == "parsed"
                else read_notification(SOURCES[kind], orjson.dumps(sent)))
        events, payloads = alert_events(read, grouping, "am", Target("svc-1", "int-1", NOW))  # type: ignore[arg-type]
        assert events and len(payloads) == len(events)
        for event, payload in zip(events, payloads):
            assert payload == orjson.loads(event.payload)
            assert event_view(kind, event, payload) == event_view(kind, event)


def test_generic_alerts_are_their_own_payloads_for_the_rules() -> None:
    sent = [{"summary": "Disk full", "host": "web-1", "nested": {"n": [1, 2.5, None]}}, {"title": "CPU"}]
    events = generic.events_of_body(sent, integration("generic"), NOW)
    for event, alert in zip(events, generic.alerts_of(sent)):
        assert event_view("generic", event, alert) == event_view("generic", event)


def test_event_ids_are_distinct_uuids_in_time_order() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = event_ids(5000)  # more than the 4,096 places an id's order within its call counts
    after_ms = time.time_ns() // 1_000_000

    assert len(set(ids)) == 5000
    for each in ids:
        parsed = uuid.UUID(each)
        assert (str(parsed), parsed.version, parsed.variant) == (each, 7, uuid.RFC_4122)
        assert before_ms <= parsed.int >> 80 <= after_ms  # its first 48 bits: the milliseconds of its making
    assert ids[:4096] == sorted(ids[:4096])  # the primary key takes them at its right-hand edge


def alert(n: int, service: str = "svc-1", at: datetime = NOW) -> AlertEvent:
    return AlertEvent(event_ids(1)[0], service, "int-1", f"k{n}", Action.TRIGGER, at, f"alert {n}", payload="{}")


def test_a_batch_crosses_as_columns_and_comes_back_in_order() -> None:
    note = IncidentCommand("c-1", "svc-1", 7, Command.NOTE, "ann", NOW, text="looking")
    later = datetime(2026, 3, 2, 9, 31, tzinfo=timezone.utc)
    mixed = [note, alert(1), alert(2, "svc-2", later), note, alert(3), note]
    for inputs in (mixed, [alert(1)], [note], [alert(n) for n in range(50)]):
        carried = pickle.loads(cloudpickle.dumps(InputBatch.of(inputs)))
        assert carried.inputs() == inputs and len(carried) == len(inputs)
    shared = InputBatch.of([alert(1), alert(2)])
    assert shared.columns[1] == ("svc-1",) and shared.columns[3] == ["k1", "k2"]  # one value where all share it
