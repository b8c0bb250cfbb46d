"""What crosses between processes with every alert pickles as its constructor's arguments."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from tocsin.actors.bus_types import BusEvent
from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import Action, AlertEvent, Command, IncidentCommand, Severity
from tocsin.actors.domain.wire import pickled_by_fields

AT = datetime(2026, 3, 2, 9, 29, 51, 613871, tzinfo=timezone.utc)

VALUES = [
    AlertEvent("0b7e5d4e-8a1c-4d8e-9a55-0c6f2b7d9e11", "svc", None, "am:0123456789abcdef", Action.TRIGGER, AT,
               "disk full", Severity.WARNING, "web-1:8080", '{"labels": {"severity": "warning"}}'),
    IncidentCommand("cmd-1", "svc", 42, Command.SNOOZE, "ana@example.com", AT, minutes=30, text="looking"),
    Reply("occurrence", 42, "triggered"),
    Reply("dropped"),
    BusEvent("incident", "svc", '{"incident": {}}', "1764323391000-0"),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_a_value_comes_back_equal_and_of_its_own_type(value: object) -> None:
    back = pickle.loads(pickle.dumps(value))
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_a_value_pickles_as_its_class_and_field_values(value: object) -> None:
    cls, args = value.__reduce__()  # type: ignore[misc]
    assert cls is type(value) and cls(*args) == value


def test_a_class_with_a_keyword_only_field_is_refused() -> None:
    with pytest.raises(TypeError, match="positional"):
        @pickled_by_fields
        @dataclass(frozen=True, slots=True)
        class Named:
            name: str
            tags: list[str] = field(default_factory=list, kw_only=True)


def test_a_class_of_one_field_pickles_too() -> None:
    @pickled_by_fields
    @dataclass(frozen=True, slots=True)
    class Key:
        value: str

    assert Key("k").__reduce__() == (Key, ("k",))
