"""What is wrong with a configuration document, every problem with its path in the file.

Names resolve against the file and, for objects the file leaves out, against the deployment it
is applied to (`current`), unless the apply prunes them. The problems come in file order, each
as `services[3].escalation_policy: no escalation policy named "db-primary"`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tocsin.actors.domain.config.document import (
    ContactMethod, Document, EscalationPolicy, Router, Rule, Schedule, Service, User,
)
from tocsin.actors.domain.opsgenie_keys import is_opsgenie_key
from tocsin.actors.domain.rules import RuleErrors, compile_inhibit_rules, compile_router_rules, compile_service_rules
from tocsin.actors.domain.rules.problems import Problem

_KEY = re.compile(r"[0-9a-f]{32}")
_WALL = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


class Names:
    """The names a document may refer to: the file's own, and the deployment's it keeps."""

    def __init__(self, desired: Document, current: Document, prune: bool) -> None:
        kept = Document() if prune else current
        self.teams = {t.name for t in (*desired.teams, *kept.teams)}
        self.users = {u.email.lower() for u in (*desired.users, *kept.users)}
        self.schedules = {s.name for s in (*desired.schedules, *kept.schedules)}
        self.policies = {p.name for p in (*desired.escalation_policies, *kept.escalation_policies)}
        self.services = {s.name for s in (*desired.services, *kept.services)}


def check(desired: Document, current: Document, prune: bool = False) -> list[Problem]:
    """Every problem of `desired`, applied to a deployment holding `current`; empty when none."""
    names = Names(desired, current, prune)
    found: list[Problem] = []
    note = lambda path, message: found.append(Problem(path, message))  # noqa: E731
    _unique(note, "teams", [t.name for t in desired.teams])
    _unique(note, "users", [u.email.lower() for u in desired.users], what="e-mail address")
    _unique(note, "schedules", [s.name for s in desired.schedules])
    _unique(note, "escalation_policies", [p.name for p in desired.escalation_policies])
    _unique(note, "services", [s.name for s in desired.services])
    _unique(note, "routers", [r.name for r in desired.routers])
    for i, team in enumerate(desired.teams):
        for j, member in enumerate(team.members or ()):
            _user(note, f"teams[{i}].members[{j}].user", member.user, names)
        _unique(note, f"teams[{i}].members", [m.user.lower() for m in team.members or ()], what="user")
    for i, user in enumerate(desired.users):
        _check_user(note, f"users[{i}]", user)
    for i, schedule in enumerate(desired.schedules):
        _check_schedule(note, f"schedules[{i}]", schedule, names)
    for i, policy in enumerate(desired.escalation_policies):
        _check_policy(note, f"escalation_policies[{i}]", policy, names)
    for i, service in enumerate(desired.services):
        _check_service(note, f"services[{i}]", service, names)
    for i, router in enumerate(desired.routers):
        _check_router(note, f"routers[{i}]", router, names)
    if desired.inhibit_rules is not None:
        _rules(note, "inhibit_rules", desired.inhibit_rules, lambda specs, where: compile_inhibit_rules(specs, where))
    _check_keys(note, desired)
    return found


Note = Callable[[str, str], None]


def _unique(note: Note, path: str, names: Sequence[str], what: str = "name") -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            note(f"{path}[{index}]", f'{what} "{name}" is given twice')
        seen.add(name)


def _team(note: Note, path: str, team: str | None, names: Names) -> None:
    if team is not None and team not in names.teams:
        note(path, f'no team named "{team}"')


def _user(note: Note, path: str, email: str | None, names: Names) -> None:
    if email is not None and email.lower() not in names.users:
        note(path, f'no user with e-mail address "{email}"')


def _zone(note: Note, path: str, zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        note(path, f'"{zone}" is not an IANA time zone such as Europe/Paris')


def _wall(note: Note, path: str, value: str) -> None:
    if not _WALL.fullmatch(value):
        note(path, f'"{value}" is not a wall-clock time HH:MM, from 00:00 to 23:59')


def _aware(note: Note, path: str, at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        note(path, f"{at.isoformat()} needs a UTC offset")


def _period(note: Note, path: str, start: datetime, end: datetime) -> None:
    _aware(note, f"{path}.start", start)
    _aware(note, f"{path}.end", end)
    if start.tzinfo is not None and end.tzinfo is not None and end <= start:
        note(f"{path}.end", "must be after start")


def _check_user(note: Note, path: str, user: User) -> None:
    _zone(note, f"{path}.time_zone", user.time_zone)
    if "@" not in user.email:
        note(f"{path}.email", f'"{user.email}" is not an e-mail address')
    methods: Sequence[ContactMethod] = user.contact_methods or ()
    _unique(note, f"{path}.contact_methods", [f"{m.kind} {m.address}" for m in methods], what="contact method")
    for j, method in enumerate(methods):
        rules = [f"{r.urgency} after {r.delay_minutes} min" for r in method.notification_rules]
        _unique(note, f"{path}.contact_methods[{j}].notification_rules", rules, what="rule")


def _check_schedule(note: Note, path: str, schedule: Schedule, names: Names) -> None:
    _team(note, f"{path}.team", schedule.team, names)
    _zone(note, f"{path}.time_zone", schedule.time_zone)
    _user(note, f"{path}.owner", schedule.owner, names)
    for j, layer in enumerate(schedule.layers):
        at = f"{path}.layers[{j}]"
        for k, participant in enumerate(layer.rotation.participants):
            _user(note, f"{at}.rotation.participants[{k}]", participant, names)
        _aware(note, f"{at}.rotation.start", layer.rotation.start)
        _wall(note, f"{at}.rotation.handoff", layer.rotation.handoff)
        for k, window in enumerate(layer.restriction.windows if layer.restriction else ()):
            _wall(note, f"{at}.restriction.windows[{k}].start", window.start)
            _wall(note, f"{at}.restriction.windows[{k}].end", window.end)
    for j, override in enumerate(schedule.overrides or ()):
        _user(note, f"{path}.overrides[{j}].user", override.user, names)
        _period(note, f"{path}.overrides[{j}]", override.start, override.end)


def _check_policy(note: Note, path: str, policy: EscalationPolicy, names: Names) -> None:
    _team(note, f"{path}.team", policy.team, names)
    for j, level in enumerate(policy.levels):
        for k, target in enumerate(level.targets):
            at = f"{path}.levels[{j}].targets[{k}]"
            if (target.user is None) == (target.schedule is None):
                note(at, "names either a user or a schedule")
            _user(note, f"{at}.user", target.user, names)
            if target.schedule is not None and target.schedule not in names.schedules:
                note(f"{at}.schedule", f'no schedule named "{target.schedule}"')


def _check_service(note: Note, path: str, service: Service, names: Names) -> None:
    _team(note, f"{path}.team", service.team, names)
    if service.escalation_policy is not None and service.escalation_policy not in names.policies:
        note(f"{path}.escalation_policy", f'no escalation policy named "{service.escalation_policy}"')
    integrations = service.integrations or ()
    _unique(note, f"{path}.integrations", [i.name for i in integrations if i.key is None])
    _unique(note, f"{path}.heartbeats", [h.name for h in service.heartbeats or () if h.key is None])
    for j, window in enumerate(service.maintenance_windows or ()):
        _period(note, f"{path}.maintenance_windows[{j}]", window.start, window.end)
    if service.rules is not None:
        _rules(note, f"{path}.rules", service.rules, lambda specs, where: compile_service_rules(specs, where))


def _check_router(note: Note, path: str, router: Router, names: Names) -> None:
    _team(note, f"{path}.team", router.team, names)
    rules = router.rules or ()
    for j, rule in enumerate(rules):
        _service(note, f"{path}.rules[{j}].route_to", rule.get("route_to"), names)
    _service(note, f"{path}.catch_all.route_to", router.catch_all.get("route_to"), names)
    _rules(note, f"{path}.rules", rules,
           lambda specs, where: compile_router_rules(specs, router.catch_all, where, f"{path}.catch_all"))


def _service(note: Note, path: str, name: Any, names: Names) -> None:
    if isinstance(name, str) and name not in names.services:
        note(path, f'no service named "{name}"')


def _rules(note: Note, path: str, rules: Sequence[Rule], compile_: Callable[[Any, str], object]) -> None:
    """The rules' own compiler checks them, each given an id (ids are Tocsin's, not the file's)."""
    for j, rule in enumerate(rules):
        if "id" in rule:
            note(f"{path}[{j}].id", "rules are known by their place in the list: leave their ids out")
    try:
        compile_([{**rule, "id": f"rule-{j}"} for j, rule in enumerate(rules)], path)
    except RuleErrors as errors:
        for problem in errors.problems:
            note(problem.path, problem.message)


