"""Which conditions of an ordered list hold for an alert, without testing most of them.

Most rules of a real rule set test a field against constants (labels.alertname equals X,
labels.team in [...], labels.instance starts with "db-", a pattern), and most do not match a
given alert. Such a test is a guard: an index per field answers it for every rule at once,
exact texts from a dict, prefixes from a dict per prefix length, patterns and the texts of
`contains` tests from one RE2 set (one more for those that ignore case, run on the folded text).
A condition is entered in the index under guards it cannot hold without: its own when it is a
field test; one conjunct's (the cheapest to answer) when it is an "all"; all of its
alternatives' when it is an "any" whose alternatives all have some. For an alert, each indexed
field is read once, and the index gives, as the bits of an int, the conditions one of whose
guards holds; only those, and the conditions with no guard, are then tested, in order, each
by what its guards leave to test (its residual: none at all for a plain field test).

The result is exactly that of testing every condition in order (tests/unit/test_rules_combinations.py
checks it against the plain evaluation): for each entry (guards, residual), the condition
holds if and only if one of the guards holds and the residual, if any, does too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from .conditions import Condition, Guard, Predicate, conjuncts, every, texts_of
from .fields import Getter
from .patterns import PatternSet
from .view import AlertView

# What answering a guard costs, roughly: a dict lookup, one per prefix length, an RE2 pass.
_COST = {"exact": 1, "prefix": 2, "pattern": 4}

Entry = tuple[tuple[Guard, ...], Predicate | None]


def entry(condition: Condition) -> Entry | None:
    """The guards a condition is entered under and its residual; None when it has no guards
    (it is then tested for every alert)."""
    if condition.guard is not None:
        return (condition.guard,), None
    if condition.kind == "any":
        alternatives = [entry(part) for part in condition.parts]
        if not alternatives or any(alternative is None for alternative in alternatives):
            return None
        guards = tuple(guard for alternative in alternatives if alternative for guard in alternative[0])
        exact = all(alternative is not None and alternative[1] is None for alternative in alternatives)
        return guards, None if exact else condition.test
    if condition.kind == "all":
        parts = conjuncts(condition)
        options = [(part, found) for part in parts if (found := entry(part)) is not None]
        if not options:
            return None
        chosen, (guards, residual) = min(options, key=lambda option: sum(_COST[g.kind] for g in option[1][0]))
        rest = [part.test for part in parts if part is not chosen] + ([residual] if residual else [])
        return guards, every(rest) if rest else None
    return None


class Dispatch:
    """Built once for an ordered list of conditions; `holding(view, now)` yields the positions of
    those that hold, in order."""

    def __init__(self, conditions: Sequence[Condition]) -> None:
        fields: dict[str, _FieldIndex] = {}
        residuals: list[Predicate | None] = []
        unguarded = 0
        for position, condition in enumerate(conditions):
            found = entry(condition)
            if found is None:
                unguarded |= 1 << position
                residuals.append(condition.test)
                continue
            guards, residual = found
            for guard in guards:
                fields.setdefault(guard.field, _FieldIndex(guard.getter)).add(guard, 1 << position)
            residuals.append(residual)
        self._unguarded = unguarded
        self._fields = tuple(index.frozen() for index in fields.values())
        self._residuals = tuple(residuals)

    def candidates(self, view: AlertView) -> int:
        """The positions (as bits) of the conditions whose guard holds, or that have none."""
        found = self._unguarded
        for index in self._fields:
            found |= index.hits(view)
        return found

    def holding(self, view: AlertView, now: datetime) -> Iterator[int]:
        """The positions of the conditions that hold for `view` at `now`, in order."""
        residuals = self._residuals
        found = self.candidates(view)
        while found:
            lowest = found & -found
            found ^= lowest
            position = lowest.bit_length() - 1
            residual = residuals[position]
            if residual is None or residual(view, now):
                yield position


class _FieldIndex:
    """The guards on one field: which conditions' guards a value of the field satisfies."""

    def __init__(self, getter: Getter) -> None:
        self.getter = getter
        self.exact: dict[str, int] = {}
        self.exact_folded: dict[str, int] = {}
        self.prefixes: dict[int, dict[str, int]] = {}
        self.prefixes_folded: dict[int, dict[str, int]] = {}
        self.expressions: list[tuple[str, int]] = []
        self.expressions_folded: list[tuple[str, int]] = []

    def add(self, guard: Guard, bit: int) -> None:
        if guard.kind == "pattern":
            (self.expressions_folded if guard.ignore_case else self.expressions).append((guard.keys[0], bit))
            return
        if guard.kind == "exact":
            table = self.exact_folded if guard.ignore_case else self.exact
        else:
            prefix = guard.keys[0]
            table = (self.prefixes_folded if guard.ignore_case else self.prefixes).setdefault(len(prefix), {})
        for key in guard.keys:
            table[key] = table.get(key, 0) | bit

    def frozen(self) -> _FrozenFieldIndex:
        return _FrozenFieldIndex(self.getter, self.exact, self.exact_folded, tuple(self.prefixes.items()),
                                 tuple(self.prefixes_folded.items()), _Patterns.of(self.expressions),
                                 _Patterns.of(self.expressions_folded))


class _Patterns:
    """Expressions matched in one pass, each with the bits of the conditions it guards."""

    __slots__ = ("matching", "bits")

    def __init__(self, expressions: list[tuple[str, int]]) -> None:
        self.matching = PatternSet([expr for expr, _ in expressions]).matching
        self.bits = tuple(bit for _, bit in expressions)

    @classmethod
    def of(cls, expressions: list[tuple[str, int]]) -> _Patterns | None:
        return cls(expressions) if expressions else None

    def hits(self, text: str) -> int:
        found = 0
        bits = self.bits
        for position in self.matching(text):
            found |= bits[position]
        return found


class _FrozenFieldIndex:
    __slots__ = ("getter", "exact", "exact_folded", "prefixes", "prefixes_folded", "patterns", "patterns_folded",
                 "folds")

    def __init__(self, getter: Getter, exact: dict[str, int], exact_folded: dict[str, int],
                 prefixes: tuple[tuple[int, dict[str, int]], ...],
                 prefixes_folded: tuple[tuple[int, dict[str, int]], ...],
                 patterns: _Patterns | None, patterns_folded: _Patterns | None) -> None:
        self.getter = getter
        self.exact = exact
        self.exact_folded = exact_folded
        self.prefixes = prefixes
        self.prefixes_folded = prefixes_folded
        self.patterns = patterns
        self.patterns_folded = patterns_folded
        self.folds = bool(exact_folded or prefixes_folded or patterns_folded)

    def hits(self, view: AlertView) -> int:
        value: Any = self.getter(view)
        if type(value) is str:
            return self.hits_of(value)
        found = 0
        for text in texts_of(value):
            found |= self.hits_of(text)
        return found

    def hits_of(self, text: str) -> int:
        found = self.exact.get(text, 0)
        for length, table in self.prefixes:
            found |= table.get(text[:length], 0)
        if self.patterns is not None:
            found |= self.patterns.hits(text)
        if self.folds:
            folded = text.casefold()
            found |= self.exact_folded.get(folded, 0)
            for length, table in self.prefixes_folded:
                found |= table.get(folded[:length], 0)
            if self.patterns_folded is not None:
                found |= self.patterns_folded.hits(folded)
        return found
