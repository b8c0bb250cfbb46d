"""/metrics as Prometheus scrapes it from a running Tocsin: parseable, and moving with the work."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.client import trigger


def _scrape(anonymous: httpx.Client) -> dict[str, Any]:
    response = anonymous.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def test_metrics_follow_alerts_acknowledgements_and_resolutions(api, anonymous, new_service):
    service = new_service("metrics-checkout")
    before = _scrape(anonymous)
    alerts_key = ("tocsin_alerts_total", (("source", "pagerduty"),))

    for _ in range(3):
        assert anonymous.post("/v2/enqueue", json=trigger(service.key, dedup_key="metrics-disk")).status_code == 202
    incident = api.get("/api/v1/incidents", params={"service_id": service.id}).json()["incidents"][0]
    assert api.post(f"/api/v1/incidents/{incident['id']}/acknowledge").status_code == 200
    assert api.post(f"/api/v1/incidents/{incident['id']}/resolve").status_code == 200

    after = _scrape(anonymous)
    assert after[alerts_key] - before.get(alerts_key, 0) == 3
    for histogram in ("tocsin_incident_acknowledge_seconds_count", "tocsin_incident_resolve_seconds_count"):
        assert after[(histogram, ())] - before.get((histogram, ()), 0) == 1
    assert after[("tocsin_incidents", (("state", "resolved"),))] >= 1
    shards_up = [v for (name, _), v in after.items() if name == "tocsin_shard_up"]
    assert shards_up == [1, 1]
    assert sum(v for (name, _), v in after.items() if name == "tocsin_shard_batch_size_count") >= 3


def test_metrics_are_not_in_the_api_documentation(anonymous):
    assert "/metrics" not in anonymous.get("/openapi.json").json()["paths"]
