"""Decisions a rule set remembers: in a storm the same alerts come again and again, and a rule
set decides the same for each of them every time.

What a rule set without time conditions decides for an alert (the rules that match, what they
change, the rendered templates, the route) is a function of the values of the fields its
conditions and templates read, and of nothing else. A `Memo`, made when the set is compiled,
holds those fields' getters; an alert's key is the tuple of their values, and the decision
made for a key is kept and answered for every later alert with that key. The key tells
apart whatever a condition or a template could tell apart: texts as they are, other values by
their type and JSON text (1, 1.0, true and "1" are four keys; so are 0.0 and -0.0), a list
by its elements; an absent field and a null one read alike (as every rule reads them). An
alert with an object, or a list holding one, in such a field has no key and is decided afresh.

Bounded: the memo is emptied when it holds `KEPT` decisions. It belongs to the compiled set,
so a reload (a new set) starts with an empty one. A set with a time condition has none: its
decisions depend on the instant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

from .decision import Decision
from .fields import Getter, getter_of, member_of
from .view import AlertView

KEPT = 4096
Key = tuple[Any, ...]
PLAIN = frozenset((str, type(None)))  # the types of values that are their own key part


class Memo:
    """The decisions of one compiled rule set, by the values of `paths` (see the module)."""

    __slots__ = ("_decided", "_getters", "_kept", "_members")

    def __init__(self, paths: Iterable[str], kept: int = KEPT) -> None:
        # Keys of one object (labels.alertname, labels.job…) are read from it in one pass.
        members: dict[str, list[str]] = {}
        getters: list[Getter] = []
        for path in sorted(set(paths)):
            member = member_of(path)
            if member is None:
                getters.append(getter_of(path))
            else:
                members.setdefault(member[0], []).append(member[1])
        self._members = tuple((attrgetter(root), tuple(keys)) for root, keys in members.items())
        self._getters = tuple(getters)
        self._decided: dict[Key, Decision] = {}
        self._kept = kept

    def decision(self, view: AlertView, decide: Callable[[AlertView], Decision]) -> Decision:
        """The decision kept for `view`'s key, else `decide(view)`, kept."""
        key = self.key(view)
        if key is None:
            return decide(view)
        decided = self._decided.get(key)
        if decided is None:
            decided = decide(view)
            if len(self._decided) >= self._kept:
                self._decided.clear()
            self._decided[key] = decided
        return decided

    def key(self, view: AlertView) -> Key | None:
        """The values of the fields, told apart as the rules tell them; None when one holds an object."""
        values = [get(view) for get in self._getters]
        for read, keys in self._members:
            values.extend(map(read(view).get, keys))
        if PLAIN.issuperset(map(type, values)):
            return tuple(values)
        for position, value in enumerate(values):
            if type(value) is not str and value is not None:
                marked = _marked(value)
                if marked is None:
                    return None
                values[position] = marked
        return tuple(values)


def _marked(value: Any) -> Any:
    """A value other than a text or None, as a key part: by its type and text; None for an object."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool or kind is int:
        return (kind, value)
    if kind is float:
        return (kind, repr(value))
    if kind is list or kind is tuple:
        elements = []
        for element in value:
            marked = _marked(element) if element is not None else None
            if marked is None and element is not None:
                return None
            elements.append(marked)
        return (list, tuple(elements))
    return None


def memo_of(rules: int, paths: Iterable[str], clocked: bool) -> Memo | None:
    """A memo for a set of `rules` enabled rules reading `paths`; None when it reads the instant
    (`clocked`), or has no rule (it decides at once)."""
    return None if clocked or not rules else Memo(paths)
