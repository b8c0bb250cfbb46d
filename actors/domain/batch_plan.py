"""What planning a batch produces: changed drafts, log entries, pages, per-input outcomes.

A plan changes nothing in memory; the shard writes it and, once it is durable, the service
adopts it. See `tocsin.actors.domain.service_incidents`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from tocsin.actors.domain.escalation_state import Page
from tocsin.actors.domain.events import ServiceInput
from tocsin.actors.domain.incident import Incident, Outcome, only_occurrences_changed
from tocsin.actors.domain.paging import Notification
from tocsin.actors.domain.wire import pickled_by_fields

if TYPE_CHECKING:  # it makes the entries of a plan
    from tocsin.actors.domain.occurrence_run import OccurrenceRun


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of an incident's timeline. `incident` is the plan's draft, whose id the
    store fills in for a new incident before it writes the entry."""

    incident: Incident
    at: datetime
    kind: str
    actor: str
    message: str
    input_id: str | None
    rules: tuple[str, ...] = ()  # the routing rules that matched the alert this entry records
    rule_effect: str | None = None  # what they did to it, e.g. "suppressed" or "paused 5 min"
    alerts: int = 1  # how many alerts it stands for: more than one for a run of occurrences


class Applied(NamedTuple):
    """What became of one input. A named tuple: one is made per alert, and a tuple costs a
    fifth of what a frozen dataclass does to make."""

    input: ServiceInput
    outcome: Outcome
    incident: Incident | None
    note: str | None = None  # why a command was refused


@dataclass(frozen=True, slots=True)
class PlannedPage:
    """A level to page for an incident; `number` is the incident's count of pages with it."""

    incident: Incident
    page: Page
    number: int


@dataclass(frozen=True, slots=True)
class PlannedNotification:
    """An outbox row: one notification of one page."""

    incident: Incident
    page: PlannedPage
    notification: Notification


@dataclass(slots=True)
class Plan:
    service_id: str
    drafts: dict[str, Incident] = field(default_factory=dict)  # latest draft per dedup key
    changed: dict[int, Incident] = field(default_factory=dict)  # by id(draft): drafts to write
    log: list[LogEntry] = field(default_factory=list)
    applied: list[Applied] = field(default_factory=list)
    pages: list[PlannedPage] = field(default_factory=list)
    notifications: list[PlannedNotification] = field(default_factory=list)
    # drafts acknowledged, snoozed or resolved here: their pending notifications are cancelled
    silenced: dict[int, Incident] = field(default_factory=dict)
    # by id(draft): occurrences gathered and not yet applied (only while planning; see
    # tocsin.actors.domain.occurrence_run)
    runs: dict[int, OccurrenceRun] = field(default_factory=dict)
    # by id(draft): the incident as memory held it when the draft was made, for the store to
    # write only what changed (in a storm, the occurrence counts)
    before: dict[int, Incident] = field(default_factory=dict)
    _only_occurred: set[int] | None = field(default=None, repr=False)  # see only_occurred()

    def only_occurred(self) -> set[int]:
        """By id(draft): the changed drafts that differ from `before` in OCCURRENCE_FIELDS alone
        (their incidents only gained occurrences). The store writes these with those columns
        alone and the live feed holds them back, so it is worked out once, when first asked:
        by the store, before the commit. Adopting the plan changes no field it compares but the
        details, which it blanks, and memory held them blank already."""
        if self._only_occurred is None:
            before = self.before
            self._only_occurred = {
                key for key, draft in self.changed.items()
                if (original := before.get(key)) is not None and only_occurrences_changed(draft, original)
            }
        return self._only_occurred

    @property
    def new_incidents(self) -> list[Incident]:
        return [i for i in self.changed.values() if i.id is None]

    @property
    def updated_incidents(self) -> list[Incident]:
        return [i for i in self.changed.values() if i.id is not None]


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Reply:
    """The answer for one input, in the order the inputs were given. An input answered
    `invalid` names in `fields` where it holds what the database refused, and `note` says what."""

    outcome: str
    incident_id: int | None = None
    status: str | None = None
    note: str | None = None
    fields: tuple[str, ...] = ()

    @classmethod
    def of(cls, applied: Applied) -> Reply:
        incident = applied.incident
        if incident is None:
            return cls(applied.outcome.value, note=applied.note)
        return cls(applied.outcome.value, incident.id, incident.status.value, applied.note)
