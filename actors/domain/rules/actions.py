"""The actions of a service rule, compiled once, and how the actions of the rules that match one
alert add up.

    "actions": {
      "severity": "critical" | "error" | "warning" | "info",
      "urgency": "high" | "low",
      "priority": "P1" … "P5",
      "summary": "{{labels.alertname}} on {{labels.instance}}",        a template (see templates)
      "dedup_key": "{{labels.alertname}}/{{labels.cluster}}",          a template
      "details": {"runbook": "https://wiki/{{labels.alertname}}"},     each value a template
      "tags": ["database", "{{labels.team}}"],                         each a template
      "suppress": true  |  "drop": true  |  "pause_minutes": 10       at most one of the three
    }

Every key is optional. A summary or dedup key whose template renders blank leaves the alert's
own; a summary is cut to 1,024 characters and a dedup key to 255; a tag that renders blank is
left out. When several rules match (the earlier ones saying "continue"): a later severity,
urgency, priority, summary or dedup key replaces an earlier one; details are merged (a later
key replaces an earlier one) and tags added in order, once each; the disposition is the most
restrictive one (drop, then suppress, then pause, then page), and the longest pause among pauses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .decision import NO_DETAILS, RESTRICTION, Changes, Decision, Disposition
from .problems import Problems, item_path, json_kind, key_path, read_flag, read_list, read_object, shown
from .templates import Template, compile_template
from .view import AlertView

SEVERITIES = ("critical", "error", "warning", "info")
URGENCIES = ("high", "low")
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255
PAUSE_LIMIT_MINUTES = 24 * 60
ACTION_KEYS = ("severity", "urgency", "priority", "summary", "dedup_key", "details", "tags", "suppress", "drop",
               "pause_minutes")


@dataclass(frozen=True, slots=True)
class Effect:
    """The compiled actions of one rule."""

    severity: str | None = None
    urgency: str | None = None
    priority: str | None = None
    summary: Template | None = None
    dedup_key: Template | None = None
    details: tuple[tuple[str, Template], ...] = ()
    tags: tuple[Template, ...] = ()
    disposition: Disposition = Disposition.PAGE
    pause_minutes: int = 0

    @property
    def fields(self) -> frozenset[str]:
        """The paths of the fields its templates write."""
        templates = [self.summary, self.dedup_key, *(template for _, template in self.details), *self.tags]
        return frozenset().union(*(template.fields for template in templates if template is not None))


def compile_actions(spec: Any, where: str, problems: Problems) -> Effect | None:
    """The compiled actions, or None with every problem noted under `where`."""
    before = problems.count()
    body = read_object(spec, where, problems, allowed=ACTION_KEYS)
    if body is None:
        return None
    effect = Effect(
        severity=_choice(body, "severity", SEVERITIES, where, problems),
        urgency=_choice(body, "urgency", URGENCIES, where, problems),
        priority=_choice(body, "priority", PRIORITIES, where, problems),
        summary=_template(body, "summary", where, problems),
        dedup_key=_template(body, "dedup_key", where, problems),
        details=_details(body, where, problems),
        tags=_tags(body, where, problems),
        **_disposition(body, where, problems),
    )
    return None if problems.count() > before else effect


def _choice(body: Mapping[str, Any], key: str, choices: tuple[str, ...], where: str,
            problems: Problems) -> str | None:
    if key not in body:
        return None
    value = body[key]
    if value not in choices:
        problems.add(key_path(where, key), f"must be one of {', '.join(choices)}, not {shown(value)}")
        return None
    return str(value)


def _template(body: Mapping[str, Any], key: str, where: str, problems: Problems) -> Template | None:
    return compile_template(body[key], key_path(where, key), problems) if key in body else None


def _details(body: Mapping[str, Any], where: str, problems: Problems) -> tuple[tuple[str, Template], ...]:
    if "details" not in body:
        return ()
    at = key_path(where, "details")
    details = body["details"]
    if not isinstance(details, Mapping):
        problems.add(at, f"must be an object of templates, not {json_kind(details)}")
        return ()
    compiled = []
    for name, spec in details.items():
        if not name:
            problems.add(at, "a detail's name must not be empty")
        template = compile_template(spec, key_path(at, str(name)), problems)
        if template is not None:
            compiled.append((str(name), template))
    return tuple(compiled)


def _tags(body: Mapping[str, Any], where: str, problems: Problems) -> tuple[Template, ...]:
    if "tags" not in body:
        return ()
    at = key_path(where, "tags")
    specs = read_list(body["tags"], at, problems) or []
    compiled = [compile_template(spec, item_path(at, index), problems) for index, spec in enumerate(specs)]
    return tuple(template for template in compiled if template is not None)


_DISPOSITIONS = {"suppress": Disposition.SUPPRESS, "drop": Disposition.DROP, "pause_minutes": Disposition.PAUSE}


def _disposition(body: Mapping[str, Any], where: str, problems: Problems) -> dict[str, Any]:
    chosen = [key for key in ("suppress", "drop")
              if key in body and read_flag(body[key], key_path(where, key), problems)]
    minutes = _pause(body["pause_minutes"], key_path(where, "pause_minutes"), problems) \
        if "pause_minutes" in body else 0
    if minutes:
        chosen.append("pause_minutes")
    if len(chosen) > 1:
        problems.add(where, f"{' and '.join(chosen)} exclude each other; a rule does one of them")
        return {}
    return {"disposition": _DISPOSITIONS[chosen[0]], "pause_minutes": minutes} if chosen else {}


def _pause(value: Any, where: str, problems: Problems) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= PAUSE_LIMIT_MINUTES:
        problems.add(where, f"must be a whole number of minutes from 1 to {PAUSE_LIMIT_MINUTES}, not {shown(value)}")
        return 0
    return value


class Draft:
    """The changes of the rules matched so far, for one alert."""

    __slots__ = ("severity", "urgency", "priority", "summary", "dedup_key", "details", "tags", "disposition",
                 "pause_minutes")

    def __init__(self) -> None:
        self.severity: str | None = None
        self.urgency: str | None = None
        self.priority: str | None = None
        self.summary: str | None = None
        self.dedup_key: str | None = None
        self.details: dict[str, str] = {}
        self.tags: dict[str, None] = {}  # ordered, once each
        self.disposition = Disposition.PAGE
        self.pause_minutes = 0

    def apply(self, effect: Effect, view: AlertView) -> None:
        """Add the actions of one more matched rule."""
        self.severity = effect.severity or self.severity
        self.urgency = effect.urgency or self.urgency
        self.priority = effect.priority or self.priority
        if effect.summary is not None:
            self.summary = _filled(effect.summary.render(view), SUMMARY_LIMIT) or self.summary
        if effect.dedup_key is not None:
            self.dedup_key = _filled(effect.dedup_key.render(view), DEDUP_KEY_LIMIT) or self.dedup_key
        for name, template in effect.details:
            self.details[name] = template.render(view)
        for template in effect.tags:
            tag = template.render(view).strip()
            if tag:
                self.tags[tag] = None
        if RESTRICTION[effect.disposition] > RESTRICTION[self.disposition]:
            self.disposition = effect.disposition
        self.pause_minutes = max(self.pause_minutes, effect.pause_minutes)

    def decision(self, matched: tuple[str, ...]) -> Decision:
        changes = Changes(self.summary, self.severity, self.urgency, self.priority, self.dedup_key,
                          MappingProxyType(self.details) if self.details else NO_DETAILS, tuple(self.tags))
        pause = self.pause_minutes if self.disposition == Disposition.PAUSE else 0
        return Decision(matched, changes, self.disposition, pause)


def _filled(text: str, limit: int) -> str | None:
    return text[:limit] if text.strip() else None
