"""A PagerDuty alert event sent to /v2/enqueue is read in one pass by msgspec Structs where they
can tell: what it is taken as, and what is kept of it, down to the payload's text, and what is
refused, and how, are exactly what the pydantic model took and refused before."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import orjson
import pytest

from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.ingest.common import Refusal
from tocsin.serve.ingest.pagerduty import AlertEventIn, AlertEventWire, parsed, read_event, to_event
from tocsin.serve.ingest.pagerduty_wire import decoded_event

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
INTEGRATION = IntegrationKey("int-1", "svc-1", "pagerduty", False, {})
KEY = "0123456789abcdef0123456789abcdef"


def event(**change: Any) -> dict[str, Any]:
    """A trigger event with its fields changed, or its payload's ("payload.<field>"); a value
    of None drops the field."""
    made = copy.deepcopy({
        "routing_key": KEY, "event_action": "trigger", "dedup_key": "disk-web-1",
        "payload": {"summary": "Disk full on web-1", "source": "web-1", "severity": "critical",
                    "timestamp": "2026-03-02T09:29:51.613Z", "component": "disk", "group": "web", "class": "fs",
                    "custom_details": {"free": "1%", "mount": "/var", "inodes": 120, "ratio": 0.99}},
        "links": [{"href": "https://runbooks.example.com/disk", "text": "Runbook"}],
        "images": [{"src": "https://graphs.example.com/disk.png", "href": "https://graphs.example.com", "alt": "disk"}],
        "client": "Monitoring", "client_url": "https://monitoring.example.com",
    })
    for field, value in change.items():
        target = made["payload"] if field.startswith("payload.") else made
        target[field.removeprefix("payload.")] = value
    return made


def dropped(**change: Any) -> dict[str, Any]:
    made = event()
    for field in change:
        (made["payload"] if field.startswith("payload.") else made).pop(field.removeprefix("payload."))
    return made


def kept(read: Callable[[], AlertEventIn | AlertEventWire]) -> Any:
    """What reading a body came to: the routing key and the alert event made of it (but its
    random id), or its refusal."""
    try:
        taken = read()
    except Refusal as refusal:
        return "refused", refusal.status, refusal.message, refusal.errors
    return "taken", taken.routing_key, replace(to_event(taken, taken.dedup_key or "made", INTEGRATION, NOW), event_id="")


def assert_read_as_before(sent: bytes) -> None:
    assert kept(lambda: read_event(sent)) == kept(lambda: parsed(sent, AlertEventIn))


TAKEN = [
    {}, {"event_action": "acknowledge", "payload": None}, {"event_action": "resolve"}, {"dedup_key": None},
    {"images": []}, {"links": [{"href": "h"}, {"href": "h", "text": None}]}, {"client": None, "client_url": None},
    {"payload.timestamp": "2026-03-02T09:29:51.9999999+02:00"}, {"payload.timestamp": "2026-03-02T09:29:51"},
    {"payload.timestamp": "2026-03-02"}, {"payload.timestamp": "1772443791"}, {"payload.timestamp": 1772443791},
    {"payload.timestamp": "2026-03-02 09:29:51-00:00"}, {"payload.timestamp": None},
    {"payload.component": None, "payload.group": None, "payload.class": None},
    {"payload.summary": "é" * 1024}, {"payload.summary": "😀" * 1024}, {"payload.source": "s" * 255},
    {"payload.severity": "info"}, {"payload.severity": "warning"}, {"payload.severity": "error"},
    *[{"payload.custom_details": details} for details in (
        None, "free: 1%", 7, 0.1, -0.0, 1e16, 1.5e-7, 5e-324, 1.7976931348623157e308, True, [], {}, 2**63 - 1, -(2**63),
        2**63, {"a": None, "b": [None, 1, "x"]}, {"a": {"b": {"c": "deep"}}}, [{"a": [1, 2.5]}],
        {"a": {"b": {"c": {"d": "deeper"}}}}, {"s": "\u2028\u007f\u001f/\"é😀\u0000"}, {"a": 1, "B": 2, "_": 3})],
    {"links": [{"href": "h", "own": 1}]}, {"images": [{"src": "s", "own": 1}]},
]


@pytest.mark.parametrize("change", TAKEN, ids=str)
def test_what_the_model_took_is_taken_and_kept_as_before(change: dict[str, Any]) -> None:
    sent = orjson.dumps(event(**change))
    assert kept(lambda: parsed(sent, AlertEventIn))[0] == "taken"
    assert_read_as_before(sent)


REFUSED = [
    {"routing_key": "short"}, {"routing_key": KEY + "0"}, {"routing_key": None}, {"event_action": "snooze"},
    {"event_action": None}, {"payload": None}, {"event_action": "resolve", "dedup_key": None}, {"dedup_key": ""},
    {"dedup_key": "d" * 256}, {"dedup_key": 7}, {"payload.summary": ""}, {"payload.summary": "é" * 1025},
    {"payload.source": ""}, {"payload.source": "s" * 256}, {"payload.severity": "page"}, {"payload.severity": None},
    {"payload.timestamp": "yesterday"}, {"payload.timestamp": "2026-03-02T24:00:00Z"}, {"payload.own": 1},
    {"own": 1}, {"links": [{"text": "no href"}]}, {"images": [{"alt": "no src"}]}, {"links": "h"}, {"client": 3},
]


@pytest.mark.parametrize("change", REFUSED, ids=str)
def test_what_the_model_refused_is_refused_in_its_words(change: dict[str, Any]) -> None:
    sent = orjson.dumps(event(**change))
    assert kept(lambda: parsed(sent, AlertEventIn))[0] == "refused"
    assert_read_as_before(sent)


@pytest.mark.parametrize("field", ["payload.summary", "payload.severity", "routing_key", "event_action"])
def test_a_required_field_left_out_is_refused_in_the_models_words(field: str) -> None:
    assert_read_as_before(orjson.dumps(dropped(**{field: None})))


NESTED = b"[" * 300 + b"]" * 300  # deeper than the model's parser reads
AS_SENT = [  # (JSON text in an event's text, and what replaces it)
    # a key sent twice: the last counts
    (b'"summary":', b'"summary":"first","summary":'), (b'"summary":', b'"summary":"","summary":'),
    (b'"source":"web-1"', b'"source":"web-1","source":""'), (b'"free":"1%"', b'"free":"1%","free":2'),
    (b'"summary":', b'"\\u0073ummary":"escaped","summary":'),
    # what the model's parser reads otherwise than msgspec's, or alone
    *[(b'"inodes":120', b'"inodes":' + number) for number in (
        b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1e-400", b"18446744073709551616",
        b"9223372036854775808", b"-9223372036854775809", b"1000000000000000000000000000001", b"-0", b"1E2",
        b"0.1000000000000000055511151231257827021181583404541015625", b"2.2250738585072011e-308",
        b"1.7976931348623159e308", b"123456789.123456789e-3", b"4.9e-324", b"01", b"1.", NESTED, b"[[[1]]]")],
    (b'"mount":"/var"', b'"mount":"\xff"'), (b'"mount":"/var"', b'"mount":"\xed\xa0\x80"'),
    (b'"mount":"/var"', b'"mount":"\\ud800"'), (b'"mount":"/var"', b'"mount":"\\udc00x"'),
    (b'"mount":"/var"', b'"mount":"\\ud83d\\ude00\\u00e9\\n\\/"'), (b'"mount":"/var"', b'"mount":"a\x01b"'),
    (b'"mount":"/var"', b'"\xff":"/var"'), (b'"summary":"Disk full on web-1"', b'"summary":"Disk \xff"'),
    (b'"client":"Monitoring"', b'"client":"Monitoring","own":"\xff"'),
    # the whole body
    (b"{", b"\xef\xbb\xbf{"), (b"{", b" \r\n\t{"), (b'"https://monitoring.example.com"}', b'"https://monitoring.example.com"} \r\n\t'),
    (b'"https://monitoring.example.com"}', b'"https://monitoring.example.com"} x'),
    (b'"https://monitoring.example.com"}', b'"https://monitoring.example.com"}{}'),
    (b'"https://monitoring.example.com"}', b'"https://monitoring.example.com"'),
]


@pytest.mark.parametrize(("text", "replaced"), AS_SENT, ids=lambda part: repr(part)[:60])
def test_an_event_as_sent_is_read_as_the_model_read_it(text: bytes, replaced: bytes) -> None:
    written = orjson.dumps(event())
    assert text in written
    assert_read_as_before(written.replace(text, replaced, 1))


@pytest.mark.parametrize("sent", [b"", b" ", b"[]", b'"text"', b"null", b"7", b"NaN", b"{}", b"{"], ids=repr)
def test_a_body_of_another_shape_is_refused_as_the_model_refused_it(sent: bytes) -> None:
    assert_read_as_before(sent)


def test_an_event_as_senders_send_it_is_read_in_one_pass() -> None:
    assert decoded_event(orjson.dumps(event())) is not None
    for change in ({"payload.timestamp": 1772443791}, {"payload.custom_details": {"a": {"b": {"c": {}}}}},
                   {"links": [{"href": "h", "own": 1}]}, {"payload": None}, {"own": 1}):
        assert decoded_event(orjson.dumps(event(**change))) is None  # the model reads or refuses it
