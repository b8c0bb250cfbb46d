"""How much of a server's own words goes into a `ProviderError`: enough to diagnose, never
a whole page, and on one line that Postgres can store (a server may answer anything)."""

from __future__ import annotations

from tocsin.actors.domain.plaintext import one_line

LIMIT = 200


def detail(text: str) -> str:
    return one_line(text, LIMIT)
