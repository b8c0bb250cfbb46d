"""The gateway's CPU per alert in the routing rules, in this process: `Ruling.ruled` on the
storm's requests, with and without the storm's rules (benchmarks/storm_rules.py), so that a
change can be compared before and after on a busy machine (process time, best of `--rounds`).

The storm's alerts: 1,000 distinct firing Alertmanager alerts (fleet web-0 … web-999) in
notifications of 100, read and made into events as the gateway makes them (not measured). The
rules: a router of 25 routes, the last sending them to a service of 25 rules, 3 of which match
each alert (a runbook detail, two tags, the summary from its labels). Rows:

- no rules: the service has none (what the storm without rules costs here: one lookup);
- storm rules, alerts seen before: every request sent again, as the storm sends them;
- storm rules, alerts never seen: rule sets compiled afresh before each round (compiling not
  measured), so no alert's decision was made before.

    python3 benchmarks/ruling_cpu.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tocsin.actors.domain.events import ServiceInput  # noqa: E402
from tocsin.actors.domain.rules import ServiceRules, compile_service_rules  # noqa: E402
from tocsin.actors.rule_tally import RuleTally  # noqa: E402
from tocsin.actors.rulebook import Router, compile_router  # noqa: E402
from tocsin.actors.store.services import IntegrationKey  # noqa: E402
from tocsin.serve.ingest.prometheus_alerts import (  # noqa: E402
    AlertmanagerIn, AlertmanagerWire, Target, alert_events, decoded,
)
from tocsin.serve.ingest.ruling import Ruling  # noqa: E402
from benchmarks.storm_rules import matching_service_rules, other_route, other_service_rule  # noqa: E402
from tests.e2e.alert_payloads import am_alert, am_notification  # noqa: E402

NOW = datetime(2026, 3, 4, 10, 30, tzinfo=timezone.utc)
BATCH = 100
FLEET = 1000
RULES = 50
SERVICE = "svc-storm"
ROUTER = "int-router"


@dataclass
class Book:
    """What `Ruling` reads of a RuleBook: the compiled sets, held in memory."""

    routers: dict[str, Router] = field(default_factory=dict)
    services: dict[str, ServiceRules] = field(default_factory=dict)
    generation: int = 1

    def router(self, integration_id: str) -> Router | None:
        return self.routers.get(integration_id)

    def service(self, service_id: str) -> ServiceRules | None:
        return self.services.get(service_id)

    def has_service(self, service_id: str) -> bool:
        return True


def storm_router() -> Router:
    routes = [{"id": f"route-{n}", "conditions": other_route(n), "route_to": f"svc-team-{n % 3}"}
              for n in range(RULES // 2 - 1)]
    routes.append({"id": "checkout", "conditions": {"field": "labels.job", "op": "equals", "value": "checkout"},
                   "route_to": SERVICE})
    return compile_router(ROUTER, {"format": "alertmanager", "catch_all": {"drop": True}}, routes)


def storm_service_rules() -> ServiceRules:
    rules = [{"id": f"rule-{n}", **other_service_rule(n)}
             for n in range(RULES - RULES // 2 - len(matching_service_rules()))]
    rules += [{"id": rule["name"], **{k: v for k, v in rule.items() if k != "name"}}
              for rule in matching_service_rules()]
    return compile_service_rules(rules)


def requests() -> list[tuple[list[ServiceInput], list[dict[str, Any]]]]:
    """The storm's notifications, each as the gateway's events and their payloads."""
    fleet = [am_alert(f"web-{n}.checkout.svc:8080") for n in range(FLEET)]
    made = []
    for start in range(0, FLEET, BATCH):
        notification = decoded(am_notification(*fleet[start:start + BATCH]), AlertmanagerWire, AlertmanagerIn)
        events, payloads = alert_events(notification, "fingerprint", "am", Target("", ROUTER, NOW))
        made.append((list[ServiceInput](events), payloads))
    return made


def best_us(round_: Callable[[], None], rounds: int, alerts: int, before: Callable[[], None] | None = None) -> float:
    """Microseconds of process time per alert, best of `rounds` rounds (`before` each, unmeasured)."""
    best = float("inf")
    for _ in range(rounds):
        if before is not None:
            before()
        started = time.process_time()
        round_()
        best = min(best, time.process_time() - started)
    return best / alerts * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    made = requests()
    alerts = sum(len(inputs) for inputs, _ in made)
    book = Book()
    ruling = Ruling(book, RuleTally(database=None))  # type: ignore[arg-type]  # never flushed here
    direct = IntegrationKey("int-direct", SERVICE, "alertmanager", False, {})
    routed = IntegrationKey(ROUTER, "", "router", False, {"format": "alertmanager"})

    def through(integration: IntegrationKey) -> Callable[[], None]:
        def each_request() -> None:
            for inputs, payloads in made:
                loop.run_until_complete(ruling.ruled(inputs, integration, NOW, payloads))
        return each_request

    def fresh() -> None:
        book.routers[ROUTER] = storm_router()
        book.services[SERVICE] = storm_service_rules()

    rows = [("no rules", best_us(through(direct), args.rounds, alerts))]
    fresh()
    rows.append(("storm rules, alerts seen before", best_us(through(routed), args.rounds, alerts)))
    rows.append(("storm rules, alerts never seen", best_us(through(routed), args.rounds, alerts, before=fresh)))
    width = max(len(name) for name, _ in rows)
    for name, us in rows:
        print(f"{name:<{width}}  {us:6.2f} µs per alert")
    loop.close()


if __name__ == "__main__":
    main()
