"""ShardRouter sends the alerts of dedup keys it has not sent before in a call of their own,
which does not wait behind the call in flight to the same shard: against fake shard calls."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from typing import Any

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import Action, AlertEvent, Command, IncidentCommand, ServiceInput
from tocsin.actors.sent_keys import SentKeys
from tocsin.actors.shard_router import ShardRouter

SERVICE = str(uuid.uuid4())
WAIT_S = 5.0


def alert(key: str, action: Action = Action.TRIGGER) -> AlertEvent:
    return AlertEvent(event_id=str(uuid.uuid4()), service_id=SERVICE, integration_id=None, dedup_key=key,
                      action=action, received_at=datetime.now(timezone.utc))


def command() -> IncidentCommand:
    return IncidentCommand(command_id=str(uuid.uuid4()), service_id=SERVICE, incident_id=7,
                           action=Command.ACKNOWLEDGE, actor="someone", received_at=datetime.now(timezone.utc))


def name(item: ServiceInput) -> str:
    return item.dedup_key if isinstance(item, AlertEvent) else "command"


class Router(ShardRouter):
    """One shard, whose calls are recorded (each as the names of its inputs) and answered with
    a reply naming each input; `hold` keeps every call of the usual batcher open until set."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.hold = asyncio.Event()
        self._made = 0
        super().__init__(namespace="test", shard_count=1, max_items=500, max_delay_s=0, max_in_flight=1,
                         timeout_s=WAIT_S)

    def _caller(self, index: int) -> Any:
        usual = self._made == 0  # the usual batchers are made first, then those of openings
        self._made += 1

        async def call(items: list[ServiceInput]) -> list[Reply]:
            self.calls.append([name(item) for item in items])
            if usual:
                await self.hold.wait()
            return [Reply("ok", note=name(item)) for item in items]

        return call


async def test_the_inputs_of_keys_sent_before_go_in_one_call() -> None:
    router = Router()
    router.hold.set()
    await router.submit_many([alert("a"), alert("b")])
    router.calls.clear()

    replies = await router.submit_many([alert("b"), command(), alert("a", Action.RESOLVE)])
    assert router.calls == [["b", "command", "a"]]
    assert [r.note for r in replies] == ["b", "command", "a"]


async def test_every_alert_of_a_new_key_goes_in_the_call_of_openings_and_the_replies_keep_the_requests_order() -> None:
    router = Router()
    router.hold.set()
    await router.submit_many([alert("old")])
    router.calls.clear()

    replies = await router.submit_many([alert("old"), alert("new"), alert("old"), alert("new")])
    assert sorted(router.calls) == [["new", "new"], ["old", "old"]]
    assert [r.note for r in replies] == ["old", "new", "old", "new"]


async def test_a_request_holding_more_than_triggers_keeps_its_order_in_one_call_and_its_keys_count_as_sent() -> None:
    router = Router()
    router.hold.set()
    await router.submit_many([alert("old")])
    router.calls.clear()

    await router.submit_many([alert("new"), alert("old", Action.RESOLVE), alert("other")])
    await router.submit_many([command(), alert("third")])
    await router.submit_many([alert("new"), alert("other")])
    assert router.calls == [["new", "old", "other"], ["command", "third"], ["new", "other"]]

async def test_openings_do_not_wait_behind_the_call_of_occurrences_in_flight() -> None:
    router = Router()
    router.hold.set()
    await router.submit_many([alert("old")])
    router.hold.clear()

    occurrences = asyncio.create_task(router.submit_many([alert("old")]))
    async with asyncio.timeout(WAIT_S):
        opened = await router.submit(alert("new"))
    assert opened.note == "new" and not occurrences.done()
    router.hold.set()
    assert [r.note for r in await occurrences] == ["old"]


def test_the_keys_sent_are_bounded_the_oldest_forgotten_first() -> None:
    sent = SentKeys(capacity=2)
    assert [sent.first((SERVICE, k)) for k in ("a", "b", "a", "c")] == [True, True, False, True]
    assert len(sent) == 2
    assert sent.first((SERVICE, "a")) and not sent.first((SERVICE, "c"))
