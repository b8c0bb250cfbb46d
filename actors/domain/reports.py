"""On-call health reports, computed from the incident log and the outbox (never from the
counters of /metrics, which start again at zero when a shard restarts).

Pure: the store reads plain rows (actors/store/reports.py), this module turns them into a
report; nothing here reads a clock, a database or the network.

What is counted, precisely:

- **The period** is [start, end). An incident belongs to the period it was *opened* in, and
  everything about it counts with it: its acknowledgement, its resolution and every page it
  caused, even one sent after `end`. So the tables agree with each other: the pages per person
  add up to the pages per service and to the total.
- **Suppressed incidents** (routing rules paged nobody) are counted apart and left out of
  MTTA, MTTR and the noise figures: nobody was asked to respond to them.
- **Acknowledged by a person**: the incident's *first* acknowledgement in its log came from a
  command (the API, the dashboard, a phone, a chat button, a push action, or a source acting by
  incident number) rather than from an alert of the monitoring source or from Tocsin itself.
  The store tells which (a log entry written for a command carries that command's id).
  An incident a source acknowledged first is "acknowledged by its source", not in MTTA.
- **MTTA** = first acknowledgement − created_at, over the incidents acknowledged by a person.
  **MTTR** = resolved_at − created_at, over the resolved incidents, whoever resolved them
  (a person, the source, or Tocsin's auto-resolve). Incidents still open are counted as open.
- **Median and p90** are nearest-rank percentiles: the value at rank ⌈p·n/100⌉ of the n
  durations sorted (1-based). So both are durations that actually happened, and the median of
  an even count is the lower of the two middle values.
- **A page** is one person told of one incident at one step of its escalation: the distinct
  (incident, page number, person) among the notifications that reached them (sent, or sent
  inside a bundle). Two contact methods for the same step (a push now, an SMS in five minutes)
  are one page. Its time is the first of those deliveries.
- **Night** is 22:00 ≤ t < 07:00 and **weekend** is Saturday or Sunday, in the paged
  person's own time zone (their current one), at the page's time, with the zone's daylight
  saving rules (zoneinfo). A Saturday 23:00 page is both; "off hours" counts it once.
- **Acknowledged without action**: acknowledged by a person, then resolved, with no entry
  from a person's command strictly between the first acknowledgement and the resolution: no
  note, escalation, snooze, reassignment or second acknowledgement. The resolution itself may
  be anyone's (the person's own resolve, the source's, or auto-resolve).
- **Noisiest alerts**: per (service, dedup key), and per routing rule that matched any of an
  incident's alerts; ranked by incidents, then pages, then occurrences (alerts, for a rule),
  most first; the first `top` of each.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NIGHT_STARTS = time(22, 0)
NIGHT_ENDS = time(7, 0)
WEEKEND = (5, 6)  # Saturday, Sunday as datetime.weekday() numbers them
LONGEST_PERIOD = timedelta(days=366)
DEFAULT_TOP = 10
# Upper bounds in seconds of the buckets the dashboard's histograms draw; the last is open.
DURATION_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600)


# -- the rows read ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class IncidentRow:
    id: int
    service_id: str
    dedup_key: str
    summary: str
    created_at: datetime
    resolved_at: datetime | None
    occurrences: int
    suppressed: bool


@dataclass(frozen=True, slots=True)
class LogRow:
    """A timeline entry that is neither the incident's opening nor an occurrence, in log order.
    `by_person`: written for a command (see the module's docstring)."""

    incident_id: int
    at: datetime
    kind: str
    by_person: bool


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One notification of a page that reached its person, at `sent_at`."""

    incident_id: int
    page: int
    user_id: str
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class RuleMatchRow:
    """A routing rule matched `alerts` of an incident's alerts."""

    incident_id: int
    rule_id: str
    alerts: int


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    time_zone: str


# -- what comes out --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Durations:
    """How many durations, and their nearest-rank median and p90 in seconds (None when none)."""

    count: int
    median_s: float | None
    p90_s: float | None
    buckets: tuple[int, ...]  # counts per DURATION_BUCKETS bucket, the last one open-ended


@dataclass(frozen=True, slots=True)
class Totals:
    incidents: int
    suppressed: int
    acknowledged_by_person: int
    acknowledged_by_source: int
    resolved: int
    open: int
    acknowledged_without_action: int
    pages: int
    night_pages: int
    weekend_pages: int
    off_hours_pages: int
    mtta: Durations
    mttr: Durations


@dataclass(frozen=True, slots=True)
class ServiceTotals:
    service_id: str
    totals: Totals


@dataclass(frozen=True, slots=True)
class PersonPages:
    user_id: str
    name: str
    time_zone: str
    pages: int
    night_pages: int
    weekend_pages: int
    off_hours_pages: int
    incidents: int


@dataclass(frozen=True, slots=True)
class NoisyAlert:
    service_id: str
    dedup_key: str
    summary: str  # of its latest incident
    incidents: int
    occurrences: int
    pages: int
    acknowledged_without_action: int


@dataclass(frozen=True, slots=True)
class NoisyRule:
    rule_id: str
    incidents: int
    alerts: int
    pages: int
    acknowledged_without_action: int


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """One incident as the report saw it: the rows of the per-incident table."""

    id: int
    service_id: str
    dedup_key: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_person: bool
    resolved_at: datetime | None
    suppressed: bool
    pages: int
    acknowledged_without_action: bool

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        if not self.acknowledged_by_person or self.suppressed or self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.created_at

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self.resolved_at - self.created_at if self.resolved_at and not self.suppressed else None


@dataclass(frozen=True, slots=True)
class Report:
    start: datetime
    end: datetime
    totals: Totals
    services: list[ServiceTotals]
    people: list[PersonPages]
    alerts: list[NoisyAlert]
    rules: list[NoisyRule]
    incidents: list[IncidentFacts] = field(repr=False)


# -- the arithmetic --------------------------------------------------------------------------------

def nearest_rank(sorted_values: Sequence[float], percent: float) -> float | None:
    """The value at rank ⌈percent·n/100⌉ (1-based, at least 1) of values sorted ascending."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent * len(sorted_values) / 100))
    return sorted_values[rank - 1]


def durations(values: Iterable[timedelta]) -> Durations:
    seconds = sorted(value.total_seconds() for value in values)
    buckets = [0] * (len(DURATION_BUCKETS) + 1)
    for value in seconds:
        buckets[next((i for i, bound in enumerate(DURATION_BUCKETS) if value <= bound), len(DURATION_BUCKETS))] += 1
    return Durations(len(seconds), nearest_rank(seconds, 50), nearest_rank(seconds, 90), tuple(buckets))


def zone_of(name: str) -> ZoneInfo:
    """The person's zone; UTC for a name this system's zone database does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_night(local: datetime) -> bool:
    return local.time() >= NIGHT_STARTS or local.time() < NIGHT_ENDS


def is_weekend(local: datetime) -> bool:
    return local.weekday() in WEEKEND


@dataclass(frozen=True, slots=True)
class Page:
    incident_id: int
    user_id: str
    at: datetime
    night: bool
    weekend: bool


def pages_of(deliveries: Iterable[DeliveryRow], people: dict[str, Person]) -> list[Page]:
    """Deliveries folded into pages, each judged at its first delivery in its person's zone."""
    first: dict[tuple[int, int, str], datetime] = {}
    for row in deliveries:
        key = (row.incident_id, row.page, row.user_id)
        if key not in first or row.sent_at < first[key]:
            first[key] = row.sent_at
    found = []
    for (incident_id, _, user_id), at in first.items():
        person = people.get(user_id)
        local = at.astimezone(zone_of(person.time_zone if person else "UTC"))
        found.append(Page(incident_id, user_id, at, is_night(local), is_weekend(local)))
    return found


def facts_of(incident: IncidentRow, log: Sequence[LogRow], pages: int) -> IncidentFacts:
    """The incident's acknowledgement and whether anyone acted on it, from its log in order."""
    acknowledged = next((i for i, entry in enumerate(log) if entry.kind == "acknowledged"), None)
    resolved = next((i for i, entry in enumerate(log) if entry.kind == "resolved"), None)
    by_person = acknowledged is not None and log[acknowledged].by_person
    without_action = (
        by_person and not incident.suppressed and acknowledged is not None and resolved is not None
        and acknowledged < resolved and not any(entry.by_person for entry in log[acknowledged + 1:resolved])
    )
    return IncidentFacts(
        id=incident.id, service_id=incident.service_id, dedup_key=incident.dedup_key,
        created_at=incident.created_at,
        acknowledged_at=log[acknowledged].at if acknowledged is not None else None,
        acknowledged_by_person=by_person, resolved_at=incident.resolved_at, suppressed=incident.suppressed,
        pages=pages, acknowledged_without_action=without_action,
    )


def totals_of(facts: Sequence[IncidentFacts], pages: Sequence[Page]) -> Totals:
    paged = [f for f in facts if not f.suppressed]
    return Totals(
        incidents=len(facts),
        suppressed=len(facts) - len(paged),
        acknowledged_by_person=sum(1 for f in paged if f.acknowledged_by_person),
        acknowledged_by_source=sum(1 for f in paged if f.acknowledged_at and not f.acknowledged_by_person),
        resolved=sum(1 for f in facts if f.resolved_at),
        open=sum(1 for f in facts if not f.resolved_at),
        acknowledged_without_action=sum(1 for f in paged if f.acknowledged_without_action),
        pages=len(pages),
        night_pages=sum(1 for p in pages if p.night),
        weekend_pages=sum(1 for p in pages if p.weekend),
        off_hours_pages=sum(1 for p in pages if p.night or p.weekend),
        mtta=durations(d for d in (f.time_to_acknowledge for f in paged) if d is not None),
        mttr=durations(d for d in (f.time_to_resolve for f in paged) if d is not None),
    )


def build_report(
    start: datetime, end: datetime, incidents: Sequence[IncidentRow], log: Iterable[LogRow],
    deliveries: Iterable[DeliveryRow], matches: Iterable[RuleMatchRow], people: Iterable[Person],
    top: int = DEFAULT_TOP,
) -> Report:
    """The report over `incidents` (those opened in [start, end)); `log`, `deliveries` and
    `matches` are theirs (rows of other incidents are ignored)."""
    known = {incident.id for incident in incidents}
    by_person = {person.id: person for person in people}
    entries: dict[int, list[LogRow]] = defaultdict(list)
    for entry in log:
        if entry.incident_id in known:
            entries[entry.incident_id].append(entry)
    pages = pages_of((d for d in deliveries if d.incident_id in known), by_person)
    pages_per_incident = Counter(p.incident_id for p in pages)
    facts = [facts_of(i, entries.get(i.id, []), pages_per_incident[i.id]) for i in incidents]
    return Report(
        start=start, end=end, totals=totals_of(facts, pages),
        services=_per_service(facts, pages),
        people=_per_person(pages, by_person),
        alerts=_noisiest_alerts(incidents, facts, top),
        rules=_noisiest_rules([m for m in matches if m.incident_id in known], facts, top),
        incidents=facts,
    )


def _per_service(facts: Sequence[IncidentFacts], pages: Sequence[Page]) -> list[ServiceTotals]:
    service_of = {f.id: f.service_id for f in facts}
    facts_by: dict[str, list[IncidentFacts]] = defaultdict(list)
    pages_by: dict[str, list[Page]] = defaultdict(list)
    for f in facts:
        facts_by[f.service_id].append(f)
    for p in pages:
        pages_by[service_of[p.incident_id]].append(p)
    found = [ServiceTotals(s, totals_of(facts_by[s], pages_by[s])) for s in facts_by]
    return sorted(found, key=lambda s: (-s.totals.incidents, s.service_id))


def _per_person(pages: Sequence[Page], people: dict[str, Person]) -> list[PersonPages]:
    by_user: dict[str, list[Page]] = defaultdict(list)
    for p in pages:
        by_user[p.user_id].append(p)
    found = []
    for user_id, theirs in by_user.items():
        person = people.get(user_id)
        found.append(PersonPages(
            user_id=user_id, name=person.name if person else "", time_zone=person.time_zone if person else "UTC",
            pages=len(theirs), night_pages=sum(1 for p in theirs if p.night),
            weekend_pages=sum(1 for p in theirs if p.weekend),
            off_hours_pages=sum(1 for p in theirs if p.night or p.weekend),
            incidents=len({p.incident_id for p in theirs}),
        ))
    return sorted(found, key=lambda p: (-p.pages, -p.off_hours_pages, p.name, p.user_id))


def _noisiest_alerts(incidents: Sequence[IncidentRow], facts: Sequence[IncidentFacts], top: int) -> list[NoisyAlert]:
    fact_of = {f.id: f for f in facts}
    groups: dict[tuple[str, str], list[IncidentRow]] = defaultdict(list)
    for incident in incidents:
        if not incident.suppressed:
            groups[(incident.service_id, incident.dedup_key)].append(incident)
    found = []
    for (service_id, dedup_key), members in groups.items():
        latest = max(members, key=lambda i: (i.created_at, i.id))
        found.append(NoisyAlert(
            service_id=service_id, dedup_key=dedup_key, summary=latest.summary, incidents=len(members),
            occurrences=sum(i.occurrences for i in members),
            pages=sum(fact_of[i.id].pages for i in members),
            acknowledged_without_action=sum(1 for i in members if fact_of[i.id].acknowledged_without_action),
        ))
    found.sort(key=lambda a: (-a.incidents, -a.pages, -a.occurrences, a.service_id, a.dedup_key))
    return found[:top]


def _noisiest_rules(matches: Sequence[RuleMatchRow], facts: Sequence[IncidentFacts], top: int) -> list[NoisyRule]:
    fact_of = {f.id: f for f in facts if not f.suppressed}
    incidents: dict[str, set[int]] = defaultdict(set)
    alerts: Counter[str] = Counter()
    for match in matches:
        if match.incident_id in fact_of:
            incidents[match.rule_id].add(match.incident_id)
            alerts[match.rule_id] += match.alerts
    found = [
        NoisyRule(
            rule_id=rule_id, incidents=len(ids), alerts=alerts[rule_id],
            pages=sum(fact_of[i].pages for i in ids),
            acknowledged_without_action=sum(1 for i in ids if fact_of[i].acknowledged_without_action),
        )
        for rule_id, ids in incidents.items()
    ]
    found.sort(key=lambda r: (-r.incidents, -r.pages, -r.alerts, r.rule_id))
    return found[:top]
