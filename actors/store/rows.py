"""Small helpers shared by the query modules: records as dicts, and partial updates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg


def one(row: asyncpg.Record | None) -> dict[str, Any] | None:
    return dict(row) if row is not None else None


def assignments(
    changes: Mapping[str, Any], columns: Sequence[str], first: int, *fixed: str
) -> tuple[str, list[Any]]:
    """A SET list: `column = $n` for each of `columns` present in `changes`, numbered from
    `first`, then the `fixed` assignments (such as "updated_at = now()"); and the values.

    Column names come from the caller's fixed list, never from the request, so they are safe
    to splice into SQL; the values travel as parameters."""
    names = [column for column in columns if column in changes]
    sets = [f"{name} = ${first + i}" for i, name in enumerate(names)] + list(fixed)
    return ", ".join(sets), [changes[name] for name in names]


async def delete_one(conn: asyncpg.Connection, sql: str, *args: Any) -> bool:
    """Run a DELETE of one row; whether there was such a row."""
    status: str = await conn.execute(sql, *args)
    return status == "DELETE 1"
