"""Alerts for the demo, as Prometheus' Alertmanager sends them: webhook notifications (version 4)
to the demo services' Alertmanager integrations, over the same ingestion route any Alertmanager
uses. A gentle stream of single alerts, now and then a short storm (one alert on many
instances at once, grouped in one notification), and each alert resolved a few minutes after
it fired. It runs on a thread of its own until `stop`."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tocsin.cluster.demo.org import Source
from tocsin.serve.ingest.prometheus_alerts import label_fingerprint

log = logging.getLogger(__name__)

HEADERS = {"User-Agent": "Alertmanager/0.27.0"}
NOT_ENDED = "0001-01-01T00:00:00Z"
STORM_CHANCE = 0.05  # of a tick starting a storm
STORM_SIZE = (8, 20)  # instances in a storm
RESOLVE_AFTER_S = (180.0, 900.0)  # how long an alert fires before it resolves

# Per service: (alertname, severity, summary with {instance}, description).
CATALOGUE: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "checkout-api": (
        ("HighRequestLatency", "critical", "p99 latency above 1s on {instance}", "histogram_quantile(0.99, ...) > 1"),
        ("HighErrorRate", "critical", "5xx responses above 5% on {instance}", "rate of 5xx over 5 minutes"),
        ("PodCrashLooping", "warning", "{instance} restarted 4 times in 10 minutes", "kube_pod_container_status"),
    ),
    "payments-db": (
        ("ReplicationLag", "critical", "replica {instance} is 45s behind the primary", "pg_replication_lag > 30"),
        ("DiskSpaceLow", "warning", "data disk 91% full on {instance}", "node_filesystem_avail_bytes"),
        ("TooManyConnections", "warning", "{instance} at 92% of max_connections", "pg_stat_activity"),
    ),
    "web-frontend": (
        ("CDNOriginErrors", "critical", "the CDN gets 502s from origin {instance}", "cdn_origin_5xx_ratio > 0.02"),
        ("SlowPageLoad", "warning", "largest contentful paint above 4s via {instance}", "rum_lcp_p75"),
        ("CertificateExpiringSoon", "info", "the TLS certificate of {instance} expires in 12 days", "x509"),
    ),
}


@dataclass
class _Firing:
    source: Source
    alert: dict[str, Any]
    group: str
    resolve_at: float


class Generator:
    def __init__(self, sources: list[Source], per_minute: float, seed: int | None = None) -> None:
        self._sources = [source for source in sources if source.service in CATALOGUE]
        self._interval_s = 60.0 / per_minute
        self._random = random.Random(seed)
        self._firing: list[_Firing] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-alerts", daemon=True)
        self.sent = 0  # notifications taken

    def start(self) -> Generator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(35)

    def _run(self) -> None:
        with httpx.Client(headers=HEADERS, timeout=30) as http:
            while not self._stopped.is_set():
                self._tick(http)
                self._stopped.wait(self._interval_s * self._random.uniform(0.5, 1.5))

    def _tick(self, http: httpx.Client) -> None:
        now = time.monotonic()
        due = [firing for firing in self._firing if firing.resolve_at <= now]
        self._firing = [firing for firing in self._firing if firing.resolve_at > now]
        for firing in due:
            self._send(http, firing.source, firing.group, [_resolved(firing.alert)])
        source = self._random.choice(self._sources)
        name, severity, summary, description = self._random.choice(CATALOGUE[source.service])
        size = self._random.randint(*STORM_SIZE) if self._random.random() < STORM_CHANCE else 1
        alerts = [_alert(source.service, name, severity, summary, description, self._instance(source.service, size, i))
                  for i in range(size)]
        if self._send(http, source, name, alerts):
            resolve_at = now + self._random.uniform(*RESOLVE_AFTER_S)
            self._firing += [_Firing(source, alert, name, resolve_at) for alert in alerts]

    def _instance(self, service: str, size: int, index: int) -> str:
        return f"{service}-{index if size > 1 else self._random.randint(0, 5)}"

    def _send(self, http: httpx.Client, source: Source, group: str, alerts: list[dict[str, Any]]) -> bool:
        try:
            response = http.post(source.url, json=_notification(group, alerts))
        except httpx.HTTPError as exc:
            log.warning("demo alerts: %s did not take a notification: %r", source.service, exc)
            return False
        if not response.is_success:
            log.warning("demo alerts: %s answered HTTP %s: %s", source.service, response.status_code, response.text)
            return False
        self.sent += 1
        return True


def _alert(service: str, name: str, severity: str, summary: str, description: str, instance: str) -> dict[str, Any]:
    labels = {"alertname": name, "instance": instance, "job": service, "service": service, "severity": severity}
    return {
        "status": "firing", "labels": labels,
        "annotations": {"summary": summary.format(instance=instance), "description": description,
                        "runbook_url": f"https://runbooks.{service}.example/{name}"},
        "startsAt": _now(), "endsAt": NOT_ENDED,
        "generatorURL": f"http://prometheus.{service}.example:9090/graph?g0.expr={name}",
        "fingerprint": label_fingerprint(labels),
    }


def _resolved(alert: dict[str, Any]) -> dict[str, Any]:
    return {**alert, "status": "resolved", "endsAt": _now()}


def _notification(group: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    firing = any(alert["status"] == "firing" for alert in alerts)
    common = {k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)}
    return {
        "receiver": "tocsin", "status": "firing" if firing else "resolved", "alerts": alerts,
        "groupLabels": {"alertname": group}, "commonLabels": common, "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093", "version": "4",
        "groupKey": f'{{}}:{{alertname="{group}"}}', "truncatedAlerts": 0,
    }


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
