"""The gateway's CPU per alert, by step, in this process: no HTTP, Ray or database, so that it
can be compared before and after a change on a busy machine (process time, best of 7 rounds).

Per format, what a request's route does with its body: read and validate it, make the alert
events (Alertmanager: a notification of 100 alerts, as the storm sends; PagerDuty: one event;
generic: an array of 100 alerts); then, for the Alertmanager batch, what carries it to a shard:
making its text storable, the batcher toward its shard (four requests at a time, their
results handed back), the batch as columns pickled as Ray pickles a call's arguments, and
the shard's unpickling back into events.

    python3 benchmarks/gateway_cpu.py
"""

from __future__ import annotations

import asyncio
import json
import pickle
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ray import cloudpickle

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tocsin.actors.batcher import Batcher  # noqa: E402
from tocsin.actors.domain.input_batch import InputBatch  # noqa: E402
from tocsin.actors.domain.storable import storable_input  # noqa: E402
from tocsin.actors.store.services import IntegrationKey  # noqa: E402
from tocsin.serve.ingest import generic, pagerduty  # noqa: E402
from tocsin.serve.ingest.alert_receiver import json_events  # noqa: E402
from tocsin.serve.ingest.common import parse_json  # noqa: E402
from tocsin.serve.ingest.formats import ALERTMANAGER  # noqa: E402
from tests.e2e.alert_payloads import am_alert, am_notification  # noqa: E402

NOW = datetime.now(timezone.utc)
BATCH = 100
ROUNDS = 7


def best_us(step: Callable[[], Any], calls: int, per: int) -> float:
    """Microseconds of process time per item (`per` items a call), best of ROUNDS rounds."""
    step()
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(calls):
            step()
        best = min(best, (time.process_time() - started) / calls)
    return best / per * 1e6


def integration(kind: str) -> IntegrationKey:
    return IntegrationKey("int-1", "svc-1", kind, False, {})


def batcher_us(items: list[Any]) -> float:
    """Per item, four requests' items through one Batcher whose call answers at once."""
    async def measure() -> float:
        async def call(batch: list[Any]) -> list[Any]:
            return batch

        batcher = Batcher[Any, Any](call, max_items=500, max_delay_s=0.0005, max_in_flight=2)

        async def four() -> None:
            await asyncio.gather(*(batcher.submit_many(items) for _ in range(4)))

        await four()
        best = float("inf")
        for _ in range(ROUNDS):
            started = time.process_time()
            for _ in range(50):
                await four()
            best = min(best, (time.process_time() - started) / (50 * 4 * len(items)))
        return best * 1e6

    return asyncio.run(measure())


def main() -> None:
    am_body = json.dumps(am_notification(*[am_alert(f"web-{i}.checkout.svc:8080") for i in range(BATCH)])).encode()
    events = json_events(ALERTMANAGER, am_body, integration("alertmanager"), NOW)
    carried = cloudpickle.dumps(InputBatch.of(events), protocol=5)
    pd_body = json.dumps({"routing_key": "0" * 32, "event_action": "trigger", "dedup_key": "disk-web-1",
                          "payload": {"summary": "Disk full on web-1", "source": "web-1", "severity": "critical",
                                      "custom_details": {"free": "1%"}}}).encode()
    generic_body = json.dumps([{"summary": f"Disk full on web-{i}", "severity": "critical", "host": f"web-{i}",
                                "id": f"disk-{i}", "extra": {"free": "1%"}} for i in range(BATCH)]).encode()

    def pd_event() -> Any:
        event = pagerduty.read_event(pd_body)
        return pagerduty.to_event(event, event.dedup_key or "", integration("pagerduty"), NOW)

    steps = [
        ("Alertmanager: read, validate, make events", best_us(
            lambda: json_events(ALERTMANAGER, am_body, integration("alertmanager"), NOW), 60, BATCH)),
        ("Alertmanager: storable text", best_us(lambda: [storable_input(e) for e in events], 300, BATCH)),
        ("Alertmanager: through the batcher", batcher_us(events)),
        ("Alertmanager: batch as columns, pickled (gateway)", best_us(
            lambda: cloudpickle.dumps(InputBatch.of(events), protocol=5), 300, BATCH)),
        ("Alertmanager: unpickled into events (shard)", best_us(lambda: pickle.loads(carried).inputs(), 300, BATCH)),
        ("PagerDuty: read, validate, make the event", best_us(pd_event, 3000, 1)),
        ("generic: read, validate, make events", best_us(
            lambda: generic.events_of_body(parse_json(generic_body), integration("generic"), NOW), 60, BATCH)),
    ]
    width = max(len(name) for name, _ in steps)
    for name, us in steps:
        print(f"{name:<{width}}  {us:6.2f} µs per alert")


if __name__ == "__main__":
    main()
