"""`GET /metrics` in the Prometheus text format.

Whichever gateway replica answers a scrape reports the whole deployment, so a scrape through
the load balancer is always complete: the counts come from the shards (each the only writer
of its services) and the channel actors (each the only sender for its channel), what routing
rules did from the running totals every gateway adds to in Postgres (actors/rule_tally.py,
a few seconds behind), and the gauges from Postgres. Nothing here is counted per replica.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from tocsin.actors.domain.channels import CHANNELS
from tocsin.actors.domain.measures import NO_INTEGRATION, Histogram
from tocsin.actors.store import metrics as store
from tocsin.actors.store import notifications as notification_store
from tocsin.actors.store import rules as rule_store
from tocsin.serve.api.channels import channel_state
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter()

# What a channel actor counts, as the outcome label of tocsin_notifications_total.
NOTIFICATION_OUTCOMES = ("sent", "bundled", "retried", "dead", "cancelled", "throttled")
BREAKER_STATES = ("closed", "open", "half_open")


@router.get("/metrics", include_in_schema=False)
async def metrics(runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    snapshot = await _gather(runtime)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_OneScrape(snapshot))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def _gather(runtime: GatewayRuntime) -> dict[str, Any]:
    async def from_database() -> dict[str, Any]:
        async with runtime.database.connection() as conn:
            return {
                "incidents": await store.incidents_by_status(conn),
                "waiting": await notification_store.counts_by_channel(conn),
                "integration_types": await store.integration_types(conn),
                "rule_totals": await rule_store.totals(conn),
            }

    database, shards, channels = await asyncio.gather(
        from_database(),
        runtime.shards.stats_of_each(),
        asyncio.gather(*(channel_state(runtime, c) for c in CHANNELS)),
    )
    return {**database, "shards": shards, "channels": channels}


class _OneScrape:
    """A collector for one scrape's snapshot (prometheus_client's custom-collector protocol)."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot
        shards = [s for s in snap["shards"] if s is not None]
        yield _alerts_in(shards, snap["integration_types"])
        yield _gauge("tocsin_incidents", "Incidents by state.", "state", snap["incidents"])
        yield from _shard_metrics(snap["shards"])
        yield from _response_times(shards)
        yield from _channel_metrics(snap["channels"], snap["waiting"])
        yield from _rule_metrics(snap["rule_totals"])


def _alerts_in(shards: list[dict[str, Any]], types: dict[str, str]) -> Metric:
    by_source: Counter[str] = Counter()
    for shard in shards:
        for integration_id, count in shard["measures"]["alerts_by_integration"].items():
            source = "none" if integration_id == NO_INTEGRATION else types.get(integration_id, "deleted")
            by_source[source] += count
    family = CounterMetricFamily("tocsin_alerts", "Alerts taken in durably, by kind of source.", labels=["source"])
    for source, count in sorted(by_source.items()):
        family.add_metric([source], count)
    return family


def _shard_metrics(shards: list[dict[str, Any] | None]) -> Iterator[Metric]:
    up = GaugeMetricFamily("tocsin_shard_up", "1 when the shard answered this scrape.", labels=["shard"])
    open_incidents = GaugeMetricFamily("tocsin_shard_open_incidents", "Open incidents held in memory.",
                                       labels=["shard"])
    batch = HistogramMetricFamily("tocsin_shard_batch_size", "Inputs per committed transaction.",
                                  labels=["shard"])
    commit = HistogramMetricFamily("tocsin_shard_commit_seconds", "Time to plan and commit one batch.",
                                   labels=["shard"])
    for index, shard in enumerate(shards):
        up.add_metric([str(index)], 0 if shard is None else 1)
        if shard is None:
            continue
        open_incidents.add_metric([str(index)], shard["open_incidents"])
        _add_histogram(batch, [str(index)], shard["measures"]["batch_size"])
        _add_histogram(commit, [str(index)], shard["measures"]["commit_seconds"])
    yield from (up, open_incidents, batch, commit)


def _response_times(shards: list[dict[str, Any]]) -> Iterator[Metric]:
    for key, name, doc in (
        ("seconds_to_acknowledge", "tocsin_incident_acknowledge_seconds", "From trigger to acknowledgement (MTTA)."),
        ("seconds_to_resolve", "tocsin_incident_resolve_seconds", "From trigger to resolution (MTTR)."),
    ):
        family = HistogramMetricFamily(name, doc)
        if shards:
            _add_histogram(family, [], Histogram.merge([s["measures"][key] for s in shards]))
        yield family


def _channel_metrics(channels: list[dict[str, Any]], waiting: dict[str, dict[str, int]]) -> Iterator[Metric]:
    up = GaugeMetricFamily("tocsin_channel_up", "1 when the channel's actor answered this scrape.",
                           labels=["channel"])
    outcomes = CounterMetricFamily("tocsin_notifications", "Notifications handled by a channel, by outcome.",
                                   labels=["channel", "outcome"])
    breakers = GaugeMetricFamily("tocsin_breaker_state", "1 for the state each provider's circuit breaker is in.",
                                 labels=["channel", "provider", "state"])
    for state in channels:
        channel = state["channel"]
        up.add_metric([channel], 1 if state["running"] else 0)
        for outcome in NOTIFICATION_OUTCOMES if state["running"] else ():
            outcomes.add_metric([channel, outcome], state.get(outcome, 0))
        for provider in state["providers"]:
            for breaker_state in BREAKER_STATES:
                breakers.add_metric([channel, provider["name"], breaker_state],
                                    1 if provider["state"] == breaker_state else 0)
    queued = GaugeMetricFamily("tocsin_notifications_waiting", "Notifications not yet delivered, by status.",
                               labels=["channel", "status"])
    for channel, counts in sorted(waiting.items()):
        for status, count in sorted(counts.items()):
            queued.add_metric([channel, status], count)
    yield from (up, outcomes, breakers, queued)


def _rule_metrics(totals: dict[tuple[str, str], int]) -> Iterator[Metric]:
    matches = CounterMetricFamily("tocsin_rule_matches", "Alerts each routing rule matched.", labels=["rule"])
    dropped = CounterMetricFamily(
        "tocsin_alerts_dropped", "Alerts dropped by routing rules: by a service's rules or a router's catch-all.",
        labels=["by", "id"])
    for (what, subject), count in sorted(totals.items()):
        if what == "matched":
            matches.add_metric([subject], count)
        else:
            dropped.add_metric(["service_rules" if what == "dropped_by_rules" else "catch_all", subject], count)
    yield from (matches, dropped)


def _gauge(name: str, doc: str, label: str, values: dict[str, int]) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for value, count in sorted(values.items()):
        family.add_metric([value], count)
    return family


def _add_histogram(family: HistogramMetricFamily, labels: list[str], snapshot: dict[str, Any]) -> None:
    family.add_metric(labels, list(_cumulative(snapshot)), snapshot["sum"])


def _cumulative(snapshot: dict[str, Any]) -> Iterable[tuple[str, float]]:
    running = 0
    for bound, count in zip([*map(str, snapshot["bounds"]), "+Inf"], snapshot["counts"]):
        running += count
        yield bound, running
