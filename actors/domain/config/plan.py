"""What applying a configuration document would do, object by object and field by field.

Both sides are documents: the file (`desired`) and the deployment as `export` reads it
(`current`). An object is created when only the file has it, changed when both have it and a
field differs, deleted when only the deployment has it and the apply prunes. Within an object,
parts the file leaves out (a nested list set to null, a key not stated) are not compared.
Keys are secrets: a plan never shows one, only that it changes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal

from tocsin.actors.domain.config.document import (
    Document, Heartbeat, Integration, Router, Schedule, Service, Team, User, document_data,
)

Action = Literal["create", "update", "delete"]
Kind = Literal["user", "team", "schedule", "escalation_policy", "service", "router", "inhibit_rules"]
KINDS: tuple[Kind, ...] = ("user", "team", "schedule", "escalation_policy", "service", "router", "inhibit_rules")
"""In the order applying creates them (each may refer to those before it); deletes go in reverse."""

SECRET = "(secret)"
_SECRET_PATH = re.compile(r"(?:^|\.)key$")
_NESTED = ("members", "contact_methods", "overrides", "integrations", "heartbeats", "rules", "maintenance_windows")


@dataclasses.dataclass(frozen=True)
class FieldChange:
    """One value: added (old is None), removed (new is None) or changed."""

    path: str
    old: Any
    new: Any

    @property
    def sign(self) -> str:
        return "+" if self.old is None else "-" if self.new is None else "~"


@dataclasses.dataclass(frozen=True)
class Change:
    action: Action
    kind: Kind
    name: str
    fields: tuple[FieldChange, ...] = ()


@dataclasses.dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def of(self, kind: Kind, action: Action) -> list[str]:
        """The names of the objects of `kind` the plan would `action`, in plan order."""
        return [c.name for c in self.changes if c.kind == kind and c.action == action]


def identity(kind: Kind, obj: Any) -> str:
    """How the file names an object of `kind`: users by e-mail address (any case), others by name."""
    return str(obj.email).lower() if kind == "user" else "" if kind == "inhibit_rules" else str(obj.name)


def objects(document: Document, kind: Kind) -> Sequence[Any]:
    if kind == "inhibit_rules":
        return () if document.inhibit_rules is None else (document.inhibit_rules,)
    attribute = {"escalation_policy": "escalation_policies"}.get(kind, f"{kind}s")
    return tuple(getattr(document, attribute))


def plan(desired: Document, current: Document, prune: bool = False, spared: Collection[str] = ()) -> Plan:
    """The changes that make `current` what `desired` says. `spared` names users (by e-mail
    address) that pruning leaves alone, such as whoever applies the file."""
    changes: list[Change] = []
    for kind in KINDS:
        now = {identity(kind, obj): obj for obj in objects(current, kind)}
        for obj in objects(desired, kind):
            name = identity(kind, obj)
            old = now.get(name)
            if old is None:
                changes.append(Change("create", kind, name, _diff({}, _shape(kind, obj, None)[0])))
            else:
                new_data, old_data = _shape(kind, obj, old)
                fields = _diff(old_data, new_data)
                if fields:
                    changes.append(Change("update", kind, name, fields))
        if prune and kind != "inhibit_rules":
            wanted = {identity(kind, obj) for obj in objects(desired, kind)}
            changes.extend(Change("delete", kind, name) for name in now
                           if name not in wanted and not (kind == "user" and name in spared))
    return Plan(tuple(changes))


def _shape(kind: Kind, desired: Any, current: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both sides of one object as nested plain data, keyed where the file names items by key,
    without the parts the file leaves out."""
    if kind == "inhibit_rules":
        return {"rules": document_data(desired)}, {"rules": document_data(current or ())}
    new, old = _plain(desired), _plain(current) if current is not None else {}
    for field in _NESTED:
        if getattr(desired, field, ()) is None:
            new.pop(field, None)
            old.pop(field, None)
    if isinstance(desired, Team):
        _keyed(new, old, "members", lambda member: (member["user"].lower(), member["role"]))
    elif isinstance(desired, User):
        _keyed(new, old, "contact_methods", _contact_method)
    elif isinstance(desired, Schedule):
        _keyed(new, old, "overrides", lambda o: (f"{o['user'].lower()} {_utc(o['start'])}/{_utc(o['end'])}", True))
        for layer in (*new.get("layers", ()), *old.get("layers", ())):
            layer["rotation"]["start"] = _utc(layer["rotation"]["start"])
    elif isinstance(desired, Service):
        _keyed(new, old, "maintenance_windows", lambda w: (f"{_utc(w['start'])}/{_utc(w['end'])}", w["reason"]))
        for field in ("integrations", "heartbeats"):
            if field in new:
                new[field], old[field] = _matched(getattr(desired, field), getattr(current, field, None) or ())
    elif isinstance(desired, Router) and desired.key is None:
        old.pop("key", None)
    return new, old


