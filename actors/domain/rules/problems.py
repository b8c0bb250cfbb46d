"""What is wrong with a rule spec, each problem with its path, reported all at once.

A spec is plain data as it comes from JSON (dicts, lists, strings, numbers). Compiling walks
all of it, notes every problem with the path of the value at fault (`rules[2].conditions.all[1].op`)
and raises one `RuleErrors` at the end, so whoever wrote the rules sees every mistake in one
answer, as Alertmanager refuses a configuration file with all its errors.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple


class Problem(NamedTuple):
    """One thing wrong: where in the spec (a path such as `rules[0].actions.summary`), and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class RuleErrors(ValueError):
    """A spec that cannot be compiled; `problems` lists every problem found, in spec order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(problem) for problem in problems))


class Problems:
    """Collects the problems of one spec while it is compiled."""

    def __init__(self) -> None:
        self._found: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self._found.append(Problem(path, message))

    def count(self) -> int:
        return len(self._found)

    def raise_any(self) -> None:
        """Raise `RuleErrors` with everything found, if anything was."""
        if self._found:
            raise RuleErrors(list(self._found))


def key_path(path: str, key: str) -> str:
    """The path of `key` inside the object at `path`."""
    return f"{path}.{key}" if path else key


def item_path(path: str, index: int) -> str:
    """The path of element `index` of the list at `path`."""
    return f"{path}[{index}]"


def json_kind(value: Any) -> str:
    """The JSON name of a value's type, for messages ("a string", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def shown(value: Any, limit: int = 60) -> str:
    """A value as JSON writes it, cut short, for messages."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def read_object(value: Any, path: str, problems: Problems, *, allowed: Collection[str],
                required: Collection[str] = ()) -> Mapping[str, Any] | None:
    """`value` as an object whose keys are all `allowed` and include every `required` one;
    None, with the problems noted, when it is not an object at all."""
    if not isinstance(value, Mapping):
        problems.add(path, f"must be an object, not {json_kind(value)}")
        return None
    for key in value:
        if key not in allowed:
            expected = ", ".join(f'"{name}"' for name in allowed)
            problems.add(key_path(path, str(key)), f"unknown key; expected one of {expected}")
    for key in required:
        if key not in value:
            problems.add(key_path(path, key), "required")
    return value


def read_text(value: Any, path: str, problems: Problems) -> str | None:
    """`value` as a non-empty string, else None with the problem noted."""
    if not isinstance(value, str):
        problems.add(path, f"must be a string, not {json_kind(value)}")
        return None
    if not value.strip():
        problems.add(path, "must not be empty")
        return None
    return value


def read_list(value: Any, path: str, problems: Problems) -> list[Any] | None:
    if not isinstance(value, list):
        problems.add(path, f"must be a list, not {json_kind(value)}")
        return None
    return value


def read_flag(value: Any, path: str, problems: Problems) -> bool:
    if not isinstance(value, bool):
        problems.add(path, f"must be true or false, not {json_kind(value)}")
        return False
    return value


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule object of a list, with the keys every kind of rule has read and checked."""

    path: str
    body: Mapping[str, Any]
    id: str
    enabled: bool


RULE_KEYS = ("id", "name", "enabled")


def read_rules(specs: Any, where: str, problems: Problems, *, allowed: Collection[str],
               required: Collection[str] = ()) -> Iterator[RuleSpec]:
    """The rule objects of the list at `where`, one by one (so that their problems are noted in
    spec order): each with an "id" unique in the list, an optional "name" (free text) and
    "enabled" (true by default), and its own keys among `allowed`."""
    seen: dict[str, str] = {}
    for index, spec in enumerate(read_list(specs, where, problems) or []):
        at = item_path(where, index)
        body = read_object(spec, at, problems, allowed=(*RULE_KEYS, *allowed), required=("id", *required))
        if body is None:
            continue
        rule_id = _rule_id(body, at, problems, seen)
        if "name" in body and not isinstance(body["name"], str):
            problems.add(key_path(at, "name"), "must be a string")
        enabled = read_flag(body["enabled"], key_path(at, "enabled"), problems) if "enabled" in body else True
        yield RuleSpec(at, body, rule_id, enabled)


def _rule_id(body: Mapping[str, Any], where: str, problems: Problems, seen: dict[str, str]) -> str:
    """The rule's "id", unique among the rules `seen` so far (id → path), which it joins."""
    at = key_path(where, "id")
    rule_id = read_text(body["id"], at, problems) if "id" in body else None
    if rule_id is None:
        return ""
    if rule_id in seen:
        problems.add(at, f'"{rule_id}" is also the id of {seen[rule_id]}')
    seen.setdefault(rule_id, where)
    return rule_id
