"""Keeps the Slack messages of pages showing their incident as it is: acknowledged by whom,
resolved by whom, and only the buttons that still make sense (chat.update).

Where it runs, and why there: in the Slack channel actor, following the event bus.
- One of it in the cluster: the gateway has replicas, and each following the bus would
  update every message once per replica.
- The channel actor posted the messages, and holds the bot's Web API client.
- The bus carries every committed change of an incident, whoever made it: a button pressed
  in Slack, the dashboard, a text or a call, the source resolving, auto-resolve. So a button's
  press is answered by the same update as any other change, a moment after the commit
  (the shard's publisher paces the bus at 50 ms).

What it does not take from the bus: the bus is a live feed, not a record. Which messages are
behind their incident is asked of Postgres (the status each shows against the incident's,
tocsin.actors.store.chat), for the incidents the events name; at start, when the bus says
events were lost (a reset, a gap), when a read fails, and every RECHECK_S, for every incident
changed in the last LOOKBACK. An update Slack refuses for good (the message was deleted) is
counted as shown and not tried again; one that may pass later is tried at the next look.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

import asyncpg
import orjson

from tocsin.actors.bus_types import BusRead, EventBus
from tocsin.actors.composing import incident_link
from tocsin.actors.domain.chat_cards import PageView, slack_blocks, slack_text
from tocsin.actors.domain.clock import Clock
from tocsin.actors.providers.base import Provider, ProviderError
from tocsin.actors.providers.slack import SlackProvider, posted_message
from tocsin.actors.providers.slack_web import SlackWebApi
from tocsin.actors.store import chat, database

log = logging.getLogger(__name__)

READ_BLOCK_S = 5.0
READ_LIMIT = 500
RETRY_S = 1.0
RECHECK_S = 60.0
LOOKBACK = timedelta(hours=1)
BATCH = 200  # messages updated per look; the next look takes the rest

Connect = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


class SlackMessages:
    def __init__(self, web: SlackWebApi, bus: EventBus, connection: Connect, clock: Clock, reachable_url: str) -> None:
        self._web = web
        self._bus = bus
        self._connection = connection
        self._clock = clock
        self._reachable_url = reachable_url
        self.stats = {"updated": 0, "update_failures": 0}

    async def follow(self) -> None:
        """Follow the bus until cancelled."""
        cursor = await self._tail()
        await self._look(None)
        looked_back = time.monotonic()
        while True:
            try:
                found = await self._bus.read(cursor, READ_BLOCK_S, READ_LIMIT)
            except Exception as exc:  # noqa: BLE001 - the bus is down: look in Postgres, read again later
                log.warning("slack messages: reading the event bus failed: %r", exc)
                await asyncio.sleep(RETRY_S)
                cursor = await self._tail()
                found = BusRead([], cursor, reset=True)
            cursor = found.cursor
            changed, lost = incidents_in(found)
            if lost or time.monotonic() - looked_back > RECHECK_S:
                await self._look(None)
                looked_back = time.monotonic()
            if changed:
                await self._look(changed)

    async def update(self, incident_ids: Sequence[int] | None) -> int:
        """Update the messages behind these incidents (None: every incident changed lately);
        how many were updated."""
        async with self._connection() as conn:
            if incident_ids is None:
                rows = await chat.stale_slack_messages_since(conn, self._clock.now() - LOOKBACK, BATCH)
            else:
                rows = await chat.stale_slack_messages(conn, incident_ids, BATCH)
        shown = [(row["notification_id"], row["status"]) for row in rows if await self._redrawn(row)]
        if shown:
            async with self._connection() as conn:
                await chat.mark_shown(conn, shown, self._clock.now())
        return len(shown)

    async def _redrawn(self, row: dict[str, Any]) -> bool:
        """Whether the message now shows its incident as it is (or never will)."""
        posted = posted_message(row["provider_message_id"])
        if posted is None:
            return True  # not a message that can be updated
        view = PageView(row["incident_id"], row["service"], row["summary"] or "", row["urgency"], row["status"],
                        row["by"], incident_link(self._reachable_url, row["incident_id"]))
        try:
            await self._web.update(*posted, slack_text(view), slack_blocks(view))
        except ProviderError as exc:
            self.stats["update_failures"] += 1
            log.warning("slack messages: updating notification %s's message: %s", row["notification_id"], exc)
            return not exc.retryable
        self.stats["updated"] += 1
        return True

    async def _look(self, incident_ids: Sequence[int] | None) -> None:
        try:
            await self.update(incident_ids)
        except database.UNAVAILABLE as exc:
            log.warning("slack messages: cannot reach the database: %r", exc)
        except Exception:  # noqa: BLE001 - following must outlive any one bad row
            log.exception("slack messages: updating messages failed")

    async def _tail(self) -> str:
        while True:
            try:
                return await self._bus.tail()
            except Exception as exc:  # noqa: BLE001 - the bus is not up yet: wait for it
                log.warning("slack messages: the event bus does not answer: %r", exc)
                await asyncio.sleep(RETRY_S)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._bus.close()


def incidents_in(found: BusRead) -> tuple[list[int], bool]:
    """The incidents the events of a read name, in order, and whether events were lost."""
    lost = found.reset
    ids: dict[int, None] = {}
    for event in found.events:
        if event.kind == "gap":
            lost = True
        elif event.kind == "incident":
            try:
                incident_id = orjson.loads(event.data)["incident"]["id"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if isinstance(incident_id, int):
                ids[incident_id] = None
    return list(ids), lost


def web_api_of(providers: Sequence[Provider]) -> SlackWebApi | None:
    """The bot's Web API client among a channel's providers, when a bot token is configured."""
    return next((p.web for p in providers if isinstance(p, SlackProvider) and p.web is not None), None)
