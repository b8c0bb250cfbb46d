"""Field paths: how a condition, a template or an inhibit rule names a value of the alert.

A path is compiled once into a getter, `getter_of("labels.alertname")(view)`. The fields:

- `summary`, `severity`, `source`, `dedup_key`, `action`, `format`: the normalised alert;
- `class`, `component`, `group`, `priority`, `entity`, `tags`: where the format has them
  (see `view`);
- `labels.<name>`, `annotations.<name>`, `details.<key>` (alias `custom_details.<key>`),
  `payload.<path>`: into those objects. The rest of the path after the root is first looked
  up as one key (label names and detail keys may hold dots), then, when there is no such key,
  as nested keys, a list element by its index (`payload.alerts.0.labels.team`).

A value that is absent, or JSON null, reads as None. Operators compare text: `text_of` gives a
value's text (numbers in their JSON form, booleans as "true"/"false"); objects have none.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any

from .view import AlertView

Getter = Callable[[AlertView], Any]

# Root → attribute of AlertView.
SCALAR_FIELDS: Mapping[str, str] = {
    "summary": "summary", "severity": "severity", "source": "source", "dedup_key": "dedup_key",
    "action": "action", "format": "format", "class": "class_", "component": "component", "group": "group",
    "priority": "priority", "entity": "entity", "tags": "tags",
}
OBJECT_FIELDS: Mapping[str, str] = {
    "labels": "labels", "annotations": "annotations", "details": "details", "custom_details": "details",
    "payload": "payload",
}


class FieldError(ValueError):
    """A path that names no field; the message says why."""


def getter_of(path: str) -> Getter:
    """The getter of `path`; FieldError when it names no field."""
    if not path or any(not part for part in path.split(".")):
        raise FieldError(f'"{path}" names no field: a field path has no empty part')
    root, _, rest = path.partition(".")
    if root in SCALAR_FIELDS:
        if rest:
            raise FieldError(f'"{path}" names no field: {root} has no parts')
        return attrgetter(SCALAR_FIELDS[root])
    if root in OBJECT_FIELDS:
        if not rest:
            raise FieldError(f'"{path}" names no field; write {root}.<name>')
        return _member(attrgetter(OBJECT_FIELDS[root]), rest)
    known = ", ".join([*SCALAR_FIELDS, *(f"{name}.<name>" for name in OBJECT_FIELDS)])
    raise FieldError(f'"{path}" names no field; fields are {known}')


def member_of(path: str) -> tuple[str, str] | None:
    """The AlertView attribute and the key of a path naming one key of an object field
    (`labels.alertname`: ("labels", "alertname")), whose getter is that object's `get(key)`;
    None for any other path."""
    root, _, rest = path.partition(".")
    if root not in OBJECT_FIELDS or not rest or "." in rest:
        return None
    return OBJECT_FIELDS[root], rest


def _member(read: Callable[[AlertView], Mapping[str, Any]], key: str) -> Getter:
    if "." not in key:
        def get(view: AlertView) -> Any:
            return read(view).get(key)
        return get
    steps = tuple((part, int(part) if part.isascii() and part.isdigit() else None) for part in key.split("."))

    def get_dotted(view: AlertView) -> Any:
        found = read(view)
        value = found.get(key)
        return value if value is not None else _nested(found, steps)
    return get_dotted


def _nested(value: Any, steps: tuple[tuple[str, int | None], ...]) -> Any:
    for key, index in steps:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list) and index is not None and index < len(value):
            value = value[index]
        else:
            return None
        if value is None:
            return None
    return value


def text_of(value: Any) -> str | None:
    """The text operators compare: strings as they are, numbers in their JSON form, booleans as
    "true"/"false"; None for None, objects and lists (whose elements are compared one by one)."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return None


def number_of(value: Any) -> int | float | None:
    """A number for the numeric operators: a JSON number, or a string that reads as one
    ("12", " 3.5 ", "1e3"); None otherwise (booleans are not numbers)."""
    if type(value) is int or type(value) is float:
        return value
    if isinstance(value, str) and "_" not in value:  # float() takes "1_000"; JSON does not
        try:
            return float(value)
        except ValueError:
            return None
    return None


def render(value: Any) -> str:
    """A value as a template writes it: absent as "", a list as its elements' text joined by
    ", ", an object as compact JSON."""
    text = text_of(value)
    if text is not None:
        return text
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(render(element) for element in value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
