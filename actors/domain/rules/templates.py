"""Templates: text with field paths in double braces, compiled once.

    "{{labels.alertname}} on {{labels.instance}}"     "{{ labels.alertname }}/{{labels.cluster}}"

A template holds literal text and field paths (see `fields`), nothing else: no logic, filters or
defaults. Spaces inside the braces are ignored; a `{{` must be closed by `}}`, and each path must
name a field, or the template is refused; braces outside `{{ }}` are literal text ("{{{x}}}" is x
in braces). When rendered, a field that is absent or null gives
"" (so "{{labels.alertname}} on {{labels.host}}" without a host label is "DiskFull on "), a
number or boolean its JSON text, a list its elements joined by ", ", an object compact JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .fields import FieldError, Getter, getter_of, render
from .problems import Problems, json_kind
from .view import AlertView

OPEN, CLOSE = "{{", "}}"


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template: `render(view)`; `fields`, the paths of the fields it writes."""

    render: Callable[[AlertView], str]
    fields: frozenset[str]


def compile_template(spec: Any, where: str, problems: Problems) -> Template | None:
    """The template's renderer, or None with its problems noted under `where`."""
    if not isinstance(spec, str):
        problems.add(where, f"must be a template string, not {json_kind(spec)}")
        return None
    literals: list[str] = []
    getters: list[Getter] = []
    paths: set[str] = set()
    before = problems.count()
    rest = spec
    while True:
        start = rest.find(OPEN)
        if start < 0:
            literals.append(rest)
            break
        while rest.startswith("{", start + len(OPEN)):  # "{{{x}}}" is "{", the field x, "}"
            start += 1
        end = rest.find(CLOSE, start + len(OPEN))
        if end < 0:
            problems.add(where, f'"{OPEN}" at "{rest[start:start + 20]}" is not closed by "{CLOSE}"')
            break
        literals.append(rest[:start])
        path = rest[start + len(OPEN):end].strip()
        try:
            getters.append(getter_of(path))
            paths.add(path)
        except FieldError as exc:
            problems.add(where, f"in the template, {exc}")
        rest = rest[end + len(CLOSE):]
    if problems.count() > before:
        return None
    return Template(_renderer(literals, getters), frozenset(paths))


def _renderer(literals: list[str], getters: list[Getter]) -> Callable[[AlertView], str]:
    if not getters:
        text = literals[0]
        return lambda view: text
    # One str.format call per rendering; the literal text's own braces are escaped for it.
    pattern = "{}".join(literal.replace("{", "{{").replace("}", "}}") for literal in literals)
    fields = tuple(getters)

    def rendered(view: AlertView) -> str:
        return pattern.format(*[render(get(view)) for get in fields])
    return rendered
