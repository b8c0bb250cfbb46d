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


# Enrichments read lately, by their text: in a storm the rules that match its alerts add the
# same details and tags to each, and each incident's run of occurrences reads them once per
# batch. Bounded: emptied when full.
_READ: dict[str, Enrichment] = {}
READ_KEPT = 1024


def enrichment_of(event: AlertEvent) -> Enrichment:
    text = event.enrichment
    if not text:
        return NO_ENRICHMENT
    enrichment = _READ.get(text)
    if enrichment is None:
        enrichment = _read(text)
        if len(_READ) >= READ_KEPT:
            _READ.clear()
        _READ[text] = enrichment
    return enrichment


def _read(text: str) -> Enrichment:
    try:
        body = orjson.loads(text)
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


def same_effect(event: AlertEvent, other: AlertEvent) -> bool:
    """Whether `effect_of` says the same of both (cheaper than working it out again, once per
    alert of a storm): the same disposition, pause, urgency and priority."""
    return (event.disposition is other.disposition and event.pause_minutes == other.pause_minutes
            and event.urgency is other.urgency and event.priority == other.priority)


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
