"""What the live feed says about a committed plan: one change per incident the plan touched,
with the incident as the incident list shows it and the timeline entries the plan added.

Pure: the shard's publisher turns these into bus events once the plan is durable. A change
is kept as the committed draft and entries (`CommittedChange`) until it is said: saying it
(`IncidentChange`) costs more than everything else the feed does, and in an alert storm most
changes are replaced before they are said.

In a storm every commit adds occurrences to every open incident, and a person watching gains
nothing from seeing the count of each go up ten times a second. `OccurrenceHold` holds a
change that only added occurrences back for a while; later ones of the same incident replace
it, its entries kept in front (the newest MAX_ENTRIES, the rest counted as omitted). Any
other change of that incident takes it along at once, so no reader sees an incident older
than one it saw, nor loses count of its entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tocsin.actors.domain.batch_plan import LogEntry, Plan
from tocsin.actors.domain.events import Severity, Status, Urgency
from tocsin.actors.domain.incident import Incident
from tocsin.actors.domain.occurrence_run import SUMMARY_KIND

# An incident in a storm can gather hundreds of occurrences in one batch; the feed carries
# the newest entries and says how many it left out (the timeline in Postgres has them all).
MAX_ENTRIES = 100
# The timeline's kinds for occurrences: one alert's, and a run's (tocsin.actors.domain.occurrence_run).
_OCCURRENCE_KINDS = frozenset({"occurrence", SUMMARY_KIND})
# An enum's `.value` is a descriptor call (about 120 ns on CPython 3.11); a lookup costs a quarter.
_VALUES: dict[Status | Severity | Urgency, str] = {m: m.value for kind in (Status, Severity, Urgency) for m in kind}


@dataclass(frozen=True, slots=True)
class IncidentChange:
    service_id: str
    incident: dict[str, Any]
    entries: list[dict[str, Any]]
    entries_omitted: int = 0

    def body(self) -> dict[str, Any]:
        """The event's data: {"incident", "entries"}, and "entries_omitted" when some were."""
        body: dict[str, Any] = {"incident": self.incident, "entries": self.entries}
        if self.entries_omitted:
            body["entries_omitted"] = self.entries_omitted
        return body


@dataclass(slots=True)  # not frozen: one is made per incident and commit, and frozen costs 3x to make
class CommittedChange:
    """What commits did to one incident, not yet in the feed's words: the newest committed
    draft and the newest MAX_ENTRIES of its new entries. After its commit nothing changes a
    draft the feed reads (planning changes copies of it; adopting it blanks its details, which
    the feed does not show), so holding it costs nothing."""

    draft: Incident
    entries: list[LogEntry]
    entries_omitted: int
    occurrences_only: bool  # it changed what occurrences change and logged occurrences, nothing else

    def after(self, earlier: CommittedChange) -> CommittedChange:
        """This change with an earlier one of the same incident merged in front."""
        entries = earlier.entries + self.entries
        kept = entries[-MAX_ENTRIES:]
        omitted = earlier.entries_omitted + self.entries_omitted + len(entries) - len(kept)
        return CommittedChange(self.draft, kept, omitted, self.occurrences_only)

    def said(self) -> IncidentChange:
        """The change in the feed's words (the costly part)."""
        return IncidentChange(self.draft.service_id, list_fields(self.draft),
                              [entry_fields(e) for e in self.entries], self.entries_omitted)


def committed_changes(plan: Plan) -> list[CommittedChange]:
    """One change per incident the plan wrote or logged, in the order it first touched them."""
    drafts: dict[int, Incident] = dict(plan.changed)
    entries: dict[int, list[LogEntry]] = {}
    for entry in plan.log:
        drafts.setdefault(id(entry.incident), entry.incident)
        entries.setdefault(id(entry.incident), []).append(entry)
    only_occurred = plan.only_occurred()
    changes = []
    for key, draft in drafts.items():
        if draft.id is None:
            continue  # never the case after a commit, which gives every new incident its id
        logged = entries.get(key, [])
        kept = logged[-MAX_ENTRIES:]
        occurrences_only = key in only_occurred and _only_occurrences(logged)
        changes.append(CommittedChange(draft, kept, len(logged) - len(kept), occurrences_only))
    return changes


