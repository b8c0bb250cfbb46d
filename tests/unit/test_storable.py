"""Text Postgres cannot store is made storable at the edge, and named when it gets past it."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import orjson
import pytest

from tocsin.actors.domain.events import Action, AlertEvent, Command, IncidentCommand
from tocsin.actors.domain.storable import storable, storable_input, storable_json, unstorable

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


def alert(summary: str = "Disk full", source: str | None = "db1", dedup_key: str = "disk",
          payload: object = None) -> AlertEvent:
    document = payload if payload is not None else {"summary": summary, "source": source}
    return AlertEvent(str(uuid.uuid4()), "svc", None, dedup_key, Action.TRIGGER, NOW, summary=summary,
                      source=source, payload=orjson.dumps(document).decode())


def command(text: str | None = "looking", actor: str = "api:alice") -> IncidentCommand:
    return IncidentCommand(str(uuid.uuid4()), "svc", 7, Command.NOTE, actor, NOW, text=text)


@pytest.mark.parametrize(("text", "made"), [
    ("disk\x00full", "disk\ufffdfull"),
    ("\x00\x00", "\ufffd\ufffd"),
    ("caf\udce9 au lait", "caf\ufffd au lait"),  # a byte decoded with "surrogateescape"
    ("\ud83d\ude00", "\ufffd\ufffd"),  # a surrogate pair left as two code points
    ("Überlast ✓ 😀", "Überlast ✓ 😀"),
])
def test_nul_and_surrogates_become_the_replacement_character(text, made):
    assert storable(text) == made
    made.encode()  # storable text always encodes as UTF-8


def test_clean_text_is_the_same_object():
    text = "Disk full on db1 ✓"
    assert storable(text) is text
    payload = '{"a":"b"}'
    assert storable_json(payload) is payload


@pytest.mark.parametrize(("value", "decoded"), [
    ({"a": "x\x00y"}, {"a": "x\ufffdy"}),
    ({"k\x00": ["\x00", {"\x00": "\x00"}]}, {"k\ufffd": ["\ufffd", {"\ufffd": "\ufffd"}]}),
    ({"a": "x\\u0000y"}, {"a": "x\\u0000y"}),  # the text "\u0000", not the character: kept
    ({"a": "x\\\x00y"}, {"a": "x\\\ufffdy"}),  # a backslash, then the character
    ({"a": "\\\\u0000"}, {"a": "\\\\u0000"}),
])
def test_the_nul_escape_in_json_text_is_replaced_in_keys_and_values(value, decoded):
    for written in (orjson.dumps(value).decode(), json.dumps(value)):
        made = storable_json(written)
        assert "\\u0000" not in made.replace("\\\\", "") and json.loads(made) == decoded


def test_an_alert_is_made_storable_in_every_field():
    event = alert("disk\x00full", "db\x001", "key\x00", {"labels": {"in\x00stance": "db\x001"}})
    made = storable_input(event)
    assert isinstance(made, AlertEvent)
    assert (made.summary, made.source, made.dedup_key) == ("disk\ufffdfull", "db\ufffd1", "key\ufffd")
    assert json.loads(made.payload) == {"labels": {"in\ufffdstance": "db\ufffd1"}}
    assert (made.event_id, made.action, made.received_at) == (event.event_id, event.action, event.received_at)
    assert unstorable(made) == ([], "")


def test_a_clean_input_is_passed_on_as_it_is():
    event, note = alert(), command()
    assert storable_input(event) is event and storable_input(note) is note


def test_a_command_is_made_storable():
    made = storable_input(command("see\x00log", actor="api:\x00bob"))
    assert isinstance(made, IncidentCommand)
    assert (made.text, made.actor) == ("see\ufffdlog", "api:\ufffdbob")


def test_unstorable_names_the_paths_as_the_source_sent_them():
    event = alert("High latency", payload={"labels": {"instance": "db\x001", "job": "api"},
                                           "annotations": {"bad\x00key": "ok"}, "alerts": ["fine", "no\x00"]})
    fields, reason = unstorable(event)
    assert fields == ["labels.instance", "annotations.bad\ufffdkey (the key)", "alerts.1"]
    assert reason == "holds U+0000, which cannot be stored"


def test_unstorable_names_the_alerts_own_fields_when_the_payload_does_not_show_it():
    fields, _ = unstorable(alert("ok", dedup_key="key\x00", payload={"summary": "ok"}))
    assert fields == ["dedup_key"]
    fields, reason = unstorable(command("a\udce9"))
    assert (fields, reason) == (["text"], "holds a surrogate code point, which cannot be stored")


def test_a_payload_nested_deeper_than_python_recurses_is_still_answered():
    deep = "[" * 5000 + "\"\\u0000\"" + "]" * 5000
    event = AlertEvent(str(uuid.uuid4()), "svc", None, "k\x00", Action.TRIGGER, NOW, summary="s", payload=deep)
    assert unstorable(event)[0] == ["dedup_key"]
