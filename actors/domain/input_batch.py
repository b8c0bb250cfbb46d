"""A shard call's inputs as columns: what crosses the process from the gateway to a shard.

Pickled as a list of events, every alert cost its own object in the pickle: its class, its
tuple of sixteen fields, its enum members and instants, written by the gateway and read by
the shard. As columns, one list per field of `AlertEvent`, and one value for a field the
whole batch shares (the service, the integration, when it was received, the rules' defaults),
the pickle is a few lists of strings: its cost grows with the batch's text, not its objects.
The shard turns it back into events at the top of `apply`, a column at a time (see `inputs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from tocsin.actors.domain.events import ALERT_EVENT_FIELDS, AlertEvent, Column, ServiceInput, alert_events_of_columns
from tocsin.actors.domain.wire import pickled_by_fields

_ROW = attrgetter(*ALERT_EVENT_FIELDS)


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class InputBatch:
    """Inputs in order: the alert events as columns, in `AlertEvent`'s field order (a list, one
    value per alert, or a 1-tuple holding the value every alert shares), and any other input
    (an incident command) with its position among them all."""

    count: int  # alert events
    columns: tuple[Column, ...]
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
        """The inputs, in their order, as they were given (the events made column-wise)."""
        items: list[ServiceInput] = list(alert_events_of_columns(self.count, self.columns))
        for position, item in self.others:
            items.insert(position, item)
        return items

    def __len__(self) -> int:
        return self.count + len(self.others)


def _column(values: tuple[Any, ...]) -> Column:
    first = values[0]
    return (first,) if values.count(first) == len(values) else list(values)
