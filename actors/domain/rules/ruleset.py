"""Rule sets: a service's rules and a router's routes, compiled once and evaluated per alert.

A service rule (each service has an ordered list; every alert reaching it goes through them):

    {"id": "r-1", "name": "…", "enabled": true, "conditions": <condition>, "actions": {…}, "continue": false}

A router rule (a router integration has an ordered list and a catch-all):

    {"id": "to-db", "name": "…", "enabled": true, "conditions": <condition>, "route_to": "<service id>"}
    catch-all: {"route_to": "<service id>"}  or  {"drop": true}

`id` is required and unique in its list; `name` is free text; a rule with `"enabled": false` is
checked but never matches; `conditions` (see `conditions`) defaults to matching every alert;
`actions` (see `actions`) to none. Rules are tried in order and the first that matches wins;
a service rule with `"continue": true` lets the next ones be tried too (their actions add up).
A router sends the alert to the service of the first route that matches, else to its
catch-all's. Every rule sees the alert as it arrived (the view), not as earlier rules changed it.

`evaluate(rules, view, now)` is pure and deterministic; compiling is the only costly step, done
when the rules are saved or loaded, never per alert. A set remembers what it decided by the
values of the fields it reads (see `memo`); `decide` works it out afresh. A compiled set is made of closures and RE2
sets, which do not pickle: send the spec across processes and compile it where it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from .actions import Draft, Effect, compile_actions
from .conditions import ALWAYS, Condition, compile_condition
from .decision import NOTHING, Decision, Disposition
from .dispatch import Dispatch
from .memo import memo_of
from .patterns import PatternError
from .problems import Problems, RuleSpec, key_path, read_flag, read_object, read_rules, read_text
from .view import AlertView

SERVICE_RULE_KEYS = ("conditions", "actions", "continue")
ROUTER_RULE_KEYS = ("conditions", "route_to")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ServiceRule:
    id: str
    enabled: bool
    condition: Condition
    effect: Effect
    go_on: bool  # "continue": try the next rules after this one matched


@dataclass(frozen=True, slots=True)
class Route:
    id: str
    enabled: bool
    condition: Condition
    service_id: str


class ServiceRules:
    """A service's rules, compiled (by `compile_service_rules`); `clocked`: whether an enabled
    rule has a time condition (what it decides then depends on the instant)."""

    def __init__(self, rules: tuple[ServiceRule, ...]) -> None:
        self.rules = rules
        self._live = tuple(rule for rule in rules if rule.enabled)
        self._dispatch = Dispatch([rule.condition for rule in self._live])
        self.clocked = any(rule.condition.clocked for rule in self._live)
        self._memo = memo_of(len(self._live),
                             [path for rule in self._live for path in rule.condition.fields | rule.effect.fields],
                             self.clocked)

    def evaluate(self, view: AlertView, now: datetime) -> Decision:
        """The rules that match `view` at `now` and what they decide (remembered, see `memo`)."""
        if self._memo is None:
            return self.decide(view, now)
        return self._memo.decision(view, lambda view: self.decide(view, now))

    def decide(self, view: AlertView, now: datetime) -> Decision:
        """`evaluate`, worked out afresh."""
        live = self._live
        matched: list[str] = []
        draft: Draft | None = None
        for position in self._dispatch.holding(view, now):
            rule = live[position]
            matched.append(rule.id)
            if draft is None:
                draft = Draft()
            draft.apply(rule.effect, view)
            if not rule.go_on:
                break
        return NOTHING if draft is None else draft.decision(tuple(matched))


class RouterRules:
    """A router integration's routes and catch-all, compiled (by `compile_router_rules`).
    `service_ids`: every service they name, for the caller to check they exist; `clocked`:
    whether a route has a time condition."""

    def __init__(self, routes: tuple[Route, ...], catch_all_service: str | None) -> None:
        self.routes = routes
        self.catch_all_service = catch_all_service
        self.service_ids = frozenset(route.service_id for route in routes) | (
            {catch_all_service} if catch_all_service else set())
        live = [route for route in routes if route.enabled]
        self._decisions = tuple(Decision(matched=(route.id,), service_id=route.service_id) for route in live)
        self._dispatch = Dispatch([route.condition for route in live])
        self.clocked = any(route.condition.clocked for route in live)
        self._memo = memo_of(len(live), [path for route in live for path in route.condition.fields], self.clocked)
        self._catch_all = Decision(
            service_id=catch_all_service, by_catch_all=True,
            disposition=Disposition.PAGE if catch_all_service else Disposition.DROP)

    def evaluate(self, view: AlertView, now: datetime) -> Decision:
        """Where `view` goes: the first route that matches, else the catch-all (remembered, see `memo`)."""
        if self._memo is None:
            return self.decide(view, now)
        return self._memo.decision(view, lambda view: self.decide(view, now))

    def decide(self, view: AlertView, now: datetime) -> Decision:
        """`evaluate`, worked out afresh."""
        for position in self._dispatch.holding(view, now):
            return self._decisions[position]
        return self._catch_all


def evaluate(rules: ServiceRules | RouterRules, view: AlertView, now: datetime) -> Decision:
    """What `rules` decide for the alert `view` at the instant `now` (timezone-aware)."""
    return rules.evaluate(view, now)


def compile_service_rules(specs: Any, where: str = "rules") -> ServiceRules:
    """A service's ordered rules (a list of rule specs), compiled; RuleErrors naming every problem."""
    problems = Problems()
    rules = []
    for rule in read_rules(specs, where, problems, allowed=SERVICE_RULE_KEYS):
        body = rule.body
        condition = _condition(rule, problems)
        effect = compile_actions(body["actions"], key_path(rule.path, "actions"), problems) \
            if "actions" in body else Effect()
        go_on = read_flag(body["continue"], key_path(rule.path, "continue"), problems) if "continue" in body else False
        if condition is not None and effect is not None:
            rules.append(ServiceRule(rule.id, rule.enabled, condition, effect, go_on))
    return _built(lambda: ServiceRules(tuple(rules)), where, problems)


