"""A shard call's replies as columns: what crosses the process from a shard back to the
gateway, the counterpart of `tocsin.actors.domain.input_batch`.

Returned as a list, every reply cost Ray's serializer a call of its own to set it aside and
the pickle its own object, class and tuple of fields, written by the shard and read by the
gateway, though in a storm most replies are one of a few per incident (the shard makes one
per incident and outcome and shares it). As columns, each distinct reply is a row of five
lists and each input the number of its row: the pickle is a few lists of strings and numbers.
The gateway turns it back into replies, one per distinct row, shared as the shard shared them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from operator import attrgetter

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.wire import pickled_by_fields

_FIELDS = tuple(f.name for f in fields(Reply))
_ROW = attrgetter(*_FIELDS)  # a reply's values, in the order its constructor takes them


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class ReplyBatch:
    """Replies in order: the distinct replies as columns, in `Reply`'s field order, and for
    each input the row of its reply."""

    columns: tuple[list[object], ...]
    rows: list[int]

    @classmethod
    def of(cls, replies: Sequence[Reply]) -> ReplyBatch:
        """Replies that are one object share a row (equal ones made apart need not)."""
        row_of: dict[int, int] = {}
        distinct: list[Reply] = []
        rows: list[int] = []
        for reply in replies:
            row = row_of.get(id(reply))
            if row is None:
                row = row_of[id(reply)] = len(distinct)
                distinct.append(reply)
            rows.append(row)
        columns = tuple(map(list, zip(*map(_ROW, distinct)))) or tuple([] for _ in _FIELDS)
        return cls(columns, rows)

    def replies(self) -> list[Reply]:
        made = [Reply(*values) for values in zip(*self.columns)]
        return [made[row] for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)
