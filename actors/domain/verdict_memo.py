"""Verdicts remembered whole: an alert sent again (a storm's requests, Alertmanager's
re-notifications) meets the same rules as the first time, and they decide the same for it.

`judge` (actors/domain/rule_verdict.py) decides from the view of the alert, the router's
routes (if it came through one), the rules of the service it goes to, which services exist,
the inhibit rules against the open incidents, and the instant. A `VerdictMemo` answers the
verdict `judge` gave an earlier alert event, and the event it made of it (`Ruled`), for an
event that agrees with it in all of those:

- The view (actors/rulebook.py `event_view`) is made of nothing but the format and the event's
  payload text, summary, severity, source, dedup key and action (the payload's JSON values,
  when the gateway hands them, are that text's, read back): all of them are in the key
  (`verdict_key`), as are the service the event names and the service of the incident it
  follows, which choose the service when no router does.
- The router's compiled routes are in the key as the object itself: a set has no equality of
  its own, so a reload that compiles them again makes other keys.
- The service's compiled rules are kept beside the verdict, which is answered only while the
  service's rules are that same object (`recalled`).
- Which services exist (a route to one deleted is no route) changes with the rules'
  generation only: the memo forgets every verdict when the generation moves (`follow`).
- The instant: a router with a time condition makes no key, and a verdict made by a service's
  rules with one is not kept (`clocked`). Every other rule is pure and deterministic.
- Inhibition depends on the open incidents, which change without any reload: the caller does
  not ask the memo while an inhibit rule is active.

The event made is the verdict applied to the event (`Application`, worked out once per
verdict), from the event's own fields where the rules left them, so that event ids, times and
the like are each event's. Bounded: emptied when it holds `KEPT` verdicts. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from tocsin.actors.domain.events import AlertEvent
from tocsin.actors.domain.rule_verdict import Application, Verdict
from tocsin.actors.domain.rules import Disposition, RouterRules, ServiceRules

KEPT = 4096
Key = tuple[Any, ...]
ServiceRulesOf = Callable[[str], ServiceRules | None]


class Ruled(NamedTuple):
    """A verdict and what it makes of an alert event: `counted`, whether the tally counts it
    (a rule matched, or it drops the alert); `application`, None when it leaves the event as
    it came (no rule matched and the service is the event's own) or drops it. A named tuple,
    as `Application` is: one is made for every alert decided afresh."""

    verdict: Verdict
    counted: bool
    application: Application | None

    @staticmethod
    def of(verdict: Verdict, event: AlertEvent) -> Ruled:
        """`verdict` with what it makes of `event` (and of any event with `event`'s key)."""
        dropped = verdict.disposition == Disposition.DROP
        untouched = dropped or (not verdict.rules and verdict.service_id == event.service_id)
        return Ruled(verdict, dropped or bool(verdict.rules), None if untouched else verdict.application())

    def event(self, event: AlertEvent) -> AlertEvent | None:
        """`event` as the verdict makes it; None when it is dropped."""
        if self.application is not None:
            return self.application.applied(event)
        return None if self.verdict.disposition == Disposition.DROP else event


def verdict_key(format: str, event: AlertEvent, router: RouterRules | None, follows_to: str | None) -> Key | None:
    """What the verdict of `event` (in `format`, through `router`, following an incident of
    `follows_to`) depends on but the service's rules; None when the router reads the instant."""
    if router is not None and router.clocked:
        return None
    return (router, format, event.service_id, follows_to, event.payload, event.summary, event.severity,
            event.source, event.dedup_key, event.action)


class VerdictMemo:
    """Verdicts by key, each with the service rules it was made with (see the module)."""

    __slots__ = ("_generation", "_kept", "_ruled")

    def __init__(self, kept: int = KEPT) -> None:
        self._ruled: dict[Key, tuple[Ruled, ServiceRules | None]] = {}
        self._generation: int | None = None
        self._kept = kept

    def follow(self, generation: int) -> None:
        """Forget every verdict if the rules' `generation` is not the one they were made under."""
        if generation != self._generation:
            self._ruled.clear()
            self._generation = generation

    def recalled(self, key: Key, service_rules: ServiceRulesOf) -> Ruled | None:
        """The verdict kept for `key`, if its service's rules are still those it was made with."""
        kept = self._ruled.get(key)
        if kept is None:
            return None
        remembered, rules = kept
        target = remembered.verdict.service_id
        if target is not None and service_rules(target) is not rules:
            return None
        return remembered

    def keep(self, key: Key, remembered: Ruled, service_rules: ServiceRulesOf) -> None:
        """Answer `remembered` for `key` from now on, unless its service's rules read the instant."""
        target = remembered.verdict.service_id
        rules = service_rules(target) if target is not None else None
        if rules is not None and rules.clocked:
            return
        if len(self._ruled) >= self._kept:
            self._ruled.clear()
        self._ruled[key] = (remembered, rules)

    def __len__(self) -> int:
        return len(self._ruled)
