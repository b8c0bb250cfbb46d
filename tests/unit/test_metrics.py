"""What a shard counts for /metrics, and how one scrape renders it in the Prometheus format."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tocsin.actors.domain.events import Action
from tocsin.actors.domain.measures import Histogram, ShardMeasures
from tocsin.serve.metrics import _OneScrape
from tests.unit.test_dedupe import ACK, RESOLVE, TRIGGER, Inputs, Shard


def test_histogram_counts_each_value_in_its_bucket() -> None:
    histogram = Histogram((1, 5, 10))
    for value in (0.5, 1, 3, 7, 100):
        histogram.observe(value)
    assert histogram.snapshot() == {"bounds": [1, 5, 10], "counts": [2, 1, 1, 1], "sum": 111.5, "count": 5}


def test_merged_histograms_add_up() -> None:
    one, two = Histogram((1, 5)), Histogram((1, 5))
    one.observe(0.5)
    two.observe(3)
    two.observe(9)
    merged = Histogram.merge([one.snapshot(), two.snapshot()])
    assert (merged["counts"], merged["sum"], merged["count"]) == ([1, 1, 1], 12.5, 3)


def test_a_batch_counts_alerts_by_integration_and_times_to_ack_and_resolve() -> None:
    shard, inputs, measures = Shard(), Inputs(), ShardMeasures()
    opened = shard.apply(inputs.alert(TRIGGER), inputs.alert(TRIGGER))  # one incident, two alerts
    inputs.clock.advance(118)  # each input moves the clock 1 s: acknowledged 120 s after the first trigger
    incident_id = opened.applied[0].incident.id  # type: ignore[union-attr]
    acked = shard.apply(inputs.command(incident_id, ACK))
    inputs.clock.advance(599)
    resolved = shard.apply(inputs.alert(RESOLVE))

    measures.record_batch(2, [opened], 0.004)
    measures.record_batch(1, [acked], 0.002)
    measures.record_batch(1, [resolved], 0.003)

    snap = measures.snapshot()
    assert snap["alerts_by_integration"] == {"integration-1": 3}  # the command is no alert
    assert snap["batch_size"]["count"] == 3 and snap["batch_size"]["sum"] == 4
    assert snap["seconds_to_acknowledge"]["sum"] == 120  # counted from the first trigger
    assert snap["seconds_to_resolve"]["count"] == 1 and snap["seconds_to_resolve"]["sum"] == 720


def _scrape(snapshot: dict[str, Any]) -> dict[str, Any]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_OneScrape(snapshot))
    text = generate_latest(registry).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def _shard_stats(alerts: dict[str, int], acked_after: float) -> dict[str, Any]:
    measures = ShardMeasures()
    measures.alerts_by_integration.update(alerts)
    measures.batch_size.observe(len(alerts))
    measures.commit_seconds.observe(0.01)
    measures.seconds_to_acknowledge.observe(acked_after)
    return {"open_incidents": 4, "measures": measures.snapshot()}


def test_a_scrape_sums_the_shards_and_marks_what_did_not_answer() -> None:
    snapshot = {
        "incidents": {"triggered": 3, "acknowledged": 1, "resolved": 9},
        "waiting": {"sms": {"pending": 2, "dead": 1}},
        "integration_types": {"i-pd": "pagerduty", "i-am": "alertmanager"},
        "rule_totals": {("matched", "r-db"): 5, ("dropped_by_rules", "svc-1"): 2, ("dropped_by_router", "i-am"): 3},
        "shards": [_shard_stats({"i-pd": 5, "i-am": 2}, 60), None, _shard_stats({"i-pd": 1, "gone": 4}, 600)],
        "channels": [
            {"channel": "sms", "running": True, "sent": 7, "dead": 1,
             "providers": [{"name": "twilio", "state": "open"}]},
            {"channel": "voice", "running": False, "providers": []},
        ],
    }
    families = _scrape(snapshot)

    alerts = {s.labels["source"]: s.value for s in families["tocsin_alerts"].samples if s.name.endswith("_total")}
    assert alerts == {"pagerduty": 6, "alertmanager": 2, "deleted": 4}
    states = {s.labels["state"]: s.value for s in families["tocsin_incidents"].samples}
    assert states == {"triggered": 3, "acknowledged": 1, "resolved": 9}
    assert [s.value for s in families["tocsin_shard_up"].samples] == [1, 0, 1]
    mtta = {s.name: s.value for s in families["tocsin_incident_acknowledge_seconds"].samples if not s.labels}
    assert mtta["tocsin_incident_acknowledge_seconds_count"] == 2
    assert mtta["tocsin_incident_acknowledge_seconds_sum"] == 660
    breaker = {s.labels["state"]: s.value for s in families["tocsin_breaker_state"].samples}
    assert breaker == {"closed": 0, "open": 1, "half_open": 0}
    sent = {(s.labels["channel"], s.labels["outcome"]): s.value for s in families["tocsin_notifications"].samples
            if s.name.endswith("_total")}
    assert sent[("sms", "sent")] == 7 and ("voice", "sent") not in sent
    waiting = {(s.labels["channel"], s.labels["status"]): s.value
               for s in families["tocsin_notifications_waiting"].samples}
    assert waiting == {("sms", "pending"): 2, ("sms", "dead"): 1}
    matches = {s.labels["rule"]: s.value for s in families["tocsin_rule_matches"].samples if s.name.endswith("_total")}
    assert matches == {"r-db": 5}
    dropped = {(s.labels["by"], s.labels["id"]): s.value for s in families["tocsin_alerts_dropped"].samples
               if s.name.endswith("_total")}
    assert dropped == {("service_rules", "svc-1"): 2, ("catch_all", "i-am"): 3}
