"""Conditions: a spec of plain data compiled once into a test of an alert.

A condition is one of

    {"field": "labels.env", "op": "equals", "value": "prod"}         a field test
    {"all": [condition, ...]}   every one holds (an empty list always holds)
    {"any": [condition, ...]}   at least one holds (an empty list never holds)
    {"not": condition}
    {"time": {"zone": "Europe/Berlin", "weekdays": [...], "from": "09:00", "to": "18:00"}}  (see timewindow)

Field tests (`field` is a path, see `fields`):

| op           | operand                       | holds when the field's text …                          |
|--------------|-------------------------------|--------------------------------------------------------|
| equals       | "value": text, number, bool   | is the value's text                                    |
| in           | "values": [text, number, …]   | is one of them                                         |
| contains     | "value": text                 | contains it                                            |
| starts_with  | "value": text                 | starts with it                                         |
| matches      | "value": RE2 pattern          | matches it somewhere (anchor with ^ and $)             |
| exists       | —                             | the field is present and not null                      |
| lt le gt ge  | "value": number               | reads as a number (JSON number or numeric text) <, ≤, >, ≥ it |

The text operators take `"ignore_case": true` (Unicode case folding; `matches` uses RE2's own
case-insensitive matching). A field holding a list (tags) passes a text or numeric test when
any of its elements does; an absent field, or one holding an object, passes none. Values
compare as text: 5 and "5" are equal, 5 and 5.0 are not, true and "true" are.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .fields import FieldError, Getter, getter_of, number_of, text_of
from .patterns import PatternError, expression, literal, matcher
from .problems import Problems, item_path, json_kind, key_path, read_flag, read_list, read_object
from .timewindow import compile_time
from .view import AlertView

Predicate = Callable[[AlertView, datetime], bool]
TextTest = Callable[[str], bool]

TEXT_OPERATORS = ("equals", "in", "contains", "starts_with", "matches")
NUMBER_OPERATORS: Mapping[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}
OPERATORS = (*TEXT_OPERATORS, "exists", *NUMBER_OPERATORS)
COMBINATIONS = ("all", "any", "not", "time")
LEAF_KEYS = ("field", "op", "value", "values", "ignore_case")
MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Guard:
    """A field test that an index can answer for many rules at once: `kind` "exact" (the field's
    text is one of `keys`), "prefix" (starts with keys[0]) or "pattern" (keys[0], an RE2
    expression, matches somewhere: a pattern, or the literal of a `contains`); with
    `ignore_case`, the keys are case-folded and so is the text."""

    field: str
    getter: Getter
    kind: str
    keys: tuple[str, ...]
    ignore_case: bool


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition: `test(view, now)`. An "all" or "any" keeps its conditions in `parts`
    (`kind` says which); a field test an index can answer has its `guard`. `fields`: the paths
    of every field it reads; `clocked`: whether it reads the instant too (a time condition
    within). The test is a function of those alone."""

    test: Predicate
    kind: str = "test"  # "all", "any", or "test" for any other condition
    parts: tuple[Condition, ...] = ()
    guard: Guard | None = None
    fields: frozenset[str] = frozenset()
    clocked: bool = False


def conjuncts(condition: Condition) -> list[Condition]:
    """The conditions that must all hold for `condition` to hold, nested "all"s flattened."""
    if condition.kind != "all":
        return [condition]
    return [inner for part in condition.parts for inner in conjuncts(part)]


def always(view: AlertView, now: datetime) -> bool:
    return True


def never(view: AlertView, now: datetime) -> bool:
    return False


ALWAYS = Condition(always)


