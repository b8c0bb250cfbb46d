"""Values that cross a process boundary with every alert (gateway to shard, shard to gateway
and to the event bus) pickle as their constructor and field values.

A frozen, slotted dataclass otherwise pickles through `dataclasses`' own __getstate__ and
__setstate__, which look up the fields on every call: in a storm of hundreds of alerts a
request, that was a tenth of the shard's time.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, TypeVar

T = TypeVar("T")


def pickled_by_fields(cls: type[T]) -> type[T]:
    """Decorate a dataclass whose fields all go, in order, to its constructor."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if any(not f.init or f.kw_only for f in fields):
        raise TypeError(f"{cls.__name__}: every field must be a positional constructor argument")
    values = operator.attrgetter(*(f.name for f in fields))
    if len(fields) == 1:
        def reduce(self: Any) -> tuple[type[T], tuple[Any, ...]]:
            return cls, (values(self),)
    else:
        def reduce(self: Any) -> tuple[type[T], tuple[Any, ...]]:
            return cls, values(self)
    cls.__reduce__ = reduce  # type: ignore[method-assign]
    return cls
