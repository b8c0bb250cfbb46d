"""What one phase of the chaos benchmark did, counted from the client's answers, the
database and the providers' side: alerts answered and stored, pages texted, and how soon
the part a fault hit served again.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field

from benchmarks.chaos_faults import Fault, Phase
from benchmarks.chaos_stack import Stack, Text
from benchmarks.recorded_storm import Answer, Storm

INCIDENT_IN_TEXT = re.compile(r"Tocsin #(\d+) ")


@dataclass
class Result:
    phase: Phase
    fault: Fault | None
    storm: Storm
    sent: int = 0
    durable: int = 0
    unavailable: int = 0
    other: collections.Counter[str] = field(default_factory=collections.Counter)
    stored: int = 0
    lost: int = 0
    stored_twice: int = 0
    refused_but_stored: int = 0
    incidents: int = 0
    expected_incidents: int = 0
    pages_expected: int = 0
    pages: int = 0  # distinct (incident, person) texted
    twice: int = 0  # (incident, person) texted more than once
    via_sns: int = 0
    unrecorded: int = 0  # texts Twilio took that no attempt records
    notifications: dict[str, int] = field(default_factory=dict)
    serving_again_s: float | None = None
    aftermath: str = ""
    repeats: list[str] = field(default_factory=list)  # each page texted more than once, with its record

    @property
    def sound(self) -> bool:
        return (not self.lost and not self.twice and not sum(self.other.values()) and not self.storm.unsettled
                and self.pages == self.pages_expected and self.incidents == self.expected_incidents
                and (self.fault is None or self.serving_again_s is not None))


def phase_incidents(stack: Stack, storm: Storm, result: Result) -> list[int]:
    """The incidents the phase's new alerts opened (one per alert expected)."""
    keys = storm.opening_keys()
    rows = stack.query("SELECT id FROM incidents WHERE service_id = ANY($1::uuid[]) AND dedup_key = ANY($2::text[])",
                       [t.service_id for t in storm.paging], keys)
    result.incidents, result.expected_incidents = len(rows), len(keys)
    return [r["id"] for r in rows]


def count_answers(stack: Stack, storm: Storm, result: Result) -> None:
    """Every alert answered 200 looked for by its name among the raw alerts stored."""
    rows = stack.query("SELECT payload->'annotations'->>'delivery' AS name, count(*) AS copies FROM alerts"
                       " WHERE service_id = ANY($1::uuid[]) AND payload->'annotations'->>'delivery' LIKE $2"
                       " GROUP BY 1", [t.service_id for t in storm.targets], f"{storm.name}.%")
    stored = {r["name"]: r["copies"] for r in rows}
    result.stored_twice = sum(1 for copies in stored.values() if copies > 1)
    for answer in storm.answers:
        found = sum(1 for n in range(answer.alerts) if storm.name_of(answer.request, n) in stored)
        result.sent += answer.alerts
        if answer.durable:
            result.durable += answer.alerts
            result.stored += found
            result.lost += answer.alerts - found
        else:
            result.refused_but_stored += found
            if answer.unavailable:
                result.unavailable += answer.alerts
            else:
                result.other[str(answer.status or answer.detail)] += answer.alerts


def count_pages(stack: Stack, incident_ids: list[int], result: Result) -> None:
    """Texts received, by either provider, for the phase's incidents."""
    ours = set(incident_ids)
    texted: dict[tuple[int, str], list[Text]] = collections.defaultdict(list)
    for text in stack.texts():
        match = INCIDENT_IN_TEXT.match(text.body)
        if match is not None and int(match[1]) in ours:
            texted[(int(match[1]), text.to)].append(text)
    result.pages = len(texted)
    result.twice = sum(1 for texts in texted.values() if len(texts) > 1)
    result.via_sns = sum(1 for texts in texted.values() for text in texts if text.provider == "sns")
    result.repeats = [repeat(stack, incident, to, texts, result.fault)
                      for (incident, to), texts in sorted(texted.items()) if len(texts) > 1]
    sids = {text.sid for texts in texted.values() for text in texts if text.sid is not None}
    recorded = {r[0] for r in stack.query(
        "SELECT a.provider_message_id FROM notification_attempts a JOIN notifications n ON n.id = a.notification_id"
        " WHERE n.incident_id = ANY($1::bigint[]) AND a.outcome = 'sent'", incident_ids)}
    result.unrecorded = len(sids - recorded)
    result.notifications = dict(stack.query("SELECT status, count(*) FROM notifications"
                                            " WHERE incident_id = ANY($1::bigint[]) GROUP BY status", incident_ids))


def repeat(stack: Stack, incident: int, to: str, texts: list[Text], fault: Fault | None) -> str:
    """A page texted more than once: when each text was taken, and what its row records
    (times in seconds after the fault)."""
    since = fault.at if fault else 0.0

    def when(at: float | None) -> str:
        return "?" if at is None else f"{at - since:+.1f} s"

    rows = stack.query(
        "SELECT n.id, n.status, a.provider, a.outcome, a.provider_message_id AS sid,"
        " extract(epoch FROM a.at)::float8 AS at FROM notifications n"
        " JOIN contact_methods c ON c.id = n.contact_method_id"
        " LEFT JOIN notification_attempts a ON a.notification_id = n.id"
        " WHERE n.incident_id = $1 AND c.address = $2 ORDER BY n.id, a.id", incident, to)
    taken = ", ".join(f"{t.provider} {t.sid or ''} at {when(t.at)}".replace("  ", " ") for t in texts)
    recorded = "; ".join(f"notification {r['id']} {r['status']}: " + (
        f"{r['provider']} {r['outcome']} {r['sid'] or ''} at {when(r['at'])}" if r["provider"] else "no attempt")
        for r in rows)
    return f"incident {incident} to {to}: texted {len(texts)} times ({taken}); recorded: {recorded}"


def serving_again(stack: Stack, result: Result) -> float | None:
    """Seconds from the fault to serving again; None if it never did within the phase.
    Ingestion: the first answer 200 from an affected service to a request sent after the
    last refused one (after the fault). Paging: the first text a provider took after it."""
    fault = result.fault
    if fault is None:
        return None
    if fault.affected:
        return first_durable_after(result.storm.answers, fault.affected, fault.at)
    rows = stack.query("SELECT extract(epoch FROM min(a.at))::float8 FROM notification_attempts a"
                       " JOIN notifications n ON n.id = a.notification_id"
                       " WHERE n.channel = 'sms' AND a.outcome = 'sent' AND a.at > to_timestamp($1)", fault.at)
    return None if rows[0][0] is None else float(rows[0][0]) - fault.at


def first_durable_after(answers: list[Answer], affected: set[str], at: float) -> float | None:
    after = [a for a in answers if a.service_id in affected and a.sent_at >= at]
    last_refused = max((a.sent_at for a in after if not a.durable), default=at)
    back = [a.answered_at for a in after if a.durable and a.sent_at >= last_refused]
    return min(back) - at if back else None