def _plain(obj: Any) -> dict[str, Any]:
    data: dict[str, Any] = document_data(obj, defaults=True)
    data.pop("name", None)
    data.pop("email", None)
    return data


class _Keyed(dict[str, Any]):
    """Items the file names by a key of theirs, not by their place: a path shows them as `[key]`."""


def _keyed(new: dict[str, Any], old: dict[str, Any], field: str,
           entry: Callable[[dict[str, Any]], tuple[str, Any]]) -> None:
    for side in (new, old):
        if field in side:
            side[field] = _Keyed(entry(item) for item in side[field])


def _contact_method(method: dict[str, Any]) -> tuple[str, Any]:
    rules = sorted(f"{rule['urgency']} after {rule['delay_minutes']} min" for rule in method["notification_rules"])
    return f"{method['kind']} {method['address']}", {"label": method["label"], "notification_rules": rules}


def _matched(desired: Sequence[Integration | Heartbeat], current: Sequence[Integration | Heartbeat]
             ) -> tuple[_Keyed, _Keyed]:
    """A service's integrations (or heartbeats) on both sides, each labelled by its name, the
    pairs being matched by key where the file states one, else by name."""
    pairs = match_keyed(desired, current)
    new, old, labels = _Keyed(), _Keyed(), set[str]()
    for want, have in pairs:
        item = want or have
        assert item is not None
        label = _label(item.name or getattr(item, "type", ""), labels)
        if want is not None:
            new[label] = _plain_item(want)
        if have is not None:
            old[label] = _plain_item(have)
            if want is not None and want.key is None:
                old[label].pop("key", None)
    return new, old


def match_keyed(desired: Sequence[Any], current: Sequence[Any]) -> list[tuple[Any, Any]]:
    """(wanted, existing) pairs: by key where the wanted item states one, else by name; an
    item without a partner is paired with None (to create, or to remove)."""
    left = list(current)
    pairs: list[tuple[Any, Any]] = []
    for want in desired:
        found = next((have for have in left if (have.key == want.key if want.key else have.name == want.name)), None)
        if found is not None:
            left.remove(found)
        pairs.append((want, found))
    pairs.extend((None, have) for have in left)
    return pairs


def _plain_item(item: Integration | Heartbeat) -> dict[str, Any]:
    data: dict[str, Any] = document_data(item, defaults=True)
    return data


def _label(base: str, taken: set[str]) -> str:
    label, n = base, 1
    while label in taken:
        n += 1
        label = f"{base} ({n})"
    taken.add(label)
    return label


def _utc(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(timezone.utc).isoformat()


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    before, after = dict(_flat(old, "")), dict(_flat(new, ""))
    changes = [FieldChange(path, _shown(path, before.get(path)), _shown(path, value))
               for path, value in after.items() if before.get(path) != value and not _emptied(path, value, before)]
    changes += [FieldChange(path, _shown(path, value), None) for path, value in before.items()
                if path not in after and not _emptied(path, value, after)]
    return tuple(changes)


def _emptied(path: str, value: Any, other: Mapping[str, Any]) -> bool:
    """An empty list or mapping where the other side has items: those items' changes say it."""
    return value in ([], {}) and any(p.startswith((f"{path}[", f"{path}.")) for p in other)


def _shown(path: str, value: Any) -> Any:
    return SECRET if value is not None and _SECRET_PATH.search(path) else value


def _flat(data: Any, path: str) -> Iterable[tuple[str, Any]]:
    """(path, value) of every leaf: `a.b`, `a[0]`, and `a[key]` for keyed items."""
    if isinstance(data, Mapping) and data:
        for key, value in data.items():
            yield from _flat(value, f"{path}[{key}]" if isinstance(data, _Keyed) else f"{path}.{key}" if path else key)
    elif isinstance(data, list) and data:
        for index, value in enumerate(data):
            yield from _flat(value, f"{path}[{index}]")
    elif path:
        yield path, data
