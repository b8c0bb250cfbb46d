"""The shards and the API wake channel actors by name: each is looked up once, and a channel
with no actor is looked up again only after a while; inside an event loop a lookup never
holds the loop up, and a shard looks its channels up ahead."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tocsin.actors import nudger as nudger_module
from tocsin.actors.nudger import ChannelNudger


class Handle:
    def __init__(self) -> None:
        self.nudged = 0
        self.nudge = self

    def remote(self) -> None:
        self.nudged += 1


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    found: dict[str, Any] = {"calls": [], "actors": {"tocsin-channel-sms": Handle()}}

    def get_actor(name: str, namespace: str) -> Handle:
        found["calls"].append((name, namespace))
        if name not in found["actors"]:
            raise ValueError(f"no actor {name}")
        return found["actors"][name]  # type: ignore[no-any-return]

    monkeypatch.setattr(nudger_module.ray, "get_actor", get_actor)
    return found


def test_a_running_channel_is_looked_up_once_and_nudged_every_time(lookups: dict[str, Any]) -> None:
    nudger = ChannelNudger("tocsin")

    for _ in range(3):
        nudger.nudge(["sms"])

    assert lookups["calls"] == [("tocsin-channel-sms", "tocsin")]
    assert lookups["actors"]["tocsin-channel-sms"].nudged == 3


def test_a_channel_without_an_actor_is_asked_again_only_after_a_while(lookups: dict[str, Any]) -> None:
    nudger = ChannelNudger("tocsin", retry_s=0.0)
    slow = ChannelNudger("tocsin", retry_s=3600.0)

    slow.nudge(["push"])
    slow.nudge(["push"])
    nudger.nudge(["push"])
    lookups["actors"]["tocsin-channel-push"] = Handle()  # a provider was configured, its actor started
    nudger.nudge(["push"])

    assert [c for c in lookups["calls"]] == [("tocsin-channel-push", "tocsin")] * 3
    assert lookups["actors"]["tocsin-channel-push"].nudged == 1


async def test_in_an_event_loop_the_lookup_runs_aside_and_the_nudge_follows_it(
        lookups: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    nudger = ChannelNudger("tocsin")
    looked_up_in: list[bool] = []
    lookup = nudger_module.ray.get_actor

    def get_actor(name: str, namespace: str) -> Any:
        try:
            asyncio.get_running_loop()
            looked_up_in.append(True)  # on the event loop: it would stand still meanwhile
        except RuntimeError:
            looked_up_in.append(False)
        return lookup(name, namespace)

    monkeypatch.setattr(nudger_module.ray, "get_actor", get_actor)
    nudger.nudge(["sms"])
    nudger.nudge(["sms"])  # while the lookup is under way: one nudge once found
    handle = lookups["actors"]["tocsin-channel-sms"]
    assert handle.nudged == 0

    await _until(lambda: handle.nudged == 1)
    nudger.nudge(["sms"])

    assert looked_up_in == [False]
    assert handle.nudged == 2
    await nudger.close()


async def test_warming_looks_channels_up_ahead_without_nudging(lookups: dict[str, Any]) -> None:
    nudger = ChannelNudger("tocsin")

    nudger.warm(["sms", "push"])
    await _until(lambda: len(lookups["calls"]) == 2 and not nudger._looking)
    nudger.nudge(["sms", "push"])

    assert sorted(lookups["calls"]) == [("tocsin-channel-push", "tocsin"), ("tocsin-channel-sms", "tocsin")]
    assert lookups["actors"]["tocsin-channel-sms"].nudged == 1


async def test_a_failed_lookup_is_tried_again_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def get_actor(name: str, namespace: str) -> Handle:
        calls.append(name)
        raise ConnectionError("the control store is away")

    monkeypatch.setattr(nudger_module.ray, "get_actor", get_actor)
    nudger = ChannelNudger("tocsin", retry_s=3600.0)

    nudger.nudge(["sms"])
    await _until(lambda: not nudger._looking)
    nudger.nudge(["sms"])

    assert calls == ["tocsin-channel-sms"]


async def _until(done: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not done():
        assert asyncio.get_running_loop().time() < deadline, "not done in time"
        await asyncio.sleep(0.01)


async def test_warming_finds_a_channel_actor_that_starts_later(
        lookups: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nudger_module, "WARM_RETRY_S", 0.01)
    nudger = ChannelNudger("tocsin", retry_s=3600.0)

    nudger.warm(["push"])
    await _until(lambda: len(lookups["calls"]) >= 2)  # not found, looked up again
    lookups["actors"]["tocsin-channel-push"] = Handle()  # its actor started after the shard
    await _until(lambda: nudger._warming is not None and nudger._warming.done())
    nudger.nudge(["push"])

    assert lookups["actors"]["tocsin-channel-push"].nudged == 1
