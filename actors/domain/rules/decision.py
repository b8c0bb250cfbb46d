"""What a rule set decides for one alert: the rules that matched, the changes to the alert, what
becomes of it, and, for a router, where it goes.

Plain immutable values: the gateway (or the test endpoint) applies them; nothing here is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

NO_DETAILS: Mapping[str, str] = MappingProxyType({})


class Disposition(str, Enum):
    """What becomes of the alert, from the least to the most restrictive."""

    PAGE = "page"  # as usual: it goes on, and pages if it opens an incident
    PAUSE = "pause"  # recorded; its incident pages after `pause_minutes` only if still triggered then
    SUPPRESS = "suppress"  # recorded on a suppressed incident that pages no one
    DROP = "drop"  # not recorded, only counted


RESTRICTION = {disposition: rank for rank, disposition in enumerate(Disposition)}


@dataclass(frozen=True, slots=True)
class Changes:
    """The changes matched rules make to the alert; None (or empty) leaves a field as it came.
    `details` are added to the alert's details (replacing keys of the same name); `tags` are
    added to its tags."""

    summary: str | None = None
    severity: str | None = None
    urgency: str | None = None
    priority: str | None = None
    dedup_key: str | None = None
    details: Mapping[str, str] = field(default_factory=lambda: NO_DETAILS)
    tags: tuple[str, ...] = ()


NO_CHANGES = Changes()


@dataclass(frozen=True, slots=True)
class Decision:
    """`matched`: the ids of the rules that matched, in order. `pause_minutes` is set with
    Disposition.PAUSE only. For a router: `service_id` is the service the alert goes to (None
    when it is dropped), and `by_catch_all` says no rule matched and the catch-all decided."""

    matched: tuple[str, ...] = ()
    changes: Changes = NO_CHANGES
    disposition: Disposition = Disposition.PAGE
    pause_minutes: int = 0
    service_id: str | None = None
    by_catch_all: bool = False


NOTHING = Decision()
