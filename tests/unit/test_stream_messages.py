"""The live stream's SSE text: framing, resuming, filtering, resets and keep-alives, over an
in-process bus (no Ray, no HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from tocsin.actors.bus import EventBusActor
from tocsin.actors.bus_types import BusEvent, BusRead
from tocsin.serve.closing import AppClosing
from tocsin.serve.stream import sse_comment, sse_message, sse_messages


def test_a_message_has_id_event_and_one_data_line_per_line() -> None:
    assert sse_message("incident", '{"a": 1}', "5-0") == 'id: 5-0\nevent: incident\ndata: {"a": 1}\n\n'
    assert sse_message("reset", "one\ntwo") == "event: reset\ndata: one\ndata: two\n\n"
    assert sse_comment("keep-alive") == ": keep-alive\n\n"
    assert sse_comment("keep-alive", "7-1") == ": keep-alive\nid: 7-1\n\n"


def parse(text: str) -> list[dict[str, str]]:
    """SSE text as EventSource reads it: one dict per block ("comment" for comment lines)."""
    blocks = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(":")
            fields[name or "comment"] = value.removeprefix(" ")
        if fields:
            blocks.append(fields)
    return blocks


async def take(stream: AsyncIterator[str], count: int, timeout_s: float = 2.0) -> list[dict[str, str]]:
    """The next `count` blocks of the stream."""
    blocks: list[dict[str, str]] = []

    async def collect() -> None:
        while len(blocks) < count:
            blocks.extend(parse(await anext(stream)))

    await asyncio.wait_for(collect(), timeout_s)
    return blocks


def incident(service: str, n: int) -> BusEvent:
    return BusEvent("incident", service, f'{{"incident": {{"id": {n}}}, "entries": []}}')


async def test_the_stream_sends_each_event_after_the_cursor_once_in_order() -> None:
    bus = EventBusActor(capacity=100)
    start = await bus.tail()
    ids = await bus.publish([incident("a", 1), incident("a", 2)])
    stream = sse_messages(bus, start)

    hello, first, second = await take(stream, 3)
    assert hello == {"retry": "3000", "comment": "connected"}
    assert (first["id"], first["event"]) == (ids[0], "incident")
    assert first["data"] == '{"incident": {"id": 1}, "entries": []}'
    assert second["id"] == ids[1]

    later = await bus.publish([incident("a", 3)])
    [third] = await take(stream, 1)
    assert third["id"] == later[0]
    await stream.aclose()

    resumed = sse_messages(bus, ids[0])  # reconnected after the first
    _, *again = await take(resumed, 3)
    assert [m["id"] for m in again] == [ids[1], later[0]]
    await resumed.aclose()


async def test_a_cursor_the_bus_no_longer_holds_gets_reset_then_what_follows() -> None:
    bus = EventBusActor(capacity=2)
    start = await bus.tail()
    await bus.publish([incident("a", n) for n in range(5)])
    stream = sse_messages(bus, start)

    _, reset = await take(stream, 2)
    assert reset["event"] == "reset" and reset["id"] == await bus.tail()
    newer = await bus.publish([incident("a", 9)])
    [after] = await take(stream, 1)
    assert after["id"] == newer[0]
    await stream.aclose()


async def test_a_gap_event_from_the_publisher_is_a_reset() -> None:
    bus = EventBusActor(capacity=10)
    start = await bus.tail()
    ids = await bus.publish([BusEvent("gap", "", '{"lost_commits": 2}'), incident("a", 1)])
    stream = sse_messages(bus, start)

    _, reset, event = await take(stream, 3)
    assert (reset["event"], reset["id"]) == ("reset", ids[0])
    assert (event["event"], event["id"]) == ("incident", ids[1])
    await stream.aclose()


async def test_the_service_filter_skips_other_services_and_keep_alives_carry_the_cursor() -> None:
    bus = EventBusActor(capacity=10)
    start = await bus.tail()
    ids = await bus.publish([incident("other", 1), incident("mine", 2), incident("other", 3)])
    stream = sse_messages(bus, start, services={"mine"}, keepalive_s=0.2)

    _, mine, keepalive = await take(stream, 3)
    assert (mine["id"], mine["event"]) == (ids[1], "incident")
    # Nothing for this client came after, but its last id moves on past what it skipped.
    assert keepalive == {"comment": "keep-alive", "id": ids[2]}
    [plain] = await take(stream, 1)
    assert plain == {"comment": "keep-alive"}
    await stream.aclose()


async def test_the_stream_ends_by_itself_after_its_lifetime() -> None:
    bus = EventBusActor(capacity=10)
    stream = sse_messages(bus, await bus.tail(), keepalive_s=10, lifetime_s=0.1)
    texts = [text async for text in stream]
    assert len(texts) == 1 and "connected" in texts[0]


async def test_the_stream_ends_when_the_bus_cannot_be_read() -> None:
    class Broken(EventBusActor):
        async def read(self, after_id: str, block_s: float, limit: int = 100) -> BusRead:
            raise ConnectionError("bus down")

    texts = [text async for text in sse_messages(Broken(), "1-0")]
    assert len(texts) == 1


async def test_the_stream_ends_at_once_when_the_application_closes() -> None:
    bus = EventBusActor(capacity=10)
    closing = asyncio.Event()
    stream = sse_messages(bus, await bus.tail(), keepalive_s=30, closing=closing)
    await take(stream, 1)

    later = asyncio.get_running_loop().call_later(0.05, closing.set)
    [last] = await take(stream, 1, timeout_s=1)  # long before the keep-alive
    assert last == {"comment": "closing"}
    assert [text async for text in stream] == []
    later.cancel()


async def test_the_closing_watch_asks_only_while_held_and_sets_the_event() -> None:
    answers = iter([False, False, True])
    asked: list[bool] = []

    def probe() -> bool:
        asked.append(True)
        return next(answers)

    watch = AppClosing(probe, poll_s=0.01)
    async with watch.held() as closing:
        await asyncio.wait_for(closing.wait(), 1)
    assert len(asked) == 3
