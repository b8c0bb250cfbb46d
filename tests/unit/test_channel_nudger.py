"""The shards and the API wake channel actors by name: each is looked up once, and a channel
with no actor is looked up again only after a while."""

from __future__ import annotations

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
