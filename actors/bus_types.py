"""What the event bus carries and how it is read: the types every backend, publisher and
reader shares (bus.py for the in-cluster bus actor and `open_bus`, redis_bus.py for Redis).

Ids are like Redis's, "<milliseconds>-<sequence>", increasing, so a reader resumes after the
last id it saw; a reader whose id the bus no longer holds is answered `reset`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tocsin.actors.domain.wire import pickled_by_fields

EventId = tuple[int, int]  # (milliseconds, sequence), compared as a tuple


def parse_id(text: str) -> EventId | None:
    """An id such as "1700000000000-3" as a comparable pair; None when it is not one."""
    ms, dash, seq = text.strip().partition("-")
    if not (dash and ms.isascii() and ms.isdigit() and seq.isascii() and seq.isdigit()):
        return None
    return int(ms), int(seq)


def format_id(event_id: EventId) -> str:
    return f"{event_id[0]}-{event_id[1]}"


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class BusEvent:
    """One event. `kind` is "incident", or "gap" (it stands where the publisher lost
    events: readers reload); `service_id` lets readers filter without parsing `data`, the
    JSON body sent to dashboards as it is. `id` is given by the bus."""

    kind: str
    service_id: str
    data: str
    id: str = ""


@dataclass(frozen=True, slots=True)
class BusRead:
    """What one read found: the events after the reader's id, in order, and the cursor
    to read after next. `reset`: events after the reader's id are gone or the id is not
    one of this bus's; the cursor is the bus's newest id."""

    events: list[BusEvent]
    cursor: str
    reset: bool = False


class EventBus(Protocol):
    async def publish(self, events: Sequence[BusEvent]) -> list[str]:
        """Append events in order; their ids."""

    async def read(self, after_id: str, block_s: float, limit: int = 100) -> BusRead:
        """Events after `after_id`, waiting up to `block_s` for one when there are none."""

    async def tail(self) -> str:
        """The newest id: reading after it gives only what is published from now on."""

    async def close(self) -> None: ...
