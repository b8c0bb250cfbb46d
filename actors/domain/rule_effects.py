"""What the gateway's routing rules ask of the incident an alert opens or joins.

The gateway evaluates the rules (tocsin.actors.domain.rules) and hands the shard an
`AlertEvent` carrying their outcome; this module reads that outcome for the service's
planning: whether the alert pages, waits (paused) or pages no one (suppressed), the details
and tags rules added, and the words the timeline names the rules with. Pure.

The enrichment is JSON the gateway wrote, `{"details": {...}, "tags": [...]}`. Parts of
another shape are ignored rather than failing the batch the alert rides in: the alert
itself is still recorded, and the raw alert keeps what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from tocsin.actors.domain.events import AlertEvent
from tocsin.actors.domain.incident import NO_DETAILS
from tocsin.actors.domain.rules.decision import Disposition


@dataclass(frozen=True, slots=True)
class Enrichment:
    """Details (JSON text of an object) and tags that rules added to one alert."""

    details: str = NO_DETAILS
    tags: tuple[str, ...] = ()


NO_ENRICHMENT = Enrichment()


def enrichment_of(event: AlertEvent) -> Enrichment:
    if not event.enrichment:
        return NO_ENRICHMENT
    try:
        body = orjson.loads(event.enrichment)
    except orjson.JSONDecodeError:
        return NO_ENRICHMENT
    if not isinstance(body, dict):
        return NO_ENRICHMENT
    details, tags = body.get("details"), body.get("tags")
    return Enrichment(
        orjson.dumps(details).decode() if isinstance(details, dict) and details else NO_DETAILS,
        tuple(dict.fromkeys(t for t in tags if isinstance(t, str))) if isinstance(tags, list) else (),
    )


def with_tags(tags: tuple[str, ...], added: tuple[str, ...]) -> tuple[str, ...]:
    """`tags` and then those of `added` not among them, in order."""
    if not added:
        return tags
    return tags + tuple(t for t in added if t not in tags)


def suppresses(event: AlertEvent) -> bool:
    return event.disposition is Disposition.SUPPRESS


def pause_of(event: AlertEvent) -> timedelta | None:
    """How long its incident's first page waits, when rules paused the alert."""
    if event.disposition is Disposition.PAUSE and event.pause_minutes > 0:
        return timedelta(minutes=event.pause_minutes)
    return None


def paused_until(event: AlertEvent, at: datetime) -> datetime | None:
    pause = pause_of(event)
    return None if pause is None else at + pause


def effect_of(event: AlertEvent) -> str | None:
    """What the rules did to a trigger, in a few words for its timeline entry: "suppressed",
    "paused 5 min", "urgency low", "priority P2", joined by commas; None when no rule
    changed how it pages."""
    parts = []
    if suppresses(event):
        parts.append("suppressed")
    elif pause_of(event) is not None:
        parts.append(f"paused {event.pause_minutes} min")
    if event.urgency is not None:
        parts.append(f"urgency {event.urgency.value}")
    if event.priority:
        parts.append(f"priority {event.priority}")
    return ", ".join(parts) or None