def _only_occurrences(entries: list[LogEntry]) -> bool:
    for entry in entries:  # a loop costs a third of all() over a generator, for the usual one entry
        if entry.kind not in _OCCURRENCE_KINDS:
            return False
    return True


def changes_of(plan: Plan) -> list[IncidentChange]:
    """The plan's changes in the feed's words, none held back."""
    return [change.said() for change in committed_changes(plan)]


class OccurrenceHold:
    """Changes that only added occurrences, held back up to `hold_s` from when the first of
    an incident's was: one per incident, the newest, with the entries of those it replaced.
    Times are the caller's (monotonic) seconds."""

    __slots__ = ("_hold_s", "_held")

    def __init__(self, hold_s: float) -> None:
        self._hold_s = hold_s
        # by incident id, in the order held first (so the oldest is first); the time held first
        self._held: dict[int, tuple[float, CommittedChange]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def passed(self, change: CommittedChange, now: float) -> CommittedChange | None:
        """What of `change` to publish now: None when it is held; otherwise the change with
        what was held of its incident in front."""
        key = change.draft.id
        assert key is not None, "only committed changes"
        held = self._held.get(key)
        if change.occurrences_only:
            # Assigning to a key already held keeps its place: the order stays the order held first.
            self._held[key] = (now, change) if held is None else (held[0], change.after(held[1]))
            return None
        if held is None:
            return change
        del self._held[key]
        return change.after(held[1])

    def due_at(self) -> float | None:
        """When the oldest held change is due; None when nothing is held."""
        oldest = next(iter(self._held.values()), None)
        return None if oldest is None else oldest[0] + self._hold_s

    def due(self, now: float) -> list[CommittedChange]:
        """The changes held `hold_s` or longer, oldest first, no longer held."""
        due = []
        for key, (since, _) in self._held.items():
            if since + self._hold_s > now:
                break
            due.append(key)
        return [self._held.pop(key)[1] for key in due]

    def release(self) -> list[CommittedChange]:
        """Every held change, oldest first, no longer held."""
        released = [change for _, change in self._held.values()]
        self._held.clear()
        return released

    def clear(self) -> None:
        """Forget what is held (readers reload it: see the publisher's gap)."""
        self._held.clear()


def list_fields(incident: Incident) -> dict[str, Any]:
    """The incident as GET /api/v1/incidents lists it (escalation levels counted from 1)."""
    walk = incident.escalation
    return {
        "id": incident.id,
        "service_id": incident.service_id,
        "dedup_key": incident.dedup_key,
        "status": _VALUES[incident.status],
        "summary": incident.summary,
        "severity": _VALUES[incident.severity],
        "source": incident.source,
        "occurrences": incident.occurrences,
        "created_at": _utc(incident.created_at),
        "updated_at": _utc(incident.updated_at),
        "last_occurrence_at": _utc(incident.last_occurrence_at),
        "acknowledged_at": _utc(incident.acknowledged_at),
        "resolved_at": _utc(incident.resolved_at),
        "urgency": _VALUES[incident.urgency],
        "escalation_policy_id": incident.policy_id,
        "assigned_user_id": incident.assigned_user_id,
        "escalation_level": walk.level + 1 if walk is not None else None,
        "next_escalation_at": _utc(walk.next_escalation_at if walk is not None else None),
        "snoozed_until": _utc(walk.snoozed_until if walk is not None else None),
        "auto_resolve_at": _utc(incident.auto_resolve_at),
        "suppressed": incident.suppressed,
        "paused_until": _utc(incident.paused_until),
        "priority": incident.priority,
        "tags": list(incident.tags),
    }


def entry_fields(entry: LogEntry) -> dict[str, Any]:
    """A timeline entry as GET /api/v1/incidents/{id} shows it."""
    return {"at": _utc(entry.at), "kind": entry.kind, "actor": entry.actor, "message": entry.message,
            "rules": list(entry.rules), "rule_effect": entry.rule_effect, "alerts": entry.alerts}


def _utc(at: datetime | None) -> datetime | None:
    # Postgres hands instants back in UTC; the feed says them the same way. Most are in UTC
    # already (a gateway stamps them so), and astimezone costs more than the test.
    return at if at is None or at.tzinfo is timezone.utc else at.astimezone(timezone.utc)
