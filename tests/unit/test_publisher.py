"""What a shard puts on the bus after a commit: one event per changed incident, with the
incident as the list shows it and its new entries; in commit order; losses never silent;
changes that only add occurrences held back a while, one per incident, entries all counted."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from tocsin.actors.bus import EventBusActor
from tocsin.actors.bus_types import BusEvent
from tocsin.actors.domain import feed
from tocsin.actors.domain.batch_plan import Plan
from tocsin.actors.domain.events import Action, AlertEvent, IncidentCommand
from tocsin.actors.publisher import BusPublisher
from tocsin.serve.api.models import IncidentOut
from tests.unit.test_dedupe import Inputs, Shard


def committed(shard: Shard, *inputs) -> Plan:  # type: ignore[no-untyped-def]
    return shard.apply(*inputs)


def test_one_change_per_incident_with_its_new_entries_in_order() -> None:
    shard, inputs = Shard(), Inputs()
    plan = committed(shard, inputs.alert(Action.TRIGGER, "a", summary="A down"), inputs.alert(Action.TRIGGER, "b"),
                     inputs.alert(Action.TRIGGER, "a"))

    changes = feed.changes_of(plan)

    assert [c.incident["dedup_key"] for c in changes] == ["a", "b"]
    a = changes[0]
    assert [e["kind"] for e in a.entries] == ["triggered", "unpaged", "occurrence"]
    assert a.incident["occurrences"] == 2 and a.incident["status"] == "triggered"
    assert set(a.body()) == {"incident", "entries"}


def test_the_incident_has_the_fields_of_the_incident_list_and_validates_as_one() -> None:
    shard, inputs = Shard(), Inputs()
    [change] = feed.changes_of(committed(shard, inputs.alert(Action.TRIGGER)))

    assert set(change.incident) == set(IncidentOut.model_fields)
    listed = IncidentOut.model_validate(orjson.loads(orjson.dumps(change.incident, option=orjson.OPT_UTC_Z)))
    assert listed.model_dump(mode="json") == orjson.loads(orjson.dumps(change.incident, option=orjson.OPT_UTC_Z))


def test_a_storm_batch_carries_its_occurrences_as_one_entry() -> None:
    shard, inputs = Shard(), Inputs()
    committed(shard, inputs.alert(Action.TRIGGER))
    [change] = feed.changes_of(committed(shard, *[inputs.alert(Action.TRIGGER) for _ in range(150)]))

    [entry] = change.entries
    assert entry["kind"] == "occurrences" and entry["alerts"] == 150
    assert entry["message"].startswith("150 more occurrences (2–151), ")
    assert change.incident["occurrences"] == 151


def test_a_batch_of_many_entries_carries_the_newest_and_says_how_many_it_left_out() -> None:
    shard, inputs = Shard(), Inputs()
    committed(shard, inputs.alert(Action.TRIGGER))
    # alerts from two sources in turn: each has an entry of its own
    storm = [inputs.alert(Action.TRIGGER, source=f"host-{n % 2}") for n in range(150)]
    [change] = feed.changes_of(committed(shard, *storm))

    assert len(change.entries) == feed.MAX_ENTRIES
    assert change.body()["entries_omitted"] == 50
    assert change.entries[-1]["message"] == "occurrence 151"


async def test_commits_are_published_in_order_one_event_per_incident() -> None:
    shard, inputs = Shard(), Inputs()
    bus = EventBusActor(capacity=100)
    start = await bus.tail()
    publisher = BusPublisher(bus)
    for key in ("a", "b", "c"):
        publisher.offer([committed(shard, inputs.alert(Action.TRIGGER, key))])
    await publisher.flush()

    found = await bus.read(start, 0)
    assert [orjson.loads(e.data)["incident"]["dedup_key"] for e in found.events] == ["a", "b", "c"]
    assert {e.kind for e in found.events} == {"incident"} and publisher.stats["published"] == 3
    await publisher.close()


class CountingBus(EventBusActor):
    def __init__(self) -> None:
        super().__init__(capacity=1000)
        self.calls = 0

    async def publish(self, events: list[BusEvent]) -> list[str]:
        self.calls += 1
        return await super().publish(events)


async def test_commits_arriving_faster_than_the_pace_share_one_publish() -> None:
    shard, inputs = Shard(), Inputs()
    bus = CountingBus()
    publisher = BusPublisher(bus, min_interval_s=0.2)
    publisher.offer([committed(shard, inputs.alert(Action.TRIGGER, "first"))])
    await asyncio.sleep(0.05)  # the first goes out at once: nothing was published before it
    for n in range(20):
        publisher.offer([committed(shard, inputs.alert(Action.TRIGGER, f"k{n}"))])
        await asyncio.sleep(0.005)
    await publisher.flush()

    assert bus.calls == 2 and publisher.stats["published"] == 21
    await publisher.close()


class FlakyBus(EventBusActor):
    def __init__(self) -> None:
        super().__init__(capacity=100)
        self.failures = 1

    async def publish(self, events: Sequence[BusEvent]) -> list[str]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("bus down")
        return await super().publish(list(events))


async def test_a_failed_publish_is_counted_and_the_next_one_starts_with_a_gap() -> None:
    shard, inputs = Shard(), Inputs()
    bus = FlakyBus()
    start = await bus.tail()
    publisher = BusPublisher(bus)
    publisher.offer([committed(shard, inputs.alert(Action.TRIGGER, "lost"))])
    await asyncio.sleep(0.05)
    publisher.offer([committed(shard, inputs.alert(Action.TRIGGER, "kept"))])
    await publisher.flush()

    found = await bus.read(start, 0)
    assert [e.kind for e in found.events] == ["gap", "incident"]
    assert orjson.loads(found.events[1].data)["incident"]["dedup_key"] == "kept"
    assert publisher.stats["failed_publishes"] == 1
    await publisher.close()


async def test_past_the_bound_commits_are_dropped_and_readers_told() -> None:
    shard, inputs = Shard(), Inputs()
    bus = EventBusActor(capacity=100)
    start = await bus.tail()
    publisher = BusPublisher(bus, max_waiting=2)
    for key in ("a", "b", "c", "d"):  # offered without yielding: the publisher has not run yet
        publisher.offer([committed(shard, inputs.alert(Action.TRIGGER, key))])
    await publisher.flush()

    found = await bus.read(start, 0)
    # The gap stands where c and d were: a reader reloads after the changes it did get.
    assert [e.kind for e in found.events] == ["incident", "incident", "gap"]
    assert publisher.stats["dropped_commits"] == 2
    await publisher.close()


@pytest.mark.parametrize("plans", [[], [Plan("svc")]])
async def test_nothing_to_say_publishes_nothing(plans: list[Plan]) -> None:
    bus = EventBusActor(capacity=10)
    start = await bus.tail()
    publisher = BusPublisher(bus)
    publisher.offer(plans)
    await publisher.flush()
    assert (await bus.read(start, 0)).events == []
    await publisher.close()



# -- an alert storm: occurrence-only changes are held back per incident ---------------------------

class Feed:
    """A publisher on an in-process bus, offered the commits of a shard."""

    def __init__(self, bus: EventBusActor, start: str, **options: Any) -> None:
        self.shard, self.inputs = Shard(), Inputs()
        self.bus, self.start = bus, start
        self.publisher = BusPublisher(bus, **options)

    @classmethod
    async def of(cls, **options: Any) -> Feed:
        bus = EventBusActor(capacity=100)
        return cls(bus, await bus.tail(), **options)

    def commit(self, *inputs: AlertEvent | IncidentCommand) -> None:
        self.publisher.offer([committed(self.shard, *inputs)])

    def trigger(self, *keys: str) -> None:
        """One commit of a trigger with each key."""
        self.commit(*[self.inputs.alert(Action.TRIGGER, key) for key in keys])

    async def published(self) -> list[dict[str, Any]]:
        """The data of each event so far, a gap as {"gap": True}."""
        events = (await self.bus.read(self.start, 0, limit=1000)).events
        return [{"gap": True} if e.kind == "gap" else orjson.loads(e.data) for e in events]


async def test_occurrences_of_an_incident_within_the_hold_go_out_once_newest_with_every_entry_counted() -> None:
    storm = await Feed.of(occurrence_hold_s=60)
    storm.trigger("a")  # opened: at once
    storm.trigger("a")
    storm.trigger("a")
    # alerts from two sources in turn: an entry each
    storm.commit(*[storm.inputs.alert(Action.TRIGGER, "a", source=f"host-{n % 2}") for n in range(150)])
    await asyncio.sleep(0.2)

    [opened] = await storm.published()
    assert opened["incident"]["occurrences"] == 1  # the rest is held

    await storm.publisher.flush()
    [_, held] = await storm.published()
    assert held["incident"]["occurrences"] == 153
    assert len(held["entries"]) == feed.MAX_ENTRIES and held["entries_omitted"] == 152 - feed.MAX_ENTRIES
    assert held["entries"][-1]["message"] == "occurrence 153"
    await storm.publisher.close()


async def test_an_acknowledge_goes_out_at_once_with_the_held_entries_before_its_own() -> None:
    storm = await Feed.of(occurrence_hold_s=60)
    storm.trigger("a", "b")
    storm.trigger("a", "b")
    storm.trigger("a")
    incident_id = storm.shard.open_incident("a").id
    assert incident_id is not None
    storm.commit(storm.inputs.command(incident_id, Action.ACKNOWLEDGE))
    await asyncio.sleep(0.2)

    [_, _, acknowledged] = await storm.published()  # without a flush: it did not wait
    assert acknowledged["incident"]["status"] == "acknowledged" and acknowledged["incident"]["occurrences"] == 3
    assert [(e["kind"], e["message"]) for e in acknowledged["entries"]] == [
        ("occurrence", "occurrence 2"), ("occurrence", "occurrence 3"), ("acknowledged", "acknowledged by alice")]

    await storm.publisher.flush()
    # b's occurrence was held on; nothing of a older than its acknowledge came after it
    assert [(m["incident"]["dedup_key"], m["incident"]["occurrences"]) for m in await storm.published()] == [
        ("a", 1), ("b", 1), ("a", 3), ("b", 2)]
    await storm.publisher.close()


async def test_held_changes_go_out_when_the_hold_expires() -> None:
    storm = await Feed.of(occurrence_hold_s=0.5)
    storm.trigger("a")
    await asyncio.sleep(0.1)
    storm.trigger("a")
    await asyncio.sleep(0.1)
    storm.trigger("a")
    await asyncio.sleep(0.05)
    assert len(await storm.published()) == 1

    await asyncio.sleep(0.6)
    [_, later] = await storm.published()
    assert later["incident"]["occurrences"] == 3 and len(later["entries"]) == 2
    assert storm.publisher.stats["published"] == 2
    await storm.publisher.close()


async def test_closing_publishes_what_is_held() -> None:
    storm = await Feed.of(occurrence_hold_s=60)
    storm.trigger("a")
    storm.trigger("a")
    await asyncio.sleep(0.1)
    await storm.publisher.close()
    assert [m["incident"]["occurrences"] for m in await storm.published()] == [1, 2]


async def test_a_gap_stands_in_order_and_what_was_held_before_it_is_left_to_the_reload() -> None:
    storm = await Feed.of(max_waiting=2, occurrence_hold_s=60)
    storm.trigger("a")
    storm.trigger("a")
    await asyncio.sleep(0.1)  # both published or held
    for key in ("b", "c", "d"):  # offered without yielding: d is dropped
        storm.trigger(key)
    await storm.publisher.flush()
    storm.trigger("a")
    await storm.publisher.flush()

    found = await storm.published()
    # A reader reloads at the gap, which shows a's held occurrence: said after the gap it could
    # be older than what the reload showed. a's next occurrence is newer than the reload.
    assert [m.get("gap") or m["incident"]["dedup_key"] for m in found] == ["a", "b", "c", True, "a"]
    assert found[-1]["incident"]["occurrences"] == 3
    assert [e["message"] for e in found[-1]["entries"]] == ["occurrence 3"]
    await storm.publisher.close()
