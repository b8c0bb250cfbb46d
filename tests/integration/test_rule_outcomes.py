"""What routing rules decided, through a real shard on Postgres: suppressed incidents page
nobody until an alert no rule suppresses comes, paused ones page at the end of the pause (across
a shard restart too) unless resolved first, a rule's urgency wins, and the timeline names the
rules. Business time runs 20x faster (ScaledClock)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
import ray

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.clock import ScaledClock
from tocsin.actors.domain.events import Action, AlertEvent, Urgency
from tocsin.actors.domain.rules.decision import Disposition
from tests.integration.test_escalation_restart import (
    SPEED,
    kill_and_await_restart,
    make_escalating_service,
    make_user,
    notifications,
    shard_for,
    wait_for,
)


class Service:
    """A service paging one person, with a shard of its own on a fast clock."""

    def __init__(self, database_url: str, db: Callable[..., Any]) -> None:
        self.db = db
        self.clock = ScaledClock(SPEED)
        self.user = make_user(db, "ruth")
        self.id = make_escalating_service(db, self.user)
        self.shard = shard_for(self.id, database_url, self.clock)

    def send(self, action: Action = Action.TRIGGER, key: str = "db-down", **rules: Any) -> Reply:
        [reply] = ray.get(self.shard.apply.remote([AlertEvent(
            event_id=str(uuid.uuid4()), service_id=self.id, integration_id=None, dedup_key=key,
            action=action, received_at=self.clock.now(), summary="db1 is down", **rules,
        )]), timeout=30)
        return reply

    def incident(self, incident_id: int | None) -> dict[str, Any]:
        return dict(self.db("fetchrow", "SELECT status, suppressed, paused_until, urgency, priority, tags::text,"
                                        " rule_details::text FROM incidents WHERE id = $1", incident_id))

    def timeline(self, incident_id: int | None) -> list[dict[str, Any]]:
        rows = self.db("fetch", "SELECT kind, message, rules::text, rule_effect FROM incident_log"
                                " WHERE incident_id = $1 ORDER BY id", incident_id)
        return [dict(r) for r in rows]

    def paged(self) -> int:
        return len(notifications(self.db, self.id))


@pytest.fixture
def service(ray_address: str, database_url: str, db: Callable[..., Any]) -> Iterator[Service]:
    made = Service(database_url, db)
    yield made
    ray.kill(made.shard, no_restart=True)


SUPPRESSED = {"rules": ("inhibit-dc",), "disposition": Disposition.SUPPRESS}


def test_a_suppressed_alert_opens_a_suppressed_incident_and_pages_nobody(service: Service) -> None:
    reply = service.send(**SUPPRESSED)

    assert (reply.outcome, reply.status) == ("opened", "triggered")
    row = service.incident(reply.incident_id)
    assert row["suppressed"] is True and service.paged() == 0
    timeline = service.timeline(reply.incident_id)
    assert [(e["kind"], e["rules"], e["rule_effect"]) for e in timeline] == [
        ("triggered", '["inhibit-dc"]', "suppressed"), ("suppressed", None, None)]

    assert service.send(Action.ACKNOWLEDGE).outcome == "acknowledged"  # acknowledged like any
    assert service.send(Action.RESOLVE).outcome == "resolved"
    assert service.paged() == 0


def test_an_alert_no_rule_suppresses_lifts_the_suppression_and_pages(service: Service) -> None:
    opened = service.send(**SUPPRESSED)

    reply = service.send()  # the inhibiting incident resolved since: this one goes through

    assert reply.outcome == "occurrence" and service.incident(opened.incident_id)["suppressed"] is False
    assert [n["user_id"] for n in notifications(service.db, service.id)] == [service.user]
    assert [e["kind"] for e in service.timeline(opened.incident_id)] == [
        "triggered", "suppressed", "occurrence", "unsuppressed", "paged"]


def test_a_paused_incident_pages_at_the_end_of_the_pause_across_a_shard_restart(service: Service) -> None:
    opened_at = service.clock.now()
    reply = service.send(rules=("flappy",), disposition=Disposition.PAUSE, pause_minutes=1)
    row = service.incident(reply.incident_id)
    assert row["paused_until"] is not None and service.paged() == 0

    kill_and_await_restart(service.shard)

    assert wait_for(lambda: service.paged() == 1, 60 / SPEED + 20), "never paged after the pause"
    [page] = notifications(service.db, service.id)
    assert page["send_at"] == row["paused_until"] and row["paused_until"] - opened_at < timedelta(minutes=1, seconds=1)
    assert service.incident(reply.incident_id)["paused_until"] is None
    kinds = [e["kind"] for e in service.timeline(reply.incident_id)]
    assert kinds == ["triggered", "paused", "unpaused", "paged"]


def test_a_paused_incident_resolved_before_the_end_pages_nobody(service: Service) -> None:
    reply = service.send(rules=("flappy",), disposition=Disposition.PAUSE, pause_minutes=1)
    assert service.send(Action.RESOLVE).outcome == "resolved"

    # Past the end of the pause, as the shard counts it: the deadline has gone with the resolve.
    assert not wait_for(lambda: service.paged() > 0, 90 / SPEED)
    assert service.incident(reply.incident_id)["paused_until"] is None


def test_rules_set_urgency_priority_details_and_tags(service: Service) -> None:
    # Ruth is woken for high urgency only, and texted a minute later for low.
    service.db("execute", "INSERT INTO notification_rules (id, user_id, contact_method_id, urgency, delay_minutes)"
                          " SELECT $1, user_id, id, 'low', 1 FROM contact_methods WHERE user_id = $2",
               str(uuid.uuid4()), service.user)
    enrichment = orjson.dumps({"details": {"team": "db"}, "tags": ["db"]}).decode()
    reply = service.send(rules=("route-db",), urgency=Urgency.LOW, priority="P2", enrichment=enrichment)
    service.send(rules=("route-db",), enrichment=orjson.dumps({"tags": ["eu"]}).decode())

    row = service.incident(reply.incident_id)
    assert (row["urgency"], row["priority"], orjson.loads(row["tags"])) == ("low", "P2", ["db", "eu"])
    assert orjson.loads(row["rule_details"]) == {"team": "db"}
    paged = service.db("fetch", "SELECT urgency, delay_minutes FROM notifications WHERE incident_id = $1",
                       reply.incident_id)
    assert [(n["urgency"], n["delay_minutes"]) for n in paged] == [("low", 1)]  # not the service's high
    timeline = service.timeline(reply.incident_id)
    assert (timeline[0]["rules"], timeline[0]["rule_effect"]) == ('["route-db"]', "urgency low, priority P2")
    occurrence = [e for e in timeline if e["kind"] == "occurrence"]
    assert [(e["rules"], e["rule_effect"]) for e in occurrence] == [('["route-db"]', None)]
