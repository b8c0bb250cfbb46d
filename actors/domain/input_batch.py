"""A shard call's inputs as columns: what crosses the process from the gateway to a shard.

Pickled as a list of events, every alert cost its own object in the pickle: its class, its
tuple of sixteen fields, its enum members and instants, written by the gateway and read by
the shard. As columns, one list per field of `AlertEvent`, and one value for a field the
whole batch shares (the service, the integration, when it was received, the rules' defaults),
the pickle is a few lists of strings: its cost grows with the batch's text, not its objects.
The shard turns it back into events at the top of `apply`, a column at a time (see `inputs`).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter
from typing import Any

from tocsin.actors.domain.events import AlertEvent, ServiceInput
from tocsin.actors.domain.wire import pickled_by_fields

_FIELDS = tuple(field.name for field in dataclasses.fields(AlertEvent))
_ROW = attrgetter(*_FIELDS)
# Each field's slot, set directly: a frozen dataclass's __init__ sets its fields one by one
# through object.__setattr__, the larger part of making an event.
_SLOT_SETTERS = tuple(getattr(AlertEvent, name).__set__ for name in _FIELDS)


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class InputBatch:
    """Inputs in order: the alert events as columns, in `AlertEvent`'s field order (a list, one
    value per alert, or a 1-tuple holding the value every alert shares), and any other input
    (an incident command) with its position among them all."""

    count: int  # alert events
    columns: tuple[list[Any] | tuple[Any], ...]
    others: tuple[tuple[int, ServiceInput], ...] = ()

    @classmethod
    def of(cls, inputs: Sequence[ServiceInput]) -> InputBatch:
        alerts = [item for item in inputs if type(item) is AlertEvent]
        others = () if len(alerts) == len(inputs) else tuple(
            (position, item) for position, item in enumerate(inputs) if type(item) is not AlertEvent)
        if not alerts:
            return cls(0, (), others)
        return cls(len(alerts), tuple(_column(values) for values in zip(*map(_ROW, alerts))), others)

    def inputs(self) -> list[ServiceInput]:
        """The inputs, in their order, as they were given. The events are made blank and
        filled a column at a time, each slot set in C (`map` over the slot's setter): about
        a third of what calling the constructor per event costs."""
        count = self.count
        events: list[AlertEvent] = list(map(object.__new__, repeat(AlertEvent, count)))
        for set_slot, column in zip(_SLOT_SETTERS, self.columns):
            values = column if type(column) is list else repeat(column[0], count)
            deque(map(set_slot, events, values), maxlen=0)
        items: list[ServiceInput] = list(events)
        for position, item in self.others:
            items.insert(position, item)
        return items

    def __len__(self) -> int:
        return self.count + len(self.others)


def _column(values: tuple[Any, ...]) -> list[Any] | tuple[Any]:
    first = values[0]
    return (first,) if values.count(first) == len(values) else list(values)
