"""Routing rules: evaluation cost per alert with 0, 10 and 100 rules.

    python3 benchmarks/rules.py [--alerts 2000] [--rounds 7]

Pure computation, no database: Alertmanager-shaped alerts (as the gateway stores one alert of a
notification: labels, annotations, receiver, status, fingerprint…) from a seeded generator, and
rule sets drawn from a seeded mix of the tests rules are made of: labels.alertname equals a name
(a third of them with a second test, labels.env equals prod), labels.team or labels.namespace in
a set of three, labels.instance starts with a prefix, an RE2 pattern on labels.alertname or
labels.instance, and some any / not combinations; most of them match no alert. Each figure is
the median, over `--rounds` rounds, of the time to evaluate every alert once, per alert, worked
out afresh each time (`decide`: a rule set remembers its decisions for the alerts it meets
again, which benchmarks/ruling_cpu.py measures); compiling the rules and building the views are
not in it (building a view is its own row). For comparison: the same 100 rules tested one after
another without the dispatch index, and sets of 100 alike rules, `contains` tests (which the
index answers) and `not` tests (which it cannot, so all of them are tested for every alert).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tocsin.actors.domain.rules import (  # noqa: E402
    AlertView, ServiceRules, compile_router_rules, compile_service_rules, evaluate, view_of,
)
from benchmarks.harness import record  # noqa: E402

console = Console()
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=timezone.utc)

ALERTNAMES = ["HighCPU", "DiskFull", "InstanceDown", "HighLatency", "ErrorRateHigh", "MemoryPressure",
              "KubePodCrashLooping", "KubeDeploymentReplicasMismatch", "NodeFilesystemAlmostOutOfSpace",
              "TargetDown", "CertificateExpiring", "PostgresReplicationLag", "RedisDown", "QueueBacklog"]
ROLES = ["web", "api", "db", "cache", "worker", "ingest"]
TEAMS = ["payments", "search", "platform", "storage", "identity", "growth"]
NAMESPACES = ["default", "checkout", "search", "monitoring", "kube-system", "batch"]
CLUSTERS = ["eu-west-1", "eu-central-1", "us-east-1", "ap-south-1"]


def alert_payload(rng: random.Random) -> dict[str, Any]:
    name, role = rng.choice(ALERTNAMES), rng.choice(ROLES)
    cluster = rng.choice(CLUSTERS)
    instance = f"{role}-{rng.randrange(40):02d}.{cluster}.example.com:9100"
    labels = {"alertname": name, "instance": instance, "job": f"{role}-exporter", "severity":
              rng.choice(["critical", "warning", "info"]), "cluster": cluster, "namespace": rng.choice(NAMESPACES),
              "team": rng.choice(TEAMS), "env": rng.choice(["prod", "prod", "staging"])}
    return {"receiver": "tocsin", "externalURL": "http://alertmanager:9093", "groupKey": "{}:{alertname=\"x\"}",
            "status": "firing", "labels": labels,
            "annotations": {"summary": f"{name} on {instance}", "description": f"{name} has fired for 5 minutes"},
            "startsAt": "2026-03-04T10:25:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": f"{rng.getrandbits(64):016x}"}


def view(payload: dict[str, Any]) -> AlertView:
    labels = payload["labels"]
    return view_of("alertmanager", payload, summary=payload["annotations"]["summary"], severity=labels["severity"],
                   source=labels["instance"], dedup_key=f"am:{payload['fingerprint']}", action="trigger")


def condition(rng: random.Random) -> dict[str, Any]:
    """One rule's condition from the mix; names and prefixes are mostly ones no alert has."""
    unknown = f"Legacy{rng.randrange(10_000)}"
    kind = rng.choices(["equals", "in", "starts_with", "matches", "combined"], [35, 20, 20, 15, 10])[0]
    if kind == "equals":
        test = {"field": "labels.alertname", "op": "equals",
                "value": rng.choice(ALERTNAMES) if rng.random() < 0.1 else unknown}
        if rng.random() < 1 / 3:
            return {"all": [test, {"field": "labels.env", "op": "equals", "value": "prod"}]}
        return test
    if kind == "in":
        field = rng.choice(["labels.team", "labels.namespace"])
        return {"field": field, "op": "in", "values": [f"{unknown}-{n}" for n in range(3)]}
    if kind == "starts_with":
        return {"field": "labels.instance", "op": "starts_with",
                "value": rng.choice(["db-0", "legacy-", "old-", "tmp-", "bastion-"])}
    if kind == "matches":
        field, pattern = rng.choice([
            ("labels.alertname", f"^(Kube|Node){unknown}[A-Z][a-z]+$"),
            ("labels.instance", rf"^(db|cache)-{rng.randrange(100, 999)}\.[a-z-]+[0-9]\.example\.com"),
            ("labels.alertname", rf"{unknown}(Warning|Critical)?$"),
        ])
        return {"field": field, "op": "matches", "value": pattern}
    return {"any": [{"field": "labels.cluster", "op": "equals", "value": f"{unknown}-1"},
                    {"all": [{"field": "labels.job", "op": "starts_with", "value": unknown},
                             {"not": {"field": "labels.severity", "op": "equals", "value": "info"}}]}]}


