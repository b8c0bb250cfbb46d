"""Inhibition: while an open incident matches an inhibit rule's source, alerts that match its
target and have the same values in its `equal` fields are suppressed ("datacenter down"
silences the hundred "host unreachable" beneath it). When that incident resolves, new target
alerts page again.

    {"id": "dc-down", "name": "…", "enabled": true,
     "source": <condition>, "target": <condition>, "equal": ["labels.datacenter"]}

`source` and `target` are conditions (see `conditions`); `equal` is a list of field paths
(possibly empty: then any source incident inhibits every target alert). Equal values compare
as the templates render them, so a field absent on both sides is equal, as in Alertmanager. As
in Alertmanager too, an alert that matches both the source and the target of a rule is not
inhibited by an incident that matches both as well (its own, for one): only by one that
matches the source alone, so that a rule cannot silence the alerts that make it hold.

`InhibitIndex` is the part kept between alerts. Its contract:

- It is built for one compiled `InhibitRules` (a new version of the rules: a new index).
- Whoever owns the open incidents feeds it: `open(incident, view, now)` when an incident opens,
  with the view of the alert that opened it, and for every open incident when the index is
  built (at start, after a restart, on a new version of the rules); `close(incident)` when it
  resolves. `incident` is any hashable key the owner chooses (for example (service id,
  incident id)). Both are idempotent: opening an incident again replaces its entry.
- `inhibited_by(view, now)` names the first rule (in order) that inhibits the alert, or None:
  per rule, a target test and one dict lookup by the tuple of the alert's `equal` values; the
  incidents are never scanned.
- It holds only incidents that match some rule's source. Not thread-safe: one owner changes it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .conditions import Condition, compile_condition
from .fields import FieldError, Getter, getter_of, render
from .problems import Problems, item_path, json_kind, key_path, read_list, read_rules
from .view import AlertView

INHIBIT_RULE_KEYS = ("source", "target", "equal")
EqualValues = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InhibitRule:
    id: str
    enabled: bool
    source: Condition
    target: Condition
    equal: tuple[str, ...]
    equal_getters: tuple[Getter, ...]

    def equal_values(self, view: AlertView) -> EqualValues:
        return tuple([render(get(view)) for get in self.equal_getters])


@dataclass(frozen=True, slots=True)
class InhibitRules:
    """Inhibit rules, compiled (by `compile_inhibit_rules`), in order."""

    rules: tuple[InhibitRule, ...]


def compile_inhibit_rules(specs: Any, where: str = "inhibit_rules") -> InhibitRules:
    """A list of inhibit rule specs, compiled; RuleErrors naming every problem."""
    problems = Problems()
    rules = []
    for rule in read_rules(specs, where, problems, allowed=INHIBIT_RULE_KEYS, required=("source", "target")):
        body, at = rule.body, rule.path
        source = compile_condition(body["source"], key_path(at, "source"), problems) if "source" in body else None
        target = compile_condition(body["target"], key_path(at, "target"), problems) if "target" in body else None
        equal = _equal(body.get("equal", []), key_path(at, "equal"), problems)
        if source is not None and target is not None and equal is not None:
            rules.append(InhibitRule(rule.id, rule.enabled, source, target, tuple(path for path, _ in equal),
                                     tuple(get for _, get in equal)))
    problems.raise_any()
    return InhibitRules(tuple(rules))


def _equal(value: Any, where: str, problems: Problems) -> list[tuple[str, Getter]] | None:
    paths = read_list(value, where, problems)
    if paths is None:
        return None
    found = []
    for index, path in enumerate(paths):
        at = item_path(where, index)
        if not isinstance(path, str):
            problems.add(at, f"must be a field path such as labels.cluster, not {json_kind(path)}")
            continue
        try:
            found.append((path, getter_of(path)))
        except FieldError as exc:
            problems.add(at, str(exc))
    return found if len(found) == len(paths) else None


class _Sources:
    """The open incidents that match one rule's source with the same equal values: those that
    match its target too are kept apart, as they cannot inhibit alerts that do the same."""

    __slots__ = ("alone", "also_target")

    def __init__(self) -> None:
        self.alone: set[Hashable] = set()
        self.also_target: set[Hashable] = set()


class InhibitIndex:
    """The open incidents that are sources of inhibit rules, by rule and equal values (see the
    module's docstring for the contract)."""

    def __init__(self, rules: InhibitRules) -> None:
        self._rules = tuple(rule for rule in rules.rules if rule.enabled)
        self._sources: tuple[dict[EqualValues, _Sources], ...] = tuple({} for _ in self._rules)
        self._entries: dict[Hashable, list[tuple[int, EqualValues, bool]]] = {}

    def open(self, incident: Hashable, view: AlertView, now: datetime) -> tuple[str, ...]:
        """Enter an open incident, by the view of the alert that opened it; the ids of the rules
        whose source it matches (none: it is not kept)."""
        self.close(incident)
        entries = []
        for position, rule in enumerate(self._rules):
            if rule.source.test(view, now):
                values = rule.equal_values(view)
                also_target = rule.target.test(view, now)
                sources = self._sources[position].setdefault(values, _Sources())
                (sources.also_target if also_target else sources.alone).add(incident)
                entries.append((position, values, also_target))
        if entries:
            self._entries[incident] = entries
        return tuple(self._rules[position].id for position, _, _ in entries)

    def close(self, incident: Hashable) -> None:
        """Forget a resolved incident (nothing happens if it is not kept)."""
        for position, values, also_target in self._entries.pop(incident, ()):
            table = self._sources[position]
            sources = table[values]
            (sources.also_target if also_target else sources.alone).discard(incident)
            if not sources.alone and not sources.also_target:
                del table[values]

    def inhibited_by(self, view: AlertView, now: datetime) -> str | None:
        """The id of the first rule that inhibits the alert `view`, or None."""
        for rule, table in zip(self._rules, self._sources):
            if not table or not rule.target.test(view, now):
                continue
            sources = table.get(rule.equal_values(view))
            if sources is None:
                continue
            if sources.alone or not rule.source.test(view, now):
                return rule.id
        return None

    def __len__(self) -> int:
        """How many open incidents are kept (those that match some rule's source)."""
        return len(self._entries)

    def __contains__(self, incident: object) -> bool:
        return incident in self._entries