def compile_router_rules(specs: Any, catch_all: Any, where: str = "rules",
                         catch_all_where: str = "catch_all") -> RouterRules:
    """A router's ordered routes and its catch-all, compiled; RuleErrors naming every problem."""
    problems = Problems()
    routes = []
    for rule in read_rules(specs, where, problems, allowed=ROUTER_RULE_KEYS, required=("route_to",)):
        condition = _condition(rule, problems)
        at = key_path(rule.path, "route_to")
        service_id = read_text(rule.body["route_to"], at, problems) if "route_to" in rule.body else None
        if condition is not None and service_id is not None:
            routes.append(Route(rule.id, rule.enabled, condition, service_id))
    fallback = _catch_all(catch_all, catch_all_where, problems)
    return _built(lambda: RouterRules(tuple(routes), fallback), where, problems)


def _condition(rule: RuleSpec, problems: Problems) -> Condition | None:
    """The rule's "conditions", compiled; a rule without any matches every alert."""
    if "conditions" not in rule.body:
        return ALWAYS
    return compile_condition(rule.body["conditions"], key_path(rule.path, "conditions"), problems)


def _catch_all(spec: Any, where: str, problems: Problems) -> str | None:
    """The catch-all's service, or None for drop."""
    body = read_object(spec, where, problems, allowed=("route_to", "drop"))
    if body is None:
        return None
    drop = read_flag(body["drop"], key_path(where, "drop"), problems) if "drop" in body else False
    if drop == ("route_to" in body):
        problems.add(where, 'says either {"route_to": "<service id>"} or {"drop": true}')
        return None
    return read_text(body["route_to"], key_path(where, "route_to"), problems) if "route_to" in body else None


def _built(build: Callable[[], T], where: str, problems: Problems) -> T:
    problems.raise_any()
    try:
        return build()
    except PatternError as exc:  # RE2 refuses the set of all a field's patterns, each being valid alone
        problems.add(where, str(exc))
        problems.raise_any()
        raise
