"""Regular expressions, in RE2 (google-re2): matching is linear in the text, so no pattern a
rule holds can stall the gateway, and patterns are compiled once, when the rules are.

The syntax is RE2's (no backreferences or lookaround); a pattern matches anywhere in the text
unless anchored with ^ and $. Matching goes through RE2::Set, even for one pattern: it answers
which patterns match without building match objects, about a quarter of `re2.search`'s cost,
and one pass answers every pattern of a field at once (see `dispatch`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import re2  # google-re2 ships no type hints: its names are Any here (mypy's ignore_missing_imports)

# A set's DFA has no slower fallback as a single RE2 has: it gets room enough that no set of
# rules comes near it (the memory is taken only as states are built). Errors are answered, not logged.
_SET_MEMORY = 64 << 20


def _options(max_mem: int | None = None) -> object:
    options = re2.Options()
    options.log_errors = False
    if max_mem is not None:
        options.max_mem = max_mem
    return options


class PatternError(ValueError):
    """A pattern RE2 cannot compile; the message says why."""


def expression(pattern: str, ignore_case: bool = False) -> str:
    """`pattern` as RE2 will run it, checked; PatternError when it is not a valid RE2 pattern."""
    expr = f"(?i){pattern}" if ignore_case else pattern
    try:
        re2.compile(expr.encode("utf-8"), _options())
    except UnicodeEncodeError:
        raise PatternError("invalid regular expression: not valid Unicode") from None
    except re2.error as exc:
        detail = exc.args[0].decode("utf-8", "replace") if isinstance(exc.args[0], bytes) else str(exc.args[0])
        reason, _, fragment = detail.partition(": ")
        raise PatternError(f"invalid regular expression: {reason}" + (f' ("{fragment}")' if fragment else "")) from None
    return expr


def literal(text: str) -> str | None:
    """An expression that matches wherever `text` occurs (as `text in ...` does); None for a text
    RE2 cannot hold (a lone surrogate)."""
    try:
        return str(re2.escape(text))
    except UnicodeEncodeError:
        return None


class PatternSet:
    """Checked expressions (from `expression`), matched together in one pass over a text."""

    def __init__(self, expressions: Sequence[str]) -> None:
        self._set = re2.Set.SearchSet(_options(_SET_MEMORY))
        for expr in expressions:
            self._set.Add(expr.encode("utf-8"))
        try:
            self._set.Compile()
        except re2.error:
            raise PatternError(f"{len(expressions)} regular expressions are too large to run together") from None

    def matching(self, text: str) -> list[int]:
        """The positions, in the sequence given, of the expressions that match somewhere in `text`."""
        # surrogatepass: a lone surrogate (which JSON can carry) matches nothing instead of raising.
        found: list[int] = self._set.Match(text.encode("utf-8", "surrogatepass")) or []
        return found


def matcher(expr: str) -> Callable[[str], bool]:
    """A test of one checked expression: whether it matches somewhere in a text."""
    match = PatternSet([expr])._set.Match

    def matches(text: str) -> bool:
        return match(text.encode("utf-8", "surrogatepass")) is not None
    return matches