def service_rules(count: int, rng: random.Random) -> list[dict[str, Any]]:
    actions = [{"severity": "critical"}, {"summary": "{{labels.alertname}} on {{labels.instance}}"},
               {"suppress": True}, {"pause_minutes": 5}, {"dedup_key": "{{labels.alertname}}/{{labels.cluster}}"},
               {"tags": ["{{labels.team}}"], "details": {"runbook": "https://wiki/{{labels.alertname}}"}}]
    return [{"id": f"rule-{n}", "conditions": condition(rng), "actions": rng.choice(actions),
             "continue": rng.random() < 0.2} for n in range(count)]


def routes(count: int, rng: random.Random) -> list[dict[str, Any]]:
    return [{"id": f"route-{n}", "conditions": condition(rng), "route_to": f"service-{n % 7}"} for n in range(count)]


class Naive:
    """The same rules tested one by one in order, each by its whole condition (no dispatch index)."""

    def __init__(self, rules: ServiceRules) -> None:
        self.rules = [rule for rule in rules.rules if rule.enabled]

    def evaluate(self, view: AlertView, now: datetime) -> list[str]:
        matched = []
        for rule in self.rules:
            if rule.condition.test(view, now):
                matched.append(rule.id)
                if not rule.go_on:
                    break
        return matched


def per_alert_us(work: Callable[[], Any], alerts: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times) / alerts * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(15)
    payloads = [alert_payload(rng) for _ in range(args.alerts)]
    views = [view(payload) for payload in payloads]
    rows: list[tuple[str, str, str, str]] = []

    def run(evaluator: Any) -> Callable[[], None]:
        def each() -> None:
            for alert in views:
                evaluator.decide(alert, NOW)
        return each

    build_us = per_alert_us(lambda: [view(payload) for payload in payloads], args.alerts, args.rounds)
    rows.append(("building the view (view_of)", "—", f"{build_us:.2f}", "—"))
    for count in (0, 10, 100):
        rules = compile_service_rules(service_rules(count, random.Random(count)))
        share = matched_share(rules, views)
        rows.append(("service rules", f"{count}", f"{per_alert_us(run(rules), args.alerts, args.rounds):.2f}", share))
    naive = Naive(rules)
    assert all(naive.evaluate(alert, NOW) == list(evaluate(rules, alert, NOW).matched) for alert in views)
    naive_us = per_alert_us(lambda: [naive.evaluate(alert, NOW) for alert in views], args.alerts, args.rounds)
    rows.append(("the same 100, each rule tested in turn (no index)", "100", f"{naive_us:.2f}", share))
    for what, test in (
        ("100 rules testing annotations.summary contains a text, none matching",
         lambda n: {"field": "annotations.summary", "op": "contains", "value": f"Legacy{n}"}),
        ("100 rules the index cannot answer (not labels.env in [...], none matching)",
         lambda n: {"not": {"field": "labels.env", "op": "in", "values": ["prod", "staging", f"env-{n}"]}}),
    ):
        alike = compile_service_rules([{"id": f"rule-{n}", "conditions": test(n)} for n in range(100)])
        rows.append((what, "100", f"{per_alert_us(run(alike), args.alerts, args.rounds):.2f}",
                     matched_share(alike, views)))
    router = compile_router_rules(routes(100, random.Random(100)), {"route_to": "catch-all"})
    routed = sum(1 for alert in views if not evaluate(router, alert, NOW).by_catch_all)
    rows.append(("router rules", "100", f"{per_alert_us(run(router), args.alerts, args.rounds):.2f}",
                 f"{routed / len(views):.0%}"))
    show(rows, args)


def matched_share(rules: ServiceRules, views: Sequence[AlertView]) -> str:
    return f"{sum(1 for alert in views if evaluate(rules, alert, NOW).matched) / len(views):.0%}"


def show(rows: Sequence[tuple[str, str, str, str]], args: argparse.Namespace) -> None:
    header = ("what", "rules", "µs per alert", "alerts matched by a rule")
    table = Table(title="Rule evaluation per alert (compile excluded)")
    for name in header:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    service_100 = next(float(row[2]) for row in rows if row[:2] == ("service rules", "100"))
    verdict = "met" if service_100 <= 10 else "NOT met"
    markdown = "\n".join([
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        f"Target ≤ 10 µs per alert with 100 service rules: {verdict} ({service_100:.2f} µs).",
        "",
        f"{args.alerts:,} Alertmanager-shaped alerts (seeded), each evaluated once per round; median of"
        f" {args.rounds} rounds, in one process. Rules drawn from a seeded mix: labels.alertname equals a name"
        " (a third with labels.env equals prod too), labels.team or labels.namespace in a set of three,"
        " labels.instance starts with a prefix, an RE2 pattern on labels.alertname or labels.instance, and"
        " any/not combinations; a fifth of the service rules say continue. Compiling the rules is not"
        " measured; building the views is, in its own row. \"No index\" tests the same compiled conditions one"
        " rule after another (it matched the same rules for every alert). The last rows are sets of 100 alike"
        " rules: `contains` tests, which the index answers in one RE2 pass, and `not` tests, which it cannot"
        " answer, so every one of them is tested for every alert.",
    ])
    record("Rules (benchmarks/rules.py)", "python3 benchmarks/rules.py", markdown)


if __name__ == "__main__":
    main()
