"""Schedules and escalation policies as stored (JSON documents) turned into domain objects.

The JSON shapes are those of the REST API and of the `layers` and `levels` columns:

    layer  = {"name", "priority", "rotation": {"participants": [user id, ...], "start": ISO instant,
              "shift_length", "unit": "hours|days|weeks", "handoff": "HH:MM"},
              "restriction": null | {"windows": [{"day": 0-6, "start": "HH:MM", "end": "HH:MM"}]}}
    level  = {"delay_minutes", "targets": [{"type": "user|schedule", "id"}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from tocsin.actors.domain.escalation_state import Level, Policy, Target, TargetKind
from tocsin.actors.domain.schedule import Layer, Override, Restriction, Rotation, Schedule, Unit, Window


def parse_time(value: str) -> time:
    """"HH:MM" (or "HH:MM:SS") as a wall-clock time."""
    parsed = time.fromisoformat(value)
    if parsed.tzinfo is not None:
        raise ValueError(f"{value!r} must be a wall-clock time without an offset")
    return parsed


def parse_instant(value: str | datetime) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError(f"{value!r} needs a UTC offset")
    return at


def layer_from_json(doc: Mapping[str, Any]) -> Layer:
    rotation = doc["rotation"]
    restriction = doc.get("restriction")
    return Layer(
        rotation=Rotation(
            participants=tuple(str(p) for p in rotation["participants"]),
            start=parse_instant(rotation["start"]),
            shift_length=int(rotation["shift_length"]),
            unit=Unit(rotation["unit"]),
            handoff=parse_time(rotation.get("handoff", "00:00")),
        ),
        restriction=None if restriction is None else Restriction(tuple(
            Window(int(w["day"]), parse_time(w["start"]), parse_time(w["end"])) for w in restriction["windows"]
        )),
        priority=int(doc.get("priority", 0)),
    )


def schedule_from_json(
    time_zone: str, layers: Sequence[Mapping[str, Any]], overrides: Iterable[tuple[str, datetime, datetime]] = ()
) -> Schedule:
    """`overrides` are (user id, start, end), oldest first: a later one wins."""
    return Schedule(
        tz=ZoneInfo(time_zone),
        layers=tuple(layer_from_json(layer) for layer in layers),
        overrides=tuple(Override(user, start, end) for user, start, end in overrides),
    )


def policy_from_json(levels: Sequence[Mapping[str, Any]], repeat: int) -> Policy:
    return Policy(
        levels=tuple(
            Level(
                delay_minutes=int(level["delay_minutes"]),
                targets=tuple(Target(TargetKind(t["type"]), str(t["id"])) for t in level["targets"]),
            )
            for level in levels
        ),
        repeat=repeat,
    )
