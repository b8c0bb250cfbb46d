"""What every rule set an alert meets decides for it, together, and the alert event it makes.

An alert event goes, in this order, through its router integration's routes (when it came
through a router: they choose its service, or drop it by the catch-all), through the rules of
its service, then through the inhibit rules against the open incidents. `judge` runs them and
answers one `Verdict`; `Verdict.applied(event)` is the event as the shard gets it: its service,
the summary, severity and dedup key rules set, and the rules' ids, disposition, pause, urgency,
priority and enrichment (actors/domain/events.py AlertEvent). Pure: the rule sets come
compiled, the clock's instant as `now`.

How the parts add up: a router that drops the alert (catch-all `drop`) makes it DROP, and no
other rule is tried; a route to a service that no longer exists is taken as no route (the
catch-all decides), and a catch-all to one as `drop`; otherwise the service's rules decide the disposition, and an inhibited
alert is at least SUPPRESSed (a DROP stays a drop). Inhibit rules are not tried for an alert
that is dropped anyway.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from tocsin.actors.domain.events import AlertEvent, Severity, Urgency
from tocsin.actors.domain.rules import (
    NOTHING,
    AlertView,
    Changes,
    Decision,
    Disposition,
    RouterRules,
    ServiceRules,
)
from tocsin.actors.domain.rules.decision import RESTRICTION


@dataclass(frozen=True, slots=True)
class Verdict:
    """`service_id`: where the alert goes (None: a router dropped it); `router`: the router's
    decision, None when it came through no router; `service`: its service's rules' decision;
    `inhibited_by`: the inhibit rule that silences it, or None; `rules`: the ids of the rules
    that matched, in order: router, service, inhibit."""

    service_id: str | None
    router: Decision | None
    service: Decision
    inhibited_by: str | None
    disposition: Disposition
    pause_minutes: int
    rules: tuple[str, ...]

    @property
    def changes(self) -> Changes:
        return self.service.changes

    def applied(self, event: AlertEvent) -> AlertEvent:
        """The event with what the rules decided (its service being the verdict's, if any)."""
        return self.application().applied(event)

    def application(self) -> Application:
        """What the verdict writes into an alert event, worked out once for any number of them."""
        changes = self.changes
        return Application(
            self.service_id, changes.dedup_key, changes.summary,
            Severity(changes.severity) if changes.severity else None, self.rules, self.disposition,
            self.pause_minutes, Urgency(changes.urgency) if changes.urgency else None, changes.priority or None,
            enrichment(changes))


class Application(NamedTuple):
    """What a verdict writes into an alert event: a field that is None (or empty) here leaves the
    event's own; `rules`, `disposition`, `pause_minutes` and `enrichment` replace the event's.
    A named tuple: one is made for every alert decided afresh, at a quarter of the cost of a
    frozen dataclass."""

    service_id: str | None
    dedup_key: str | None
    summary: str | None
    severity: Severity | None
    rules: tuple[str, ...]
    disposition: Disposition
    pause_minutes: int
    urgency: Urgency | None
    priority: str | None
    enrichment: str

    def applied(self, event: AlertEvent) -> AlertEvent:
        """`event` as the verdict makes it. Built field by field, as `dataclasses.replace` costs
        several times more, once per alert of a storm; the fields in AlertEvent's order
        (tests/unit/test_rule_verdict.py holds it)."""
        return AlertEvent(
            event.event_id, self.service_id or event.service_id, event.integration_id,
            self.dedup_key or event.dedup_key, event.action, event.received_at, self.summary or event.summary,
            self.severity or event.severity, event.source, event.payload, self.rules, self.disposition,
            self.pause_minutes, self.urgency or event.urgency, self.priority or event.priority, self.enrichment,
        )


class Inhibiting(Protocol):
    """What answers for the inhibit rules: an `InhibitIndex`, or what keeps one current
    (the gateway's Inhibitor)."""

    def inhibited_by(self, view: AlertView, now: datetime) -> str | None: ...


def _routed(router: RouterRules, view: AlertView, now: datetime, service_exists: Callable[[str], bool]
            ) -> Decision:
    """The router's decision, a service it names that no longer exists being no route."""
    routed = router.evaluate(view, now)
    if routed.service_id is None or service_exists(routed.service_id):
        return routed
    fallback = router.catch_all_service
    if routed.by_catch_all or fallback is None or not service_exists(fallback):
        return LOST_CATCH_ALL
    return Decision(service_id=fallback, by_catch_all=True)


LOST_CATCH_ALL = Decision(by_catch_all=True, disposition=Disposition.DROP)


# The enrichments written lately, by the details and tags they hold: in a storm, the rules that
# match its alerts add the same ones to each. Bounded: cleared when full.
_ENRICHMENTS: dict[tuple[tuple[tuple[str, str], ...], tuple[str, ...]], str] = {}
ENRICHMENTS_KEPT = 1024


def enrichment(changes: Changes) -> str:
    """The details and tags rules added, as AlertEvent carries them: JSON text, "" when none."""
    if not changes.details and not changes.tags:
        return ""
    key = (tuple(changes.details.items()), changes.tags)
    text = _ENRICHMENTS.get(key)
    if text is None:
        text = json.dumps({"details": dict(changes.details), "tags": list(changes.tags)}, ensure_ascii=False)
        if len(_ENRICHMENTS) >= ENRICHMENTS_KEPT:
            _ENRICHMENTS.clear()
        _ENRICHMENTS[key] = text
    return text


def judge(view: AlertView, now: datetime, *, service_id: str | None, router: RouterRules | None = None,
          service_rules: Callable[[str], ServiceRules | None], inhibit: Inhibiting | None = None,
          service_exists: Callable[[str], bool] = lambda _: True) -> Verdict:
    """What the rules decide for the alert `view` at `now`: it came through `router` (None: it
    came straight to the service `service_id`); `service_rules` gives a service's rules (None
    for none); `inhibit` answers which inhibit rule, if any, silences the alert under the open
    incidents; `service_exists` says whether a service a router names still exists."""
    routed = _routed(router, view, now, service_exists) if router is not None else None
    target = routed.service_id if routed is not None else service_id
    if target is None:
        return Verdict(None, routed, NOTHING, None, Disposition.DROP, 0, routed.matched if routed else ())
    rules = service_rules(target)
    decided = rules.evaluate(view, now) if rules is not None else NOTHING
    disposition, pause = decided.disposition, decided.pause_minutes
    inhibited_by = inhibit.inhibited_by(view, now) if inhibit is not None and disposition != Disposition.DROP \
        else None
    if inhibited_by is not None and RESTRICTION[disposition] < RESTRICTION[Disposition.SUPPRESS]:
        disposition, pause = Disposition.SUPPRESS, 0
    matched = decided.matched if routed is None else routed.matched + decided.matched
    return Verdict(target, routed, decided, inhibited_by, disposition, pause,
                   matched + (inhibited_by,) if inhibited_by else matched)
