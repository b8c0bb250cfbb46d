"""The incident state machine: triggered -> acknowledged -> resolved.

Transitions change a *draft*: the shard's planning step copies an incident before the
first change in a batch, and the copy replaces the one in memory only once the batch that
produced it is committed.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, fields
from datetime import datetime
from enum import Enum

from tocsin.actors.domain.escalation_state import EscalationState
from tocsin.actors.domain.events import Severity, Status, Urgency


NO_DETAILS = "{}"


class Outcome(str, Enum):
    """What one input did; stored with each raw alert and returned to the caller."""

    OPENED = "opened"
    OCCURRENCE = "occurrence"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    UNCHANGED = "unchanged"  # e.g. acknowledging an incident that is already acknowledged
    DROPPED = "dropped"  # acknowledge/resolve with no open incident for the dedup key
    DUPLICATE = "duplicate"  # this input id was applied before
    REFUSED = "refused"  # a command that cannot apply, e.g. escalating with no escalation policy
    ESCALATED = "escalated"
    SNOOZED = "snoozed"
    REASSIGNED = "reassigned"
    NOTED = "noted"  # a note added to the timeline
    INVALID = "invalid"  # the database refused a value it holds: applied nothing, stored nothing


@dataclass(slots=True)
class Incident:
    id: int | None  # assigned by the store in the transaction that creates the row
    service_id: str
    dedup_key: str
    status: Status
    summary: str
    severity: Severity
    source: str | None
    occurrences: int
    created_at: datetime
    updated_at: datetime
    last_occurrence_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    details: str = NO_DETAILS  # only until the row is written; memory keeps no payloads
    urgency: Urgency = Urgency.HIGH
    policy_id: str | None = None  # the escalation policy it walks; None when it pages nobody
    assigned_user_id: str | None = None  # reassigned to one person instead of a policy
    escalation: EscalationState | None = None  # None: no walk (no policy)
    pages: int = 0  # pages sent so far; numbers the next one
    auto_resolve_at: datetime | None = None  # resolves itself then unless a new occurrence comes
    # What routing rules set (tocsin.actors.domain.rule_effects): a suppressed incident pages
    # no one; a paused one starts paging at `paused_until` if still triggered then.
    suppressed: bool = False
    paused_until: datetime | None = None
    priority: str | None = None
    tags: tuple[str, ...] = ()
    integration_id: str | None = None  # where the alert that opened it came from
    rule_details: str = NO_DETAILS  # details rules added, JSON; like `details`, only until written

    @property
    def is_open(self) -> bool:
        return self.status is not Status.RESOLVED

    @property
    def next_deadline(self) -> datetime | None:
        """The earliest instant something is due: a level, a snooze's or a pause's end, or
        resolving itself; None when nothing waits."""
        walk = self.escalation
        waits = (walk.snoozed_until or walk.next_escalation_at if walk is not None else None,
                 self.paused_until, self.auto_resolve_at)
        return min((at for at in waits if at is not None), default=None)


def open_incident(
    *,
    service_id: str,
    dedup_key: str,
    summary: str,
    severity: Severity,
    source: str | None,
    details: str,
    at: datetime,
) -> Incident:
    return Incident(
        id=None,
        service_id=service_id,
        dedup_key=dedup_key,
        status=Status.TRIGGERED,
        summary=summary,
        severity=severity,
        source=source,
        occurrences=1,
        created_at=at,
        updated_at=at,
        last_occurrence_at=at,
        details=details,
    )


_FIELD_VALUES = operator.attrgetter(*(f.name for f in fields(Incident)))


def draft_of(incident: Incident) -> Incident:
    """A private copy to change while planning a batch (shallow: what it holds is immutable).
    Every occurrence takes one, so it skips dataclasses.replace's checks of each field."""
    return Incident(*_FIELD_VALUES(incident))


# What occurrences change: an incident's other fields stay as they were. In a storm nearly
# every change of an incident is one of these, and both the store (which writes only these
# columns) and the live feed (which holds such changes back) treat them apart.
OCCURRENCE_FIELDS = ("occurrences", "updated_at", "last_occurrence_at", "auto_resolve_at")
_UNCHANGED_BY_OCCURRENCES = operator.attrgetter(*(f.name for f in fields(Incident) if f.name not in OCCURRENCE_FIELDS))


def only_occurrences_changed(draft: Incident, before: Incident) -> bool:
    """Whether `draft` differs from `before` in OCCURRENCE_FIELDS alone."""
    return bool(_UNCHANGED_BY_OCCURRENCES(draft) == _UNCHANGED_BY_OCCURRENCES(before))


def add_occurrences(draft: Incident, count: int, latest: datetime, last_at: datetime) -> None:
    """`count` more triggers with the same dedup key while the incident is open: the latest
    received at `latest`, the last of them (in order) at `last_at`."""
    draft.occurrences += count
    draft.last_occurrence_at = max(latest, draft.last_occurrence_at)
    draft.updated_at = last_at


def acknowledge(draft: Incident, at: datetime) -> Outcome:
    if draft.status is not Status.TRIGGERED:
        return Outcome.UNCHANGED
    draft.status = Status.ACKNOWLEDGED
    draft.acknowledged_at = at
    draft.updated_at = at
    return Outcome.ACKNOWLEDGED


def resolve(draft: Incident, at: datetime) -> Outcome:
    if draft.status is Status.RESOLVED:
        return Outcome.UNCHANGED
    draft.status = Status.RESOLVED
    draft.resolved_at = at
    draft.updated_at = at
    return Outcome.RESOLVED


def retrigger(draft: Incident, at: datetime) -> None:
    """Back to triggered, as a snooze running out or a manual escalation does."""
    if draft.status is Status.ACKNOWLEDGED:
        draft.status = Status.TRIGGERED
        draft.acknowledged_at = None
        draft.updated_at = at
