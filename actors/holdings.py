"""The rows a channel actor holds: claimed by it and not yet settled, being sent or their
outcome being written. Its claims pass them over whatever their leases say, so a row is
never sent again while the process that sent it lives and knows how it went.

A held row that no provider was given, the database having failed first (composing it,
cancelling it, claiming the rest of its round), is given back at the next round that
reaches the database: claimable again at once, not once its lease has run out, and still
in doubt if it was (its previous sender's outcome unknown).
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from datetime import datetime
from typing import Any

import asyncpg

from tocsin.actors.store import outbox

Row = dict[str, Any]  # a claimed row, as `outbox.claim_due` returns it


class Holdings:
    def __init__(self) -> None:
        self._held: set[int] = set()
        self._untried: dict[int, bool] = {}  # id -> in doubt

    @property
    def ids(self) -> Set[int]:
        return self._held

    def take(self, rows: Iterable[Row]) -> None:
        self._held.update(row["id"] for row in rows)

    def untried(self, rows: Iterable[Row]) -> None:
        """No provider was given these: they go back at the next round."""
        self._untried.update((row["id"], row["in_doubt"]) for row in rows)

    def release(self, rows: Iterable[Row]) -> None:
        """Settled, or left to their leases; untried ones stay until given back."""
        self._held.difference_update(row["id"] for row in rows if row["id"] not in self._untried)

    async def give_back(self, conn: asyncpg.Connection, now: datetime) -> None:
        if not self._untried:
            return
        untried = dict(self._untried)  # another round may give back the same ones meanwhile
        await outbox.unclaim(conn, list(untried), [n for n, in_doubt in untried.items() if in_doubt], now)
        for notification_id in untried:
            self._untried.pop(notification_id, None)
        self._held.difference_update(untried)
