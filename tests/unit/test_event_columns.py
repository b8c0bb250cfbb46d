"""Alert events made a column at a time (`alert_events_of_columns`, as the Alertmanager mapping
and the shard's unpickling make them) are the events the constructor makes from the same values:
equal, with the same hash, text and pickle, and as frozen."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.actors.domain.events import (
    ALERT_EVENT_FIELDS,
    Action,
    AlertEvent,
    Severity,
    Urgency,
    alert_events_of_columns,
)
from tocsin.actors.domain.rules.decision import Disposition

texts = st.text(max_size=12)
optional_texts = st.none() | texts
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "event_id": texts, "service_id": texts, "integration_id": optional_texts, "dedup_key": texts,
    "action": st.sampled_from(Action), "received_at": st.datetimes(timezones=st.just(timezone.utc)),
    "summary": optional_texts, "severity": st.none() | st.sampled_from(Severity), "source": optional_texts,
    "payload": texts, "rules": st.lists(texts, max_size=3).map(tuple), "disposition": st.sampled_from(Disposition),
    "pause_minutes": st.integers(0, 10**6), "urgency": st.none() | st.sampled_from(Urgency),
    "priority": optional_texts, "enrichment": texts,
}
REQUIRED = 6  # event_id .. received_at have no default


@st.composite
def columns(draw: st.DrawFn) -> tuple[int, list[list[Any] | tuple[Any]]]:
    """A count of events, and columns for a prefix of the fields (the rest left to their
    defaults), each one value per event or one value they all share."""
    count = draw(st.integers(1, 6))
    given_fields = ALERT_EVENT_FIELDS[:draw(st.integers(REQUIRED, len(ALERT_EVENT_FIELDS)))]
    made: list[list[Any] | tuple[Any]] = []
    for name in given_fields:
        values = FIELD_VALUES[name]
        made.append((draw(values),) if draw(st.booleans()) else draw(st.lists(values, min_size=count, max_size=count)))
    return count, made


def by_constructor(count: int, made: list[list[Any] | tuple[Any]]) -> list[AlertEvent]:
    rows = zip(*(column if type(column) is list else column * count for column in made))
    return [AlertEvent(*row) for row in rows]


@settings(max_examples=300, deadline=None)
@given(columns())
def test_events_made_by_columns_are_those_the_constructor_makes(given_columns: tuple[int, list[Any]]) -> None:
    count, made = given_columns
    events, expected = alert_events_of_columns(count, made), by_constructor(count, made)
    assert events == expected
    for event, other in zip(events, expected):
        assert type(event) is AlertEvent and dataclasses.astuple(event) == dataclasses.astuple(other)
        assert hash(event) == hash(other) and repr(event) == repr(other)
        assert pickle.loads(pickle.dumps(event)) == event and dataclasses.replace(event) == other
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.summary = "changed"  # type: ignore[misc]


def test_no_events_of_no_columns() -> None:
    assert alert_events_of_columns(0, ()) == []


def test_a_field_without_a_default_needs_its_column() -> None:
    at = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
    with pytest.raises(TypeError):
        alert_events_of_columns(1, (["e-1"], ("svc-1",), (None,), ["k"], (Action.TRIGGER,)))
    [event] = alert_events_of_columns(1, (["e-1"], ("svc-1",), (None,), ["k"], (Action.TRIGGER,), (at,)))
    assert event == AlertEvent("e-1", "svc-1", None, "k", Action.TRIGGER, at)
