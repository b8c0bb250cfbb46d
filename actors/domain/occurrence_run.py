"""Occurrences of an open incident gathered while a batch is planned, and applied as one step.

In a storm almost every alert is one more occurrence of an incident already open. Planning
gathers an incident's consecutive occurrences into a run and applies the run when something
else is about to touch the incident (an acknowledge, a resolve, a command, an alert that
lifts its suppression) or when the batch's inputs end: the count, the latest occurrence, the
last one's time and the tags its alerts' rules added, as applying them one by one leaves
them; and one timeline entry for the whole run ("42 more occurrences (2–43), 10:01:03–10:01:05
UTC: …") where each alert had its own. A run of one alert keeps the entry an occurrence
always had. Each alert keeps its own outcome, reply and raw row (`Plan.applied`): nothing
that was sent is lost, only its line on the timeline is shared.

A run holds alerts whose entries would differ only in time and summary: the same source,
the same kind of occurrence, the same matching rules and what they did. An alert unlike
the run's closes it and starts the next one, so the rules of every alert stay on the
timeline, and an entry's `alerts` counts what each rule matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from tocsin.actors.domain.batch_plan import LogEntry
from tocsin.actors.domain.events import AlertEvent
from tocsin.actors.domain.incident import Incident, add_occurrences
from tocsin.actors.domain.incident_escalation import ServiceConfig
from tocsin.actors.domain.rule_effects import enrichment_of, with_tags

SUMMARY_KIND = "occurrences"  # the timeline's kind for a run of more than one occurrence


@dataclass(slots=True)
class OccurrenceRun:
    """Consecutive occurrences of one draft, alike in what their timeline entries say.
    `ruled`: the draft is the alerts' own incident, which takes the tags their rules add
    (not so the overflow incident they may be grouped into)."""

    draft: Incident
    label: str  # "occurrence", or "overflow occurrence"
    actor: str
    ruled: bool
    effect: str | None
    first: AlertEvent
    last: AlertEvent
    earliest: datetime
    latest: datetime
    count: int = 1
    enrichments: dict[str, AlertEvent] = field(default_factory=dict)  # an alert of each distinct one, in order

    @classmethod
    def start(cls, draft: Incident, event: AlertEvent, actor: str, label: str, ruled: bool,
              effect: str | None) -> OccurrenceRun:
        run = cls(draft, label, actor, ruled, effect, event, event, event.received_at, event.received_at)
        if ruled and event.enrichment:
            run.enrichments[event.enrichment] = event
        return run

    def takes(self, event: AlertEvent, actor: str, label: str, ruled: bool, effect: str | None) -> bool:
        """Whether `event` would have an entry like the run's (then `add` it)."""
        return (actor == self.actor and label == self.label and ruled == self.ruled
                and event.rules == self.first.rules and effect == self.effect)

    def add(self, event: AlertEvent) -> None:
        at = event.received_at
        self.count += 1
        self.last = event
        if at > self.latest:
            self.latest = at
        elif at < self.earliest:
            self.earliest = at
        if self.ruled and event.enrichment:
            self.enrichments.setdefault(event.enrichment, event)

    def apply(self, config: ServiceConfig) -> LogEntry:
        """Change the draft as its alerts, applied in order, would have; its timeline entry."""
        draft = self.draft
        number = draft.occurrences + 1
        add_occurrences(draft, self.count, self.latest, self.last.received_at)
        draft.auto_resolve_at = config.auto_resolve_at(draft.last_occurrence_at)
        for event in self.enrichments.values():  # tags only grow: a repeated enrichment adds nothing
            draft.tags = with_tags(draft.tags, enrichment_of(event).tags)
        summary = f": {self.last.summary}" if self.last.summary else ""
        if self.count == 1:
            return LogEntry(draft, self.first.received_at, "occurrence", self.actor, f"{self.label} {number}{summary}",
                            self.first.event_id, self.first.rules, self.effect)
        message = (f"{self.count} more {self.label}s ({number}–{number + self.count - 1}),"
                   f" {_span(self.earliest, self.latest)}{summary}")
        return LogEntry(draft, self.latest, SUMMARY_KIND, self.actor, message, None, self.first.rules, self.effect,
                        alerts=self.count)


def _span(earliest: datetime, latest: datetime) -> str:
    first, last = _clock_time(earliest), _clock_time(latest)
    return f"{first} UTC" if first == last else f"{first}–{last} UTC"


def _clock_time(at: datetime) -> str:
    if at.tzinfo is not timezone.utc:  # a gateway stamps it in UTC already
        at = at.astimezone(timezone.utc)
    return f"{at.hour:02}:{at.minute:02}:{at.second:02}"  # strftime costs ten times as much