def _keys(document: Document) -> Iterable[tuple[str, str]]:
    """(path, key) of every key the document states."""
    for i, service in enumerate(document.services):
        for j, integration in enumerate(service.integrations or ()):
            if integration.key is not None:
                yield f"services[{i}].integrations[{j}].key", integration.key
        for j, heartbeat in enumerate(service.heartbeats or ()):
            if heartbeat.key is not None:
                yield f"services[{i}].heartbeats[{j}].key", heartbeat.key
    for i, router in enumerate(document.routers):
        if router.key is not None:
            yield f"routers[{i}].key", router.key


def _check_keys(note: Note, document: Document) -> None:
    """Keys are 32 lower-case hexadecimal characters, as Tocsin's own, and each is one object's.
    An `opsgenie` integration may keep an Opsgenie API key (a UUID's form), for its senders."""
    opsgenie = {f"services[{i}].integrations[{j}].key" for i, service in enumerate(document.services)
                for j, integration in enumerate(service.integrations or ()) if integration.type == "opsgenie"}
    seen: dict[str, str] = {}
    for path, key in _keys(document):
        if not (_KEY.fullmatch(key) or (path in opsgenie and is_opsgenie_key(key))):
            note(path, "a key is 32 lower-case hexadecimal characters (an opsgenie integration's may be an"
                       " Opsgenie API key)")
        elif key in seen:
            note(path, f"the same key as {seen[key]}")
        seen.setdefault(key, path)
