"""The event bus on Redis Streams: one stream per deployment, trimmed to about `capacity`.

XADD gives the ids; readers XREAD after theirs. Whether a reader missed trimmed entries is
decided from XINFO STREAM taken in the same MULTI as its read, so the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from tocsin.actors.bus_types import BusEvent, BusRead, EventId, parse_id

NO_ID: EventId = (0, 0)
# A blocking read waits at most this long (a reader asking for longer gets an empty answer
# and asks again); the socket timeout is a little longer, so only a dead connection trips it.
MAX_BLOCK_S = 20.0
SOCKET_TIMEOUT_S = MAX_BLOCK_S + 5.0


class RedisStreamBus:
    def __init__(self, url: str, stream_key: str, capacity: int) -> None:
        self._url = url
        self._key = stream_key
        self._capacity = capacity
        self._client: redis.Redis | None = None

    async def publish(self, events: Sequence[BusEvent]) -> list[str]:
        if not events:
            return []
        async with self._redis().pipeline(transaction=False) as pipe:  # one round trip, in order
            for event in events:
                fields: dict[FieldT, EncodableT] = {"kind": event.kind, "service": event.service_id, "data": event.data}
                pipe.xadd(self._key, fields, maxlen=self._capacity, approximate=True)
            ids: list[str] = await pipe.execute()
        return ids

    async def read(self, after_id: str, block_s: float, limit: int = 100) -> BusRead:
        found = await self._read_now(after_id, limit)
        if found.events or found.reset or block_s <= 0:
            return found
        # Only a wake-up: what is read is decided by _read_now, which checks for a gap.
        block_ms = max(1, int(min(block_s, MAX_BLOCK_S) * 1000))  # 0 would block for ever
        await self._redis().xread({self._key: after_id}, count=1, block=block_ms)
        return await self._read_now(after_id, limit)

    async def tail(self) -> str:
        info = await self._info()
        return str(info["last-generated-id"]) if info else "0-0"

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _read_now(self, after_id: str, limit: int) -> BusRead:
        after = parse_id(after_id)
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.xinfo_stream(self._key)
            if after is not None:
                pipe.xread({self._key: after_id}, count=limit)
            answers = await pipe.execute(raise_on_error=False)
        info = _stream_info(answers[0])
        last = parse_id(str(info["last-generated-id"])) if info else NO_ID
        tail = str(info["last-generated-id"]) if info else "0-0"
        if after is None or last is None or after > last or _trimmed_after(info, after):
            return BusRead([], tail, reset=True)
        if isinstance(answers[1], Exception):
            raise answers[1]
        events = [
            BusEvent(fields["kind"], fields["service"], fields["data"], entry_id)
            for _, entries in (answers[1] or []) for entry_id, fields in entries
        ]
        return BusRead(events, events[-1].id if events else after_id)

    async def _info(self) -> dict[str, Any] | None:
        try:
            return _stream_info(await self._redis().xinfo_stream(self._key))
        except ResponseError:
            return None  # nothing was ever published

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(self._url, decode_responses=True, socket_timeout=SOCKET_TIMEOUT_S)
        return self._client


def _stream_info(answer: Any) -> dict[str, Any] | None:
    """XINFO STREAM's answer, or None when the stream does not exist (yet)."""
    if isinstance(answer, ResponseError):
        return None
    if isinstance(answer, Exception):
        raise answer
    return dict(answer)


def _trimmed_after(info: dict[str, Any] | None, after: EventId) -> bool:
    """Whether trimming may have removed entries newer than `after`. Trimming removes the
    oldest entries, so all is there when `after` is at or past the first entry held, or
    when nothing was ever removed. Redis does not say which id was trimmed last, so a
    reader whose last entry was exactly the last one trimmed is reset too: it was about
    to fall behind anyway."""
    if info is None:
        return False
    removed = int(info.get("entries-added", info["length"] + 1)) > int(info["length"])
    if not removed:
        return False
    first = info.get("first-entry")
    held_from = parse_id(str(first[0])) if first else None
    if held_from is None:  # everything was removed
        last = parse_id(str(info["last-generated-id"])) or NO_ID
        return after < last
    return after < held_from
