"""The in-cluster bus's ring: ids that keep increasing, resuming after an id, and telling a
reader that fell behind (or is from before a restart) to reset instead of skipping."""

from __future__ import annotations

import asyncio

import pytest

from tocsin.actors.bus import EventBusActor, EventRing
from tocsin.actors.bus_types import BusEvent, format_id, parse_id

START_MS = 1_700_000_000_000


def events(*names: str) -> list[BusEvent]:
    return [BusEvent("incident", "svc", f'{{"n": "{name}"}}') for name in names]


def names(read_events: list[BusEvent]) -> list[str]:
    return [e.data.split('"')[3] for e in read_events]


def test_ids_look_like_redis_ids_and_increase_within_and_across_milliseconds() -> None:
    ring = EventRing(100, START_MS)
    first = ring.append(events("a", "b"), START_MS)
    later = ring.append(events("c"), START_MS + 5)
    behind = ring.append(events("d"), START_MS + 2)  # the clock went back: ids still go up

    ids = first + later + behind
    assert ids == [f"{START_MS}-1", f"{START_MS}-2", f"{START_MS + 5}-0", f"{START_MS + 5}-1"]
    parsed = [parse_id(i) for i in ids]
    assert parsed == sorted(parsed) and len(set(parsed)) == len(parsed)
    assert ring.tail() == ids[-1]


def test_parse_id_accepts_only_bus_ids() -> None:
    assert parse_id("1700000000000-7") == (1_700_000_000_000, 7)
    assert format_id((5, 0)) == "5-0"
    for bad in ("", "12", "a-1", "1-b", "1-2-3", "-1"):
        assert parse_id(bad) is None


@pytest.mark.parametrize("odd", ["\u0661\u0667-\u0661", "\u00b2-1", "1-\u00b2", "\uff11-0", "1\x00-0"])
def test_an_id_with_digits_that_are_not_ascii_is_no_bus_id(odd: str) -> None:
    """Redis would refuse it as a stream id: it is answered with a reset, like any other
    id the bus never gave."""
    assert parse_id(odd) is None


def test_a_reader_resumes_after_its_last_id_without_gaps_or_repeats() -> None:
    ring = EventRing(100, START_MS)
    start = ring.tail()
    ids = ring.append(events("a", "b", "c", "d", "e"), START_MS + 1)

    first = ring.read(start, limit=2)
    assert names(first.events) == ["a", "b"] and first.cursor == ids[1] and not first.reset
    rest = ring.read(first.cursor, limit=100)
    assert names(rest.events) == ["c", "d", "e"] and rest.cursor == ids[-1]
    nothing = ring.read(rest.cursor, limit=100)
    assert nothing.events == [] and nothing.cursor == ids[-1] and not nothing.reset


def test_a_reader_whose_next_event_was_dropped_is_told_to_reset() -> None:
    ring = EventRing(3, START_MS)
    start = ring.tail()
    ids = ring.append(events("a", "b", "c", "d", "e"), START_MS + 1)  # a and b fell out

    assert ring.read(start, 100).reset
    assert ring.read(ids[0], 100).reset  # b, after a, is gone
    kept = ring.read(ids[1], 100)  # b was the last one dropped: nothing after it is missing
    assert not kept.reset and names(kept.events) == ["c", "d", "e"]

    reset = ring.read(start, 100)
    assert reset.events == [] and reset.cursor == ring.tail()
    assert ring.read(reset.cursor, 100).events == []  # and the reader goes on from the newest


def test_ids_a_ring_never_gave_are_answered_with_reset() -> None:
    ring = EventRing(10, START_MS)
    ring.append(events("a"), START_MS + 1)

    for unknown in ("garbage", f"{START_MS + 60_000}-0", "0-0"):
        found = ring.read(unknown, 100)
        assert found.reset and found.cursor == ring.tail()


def test_after_a_restart_ids_keep_increasing_and_old_readers_reset() -> None:
    before = EventRing(10, START_MS)
    old_ids = before.append(events("a", "b"), START_MS + 1)

    after = EventRing(10, START_MS + 1_000)  # the actor restarted a second later, empty
    new_ids = after.append(events("c"), START_MS + 1_000)

    assert parse_id(new_ids[0]) > parse_id(old_ids[-1])  # type: ignore[operator]
    assert after.read(old_ids[-1], 100).reset  # whatever followed it went with the old actor
    fresh = after.read(after.read(old_ids[-1], 100).cursor, 100)
    assert fresh.events == [] and not fresh.reset


async def test_a_read_waits_for_the_next_publish_and_returns_at_once() -> None:
    bus = EventBusActor(capacity=10)
    start = await bus.tail()

    waiting = asyncio.create_task(bus.read(start, block_s=5))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    ids = await bus.publish(events("a"))
    found = await asyncio.wait_for(waiting, 1)

    assert [e.id for e in found.events] == ids and names(found.events) == ["a"]


async def test_a_read_with_nothing_new_returns_empty_after_its_wait() -> None:
    bus = EventBusActor(capacity=10)
    found = await asyncio.wait_for(bus.read(await bus.tail(), block_s=0.05), 1)
    assert found.events == [] and not found.reset


def test_a_ring_holds_at_least_one_event() -> None:
    with pytest.raises(ValueError):
        EventRing(0, START_MS)