def compile_condition(spec: Any, where: str, problems: Problems, depth: int = 0) -> Condition | None:
    """The compiled condition, or None with every problem of the spec noted under `where`."""
    if depth > MAX_DEPTH:
        problems.add(where, f"conditions nest deeper than {MAX_DEPTH} levels")
        return None
    if not isinstance(spec, Mapping):
        problems.add(where, f"a condition must be an object, not {json_kind(spec)}")
        return None
    kinds = [kind for kind in COMBINATIONS if kind in spec]
    if not kinds:
        return _field_test(spec, where, problems)
    if len(spec) > 1:
        problems.add(where, 'a condition is one of "all", "any", "not", "time" or a field test ("field", "op"); '
                            f"this one has {', '.join(map(str, spec))}")
        return None
    kind = kinds[0]
    inner = key_path(where, kind)
    if kind == "time":
        clocked = compile_time(spec[kind], inner, problems)
        return None if clocked is None else Condition(lambda view, now: clocked(now), clocked=True)
    if kind == "not":
        negated = compile_condition(spec[kind], inner, problems, depth + 1)
        return None if negated is None else Condition(_negation(negated.test), fields=negated.fields,
                                                      clocked=negated.clocked)
    items = read_list(spec[kind], inner, problems)
    if items is None:
        return None
    children = [compile_condition(item, item_path(inner, index), problems, depth + 1)
                for index, item in enumerate(items)]
    compiled = [child for child in children if child is not None]
    if len(compiled) < len(children):
        return None
    tests = [child.test for child in compiled]
    return Condition(every(tests) if kind == "all" else _some(tests), kind, tuple(compiled),
                     fields=frozenset().union(*(child.fields for child in compiled)),
                     clocked=any(child.clocked for child in compiled))


def every(predicates: Sequence[Predicate]) -> Predicate:
    """The test that all `predicates` hold, in order, stopping at the first that does not."""
    tests = tuple(predicates)
    if not tests:
        return always
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests

        def both(view: AlertView, now: datetime) -> bool:
            return first(view, now) and second(view, now)
        return both

    def each(view: AlertView, now: datetime) -> bool:
        for test in tests:
            if not test(view, now):
                return False
        return True
    return each


def _some(predicates: Sequence[Predicate]) -> Predicate:
    tests = tuple(predicates)
    if not tests:
        return never
    if len(tests) == 1:
        return tests[0]

    def one(view: AlertView, now: datetime) -> bool:
        for test in tests:
            if test(view, now):
                return True
        return False
    return one


def _negation(test: Predicate) -> Predicate:
    def negated(view: AlertView, now: datetime) -> bool:
        return not test(view, now)
    return negated


def _field_test(spec: Mapping[str, Any], where: str, problems: Problems) -> Condition | None:
    before = problems.count()
    read_object(spec, where, problems, allowed=LEAF_KEYS, required=("field", "op"))
    getter = _getter(spec["field"], key_path(where, "field"), problems) if "field" in spec else None
    op = spec.get("op")
    if "op" in spec and op not in OPERATORS:
        problems.add(key_path(where, "op"), f"unknown operator {_quoted(op)}; operators are {', '.join(OPERATORS)}")
        return None
    ignore_case = read_flag(spec["ignore_case"], key_path(where, "ignore_case"), problems) \
        if "ignore_case" in spec else False
    if ignore_case and op not in TEXT_OPERATORS:
        problems.add(key_path(where, "ignore_case"), f"applies to the text operators only, not {op}")
    operand = _operand(spec, str(op), where, problems) if "op" in spec else None
    if getter is None or problems.count() > before:
        return None
    field = str(spec["field"])
    built = _build(field, getter, str(op), operand, ignore_case, key_path(where, "value"), problems)
    return None if built is None else dataclasses.replace(built, fields=frozenset((field,)))


def _getter(path: Any, where: str, problems: Problems) -> Getter | None:
    if not isinstance(path, str):
        problems.add(where, f"must be a field path such as labels.alertname, not {json_kind(path)}")
        return None
    try:
        return getter_of(path)
    except FieldError as exc:
        problems.add(where, str(exc))
        return None


