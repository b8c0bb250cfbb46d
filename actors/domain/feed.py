"""What the live feed says about a committed plan: one change per incident the plan touched,
with the incident as the incident list shows it and the timeline entries the plan added.

Pure: the shard's publisher turns these into bus events once the plan is durable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tocsin.actors.domain.batch_plan import LogEntry, Plan
from tocsin.actors.domain.incident import Incident

# An incident in a storm can gather hundreds of occurrences in one batch; the feed carries
# the newest entries and says how many it left out (the timeline in Postgres has them all).
MAX_ENTRIES = 100


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


def changes_of(plan: Plan) -> list[IncidentChange]:
    """One change per incident the plan wrote or logged, in the order it first touched them."""
    drafts: dict[int, Incident] = {key: draft for key, draft in plan.changed.items()}
    entries: dict[int, list[LogEntry]] = {}
    for entry in plan.log:
        drafts.setdefault(id(entry.incident), entry.incident)
        entries.setdefault(id(entry.incident), []).append(entry)
    changes = []
    for key, draft in drafts.items():
        if draft.id is None:
            continue  # never the case after a commit, which gives every new incident its id
        logged = entries.get(key, [])
        kept = logged[-MAX_ENTRIES:]
        changes.append(IncidentChange(
            draft.service_id, list_fields(draft), [entry_fields(e) for e in kept], len(logged) - len(kept)
        ))
    return changes


def list_fields(incident: Incident) -> dict[str, Any]:
    """The incident as GET /api/v1/incidents lists it (escalation levels counted from 1)."""
    walk = incident.escalation
    return {
        "id": incident.id,
        "service_id": incident.service_id,
        "dedup_key": incident.dedup_key,
        "status": incident.status.value,
        "summary": incident.summary,
        "severity": incident.severity.value,
        "source": incident.source,
        "occurrences": incident.occurrences,
        "created_at": _utc(incident.created_at),
        "updated_at": _utc(incident.updated_at),
        "last_occurrence_at": _utc(incident.last_occurrence_at),
        "acknowledged_at": _utc(incident.acknowledged_at),
        "resolved_at": _utc(incident.resolved_at),
        "urgency": incident.urgency.value,
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