def _operand(spec: Mapping[str, Any], op: str, where: str, problems: Problems) -> Any:
    """The operand of `op`, checked: a text, texts, a number or nothing."""
    wanted = "values" if op == "in" else None if op == "exists" else "value"
    for key in ("value", "values"):
        if key in spec and key != wanted:
            problems.add(key_path(where, key), f"{op} takes no {key}" + (f'; it takes "{wanted}"' if wanted else ""))
    if wanted is None:
        return None
    if wanted not in spec:
        problems.add(key_path(where, wanted), f"required by {op}")
        return None
    value, at = spec[wanted], key_path(where, wanted)
    if op == "in":
        items = read_list(value, at, problems)
        return None if items is None else [_text(item, item_path(at, index), problems)
                                           for index, item in enumerate(items)]
    if op in NUMBER_OPERATORS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.add(at, f"must be a number, not {json_kind(value)}")
        return value
    if op == "equals":
        return _text(value, at, problems)
    if not isinstance(value, str):
        problems.add(at, f"must be a string, not {json_kind(value)}")
    return value


def _text(value: Any, where: str, problems: Problems) -> str | None:
    text = text_of(value)
    if text is None:
        problems.add(where, f"must be a string, a number, true or false, not {json_kind(value)}")
    return text


def _build(field: str, getter: Getter, op: str, operand: Any, ignore_case: bool, where: str,
           problems: Problems) -> Condition | None:
    if op == "exists":
        return Condition(lambda view, now: getter(view) is not None)
    if op in NUMBER_OPERATORS:
        return Condition(_numeric(getter, NUMBER_OPERATORS[op], operand))
    fold: Callable[[str], str] = str.casefold if ignore_case else str
    if op == "equals":
        key = fold(operand)
        return Condition(_on_text(getter, key.__eq__, ignore_case), guard=Guard(field, getter, "exact", (key,),
                                                                                  ignore_case))
    if op == "in":
        keys = tuple(dict.fromkeys(fold(text) for text in operand))
        return Condition(_on_text(getter, frozenset(keys).__contains__, ignore_case),
                         guard=Guard(field, getter, "exact", keys, ignore_case))
    if op == "starts_with":
        prefix = fold(operand)
        return Condition(_on_text(getter, lambda text: text.startswith(prefix), ignore_case),
                         guard=Guard(field, getter, "prefix", (prefix,), ignore_case))
    if op == "contains":
        needle = fold(operand)
        expr = literal(needle)
        return Condition(_on_text(getter, lambda text: needle in text, ignore_case),
                         guard=None if expr is None else Guard(field, getter, "pattern", (expr,), ignore_case))
    try:
        expr = expression(operand, ignore_case)
    except PatternError as exc:
        problems.add(where, str(exc))
        return None
    return Condition(_on_text(getter, matcher(expr), False), guard=Guard(field, getter, "pattern", (expr,), False))


def _on_text(getter: Getter, test: TextTest, ignore_case: bool) -> Predicate:
    """The test of a field's text; a list's elements one by one; case-folded with `ignore_case`."""
    if ignore_case:
        def folded(view: AlertView, now: datetime) -> bool:
            value = getter(view)
            if type(value) is str:
                return test(value.casefold())
            return any(test(text.casefold()) for text in texts_of(value))
        return folded

    def as_is(view: AlertView, now: datetime) -> bool:
        value = getter(view)
        if type(value) is str:
            return test(value)
        return any(test(text) for text in texts_of(value))
    return as_is


def texts_of(value: Any) -> list[str]:
    """The texts a field's value offers the text operators: its own, or its elements'."""
    if isinstance(value, (list, tuple)):
        return [text for element in value if (text := text_of(element)) is not None]
    text = text_of(value)
    return [] if text is None else [text]


def _numeric(getter: Getter, compare: Callable[[Any, Any], bool], bound: int | float) -> Predicate:
    def numeric(view: AlertView, now: datetime) -> bool:
        value = getter(view)
        values = value if isinstance(value, (list, tuple)) else (value,)
        for element in values:
            number = number_of(element)
            if number is not None and compare(number, bound):
                return True
        return False
    return numeric


def _quoted(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else json_kind(value)
