"""Failover on a multi-node Ray cluster on this machine (a head and two worker nodes), each
test under a storm of PagerDuty and Alertmanager alerts from a client that records every
answer (tests/cluster/alert_storm.py):

- a worker node holding shards dies: every alert answered as durable is in Postgres, one
  incident per dedup key with exact counts, the shards come back on the surviving nodes,
  escalations that fell due meanwhile fire late by no more than the recovery, nobody is
  paged twice, and only the lost shards' services wait or get 503;
- the webhook ChannelActor is killed while its pages are out: every outbox row ends sent
  or dead, those in flight are sent again at once, none is delivered twice;
- Postgres goes away in the middle of the storm and comes back: only 2xx, or 503 and 429
  with Retry-After, nothing answered as durable is lost, and Tocsin resumes by itself.

The cluster, `tocsin up --address` on it and a Postgres of the module's own are set up once
(tests/cluster/conftest.py); each test makes its own services and people.
"""

from __future__ import annotations

import asyncio
import collections
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson

from tocsin.actors.channel import IN_FLIGHT
from tocsin.actors.ownership import shard_index
from tests.client import add_integration, create_service, trigger
from tests.cluster.alert_storm import AlertStorm, StormRecord, StormService, check_durable
from tests.cluster.cluster_process import Placement, RayClusterProcess
from tests.cluster.conftest import SHARD_TIMEOUT_S, SHARDS
from tests.cluster.private_postgres import PrivatePostgres
from tests.fakes.http_receiver import HttpReceiver
from tests.integration.test_escalation_restart import make_escalating_service, make_user
from tests.server import TocsinProcess


WEBHOOK_ACTOR = "tocsin-channel-webhook"


# -- making services and people -------------------------------------------------------------

def storm_services(tocsin: TocsinProcess, token: str, per_shard: int, name: str = "storm") -> list[StormService]:
    """Services with a PagerDuty and an Alertmanager integration, until every shard owns
    at least `per_shard` of them (service ids are random)."""
    made: list[StormService] = []
    owned: collections.Counter[int] = collections.Counter()
    while min(owned[i] for i in range(SHARDS)) < per_shard:
        service = create_service(tocsin.base_url, token, f"{name}-{len(made)}")
        alertmanager = add_integration(tocsin.base_url, token, service.id, "alertmanager")
        made.append(StormService(service.id, service.key, alertmanager.key))
        owned[shard_index(service.id, SHARDS)] += 1
    return made


def paging_policy(db: Callable[..., Any], people: list[str]) -> str:
    """One level that pages every one of `people` at once (and ends after a minute)."""
    policy_id = str(uuid.uuid4())
    level = {"delay_minutes": 1, "targets": [{"type": "user", "id": person} for person in people]}
    db("execute", "INSERT INTO escalation_policies (id, name, levels) VALUES ($1, 'everyone', $2::jsonb)",
       policy_id, orjson.dumps([level]).decode())
    return policy_id


def paging_storm_service(tocsin: TocsinProcess, token: str, policy_id: str, name: str) -> StormService:
    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{tocsin.base_url}/api/v1/services", headers=headers,
                         json={"name": name, "escalation_policy_id": policy_id})
    assert created.status_code == 201, created.text
    service_id = created.json()["id"]
    pagerduty = add_integration(tocsin.base_url, token, service_id, "pagerduty")
    alertmanager = add_integration(tocsin.base_url, token, service_id, "alertmanager")
    return StormService(service_id, pagerduty.key, alertmanager.key)


@dataclass(frozen=True)
class Escalation:
    """A service whose policy pages `first`, then `second` one minute later."""

    service_id: str
    key: str
    first: str  # their pages go to /page/<name>
    second: str

    @property
    def shard(self) -> int:
        return shard_index(self.service_id, SHARDS)


def escalations(db: Callable[..., Any], tocsin: TocsinProcess, token: str, pager: HttpReceiver,
                per_shard: int) -> list[Escalation]:
    made: list[Escalation] = []
    while min(sum(e.shard == i for e in made) for i in range(SHARDS)) < per_shard:
        tag = uuid.uuid4().hex[:8]
        first, second = f"first-{tag}", f"second-{tag}"
        people = [make_user(db, name, "webhook", f"{pager.url}/page/{name}") for name in (first, second)]
        service_id = make_escalating_service(db, *people)
        made.append(Escalation(service_id, add_integration(tocsin.base_url, token, service_id, "pagerduty").key,
                               first, second))
    return made


# -- reading what happened ---------------------------------------------------------------------

def wait_for(check: Callable[[], bool], seconds: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


def first_accepted_after(record: StormRecord, service_ids: set[str], after: float) -> float | None:
    """When the first request sent after `after` to one of these services was answered as durable."""
    times = [a.answered_at for a in record.answers
             if a.service_id in service_ids and a.sent_at > after and a.status in (200, 202)]
    return min(times, default=None)


def refusals(record: StormRecord, service_ids: set[str]) -> int:
    return sum(1 for a in record.answers if a.service_id in service_ids and a.status not in (200, 202))


def pages_of(db: Callable[..., Any], service_ids: list[str]) -> list[dict[str, Any]]:
    rows = db("fetch", "SELECT n.id, n.incident_id, n.service_id::text, n.level, n.status, n.created_at,"
                       " n.attempts, n.last_error, u.name AS person"
                       " FROM notifications n JOIN users u ON u.id = n.user_id WHERE n.service_id = ANY($1::uuid[]) ORDER BY n.id", service_ids)
    return [dict(r) for r in rows]


def epoch(at: datetime) -> float:
    return at.timestamp()


# -- a node dies ------------------------------------------------------------------------------

async def open_incidents(tocsin: TocsinProcess, walks: list[Escalation]) -> None:
    """One incident on each, all at once, so that their next levels fall due together."""
    async with httpx.AsyncClient(base_url=tocsin.base_url, timeout=30) as client:
        answers = await asyncio.gather(*(client.post("/v2/enqueue", json=trigger(w.key, "db-down")) for w in walks))
    assert [a.status_code for a in answers] == [202] * len(walks), [a.text for a in answers]


def victim_node(placement: Placement) -> str:
    """The worker holding the most shards and no part of Ray Serve."""
    candidates = [w for w in placement.workers if placement.shards_on(w) and w not in placement.serve_nodes()]
    assert candidates, f"no worker holds a shard: {placement}"
    return max(candidates, key=lambda w: len(placement.shards_on(w)))


async def test_a_node_lost_in_a_storm_loses_nothing_and_its_shards_carry_on_on_the_survivors(
    ray_cluster: RayClusterProcess, tocsin_on_cluster: TocsinProcess, cluster_db: Callable[..., Any],
    admin_token: str, pager: HttpReceiver,
) -> None:
    tocsin, db = tocsin_on_cluster, cluster_db
    pager.reset()
    placement = ray_cluster.placement()
    victim = victim_node(placement)
    lost_shards = placement.shards_on(victim)
    restarts = {i: placement.actor(f"tocsin-shard-{i}").restarts for i in lost_shards}
    services = storm_services(tocsin, admin_token, per_shard=2)
    walks = escalations(db, tocsin, admin_token, pager, per_shard=2)
    await open_incidents(tocsin, walks)  # the first person of each is paged now, the second a minute later
    due = {r["service_id"]: epoch(r["next_escalation_at"]) for r in db(
        "fetch", "SELECT service_id::text, next_escalation_at FROM incidents WHERE service_id = ANY($1::uuid[])",
        [w.service_id for w in walks])}
    assert len(due) == len(walks)
    # The node dies a second before the first second level is due: those of its shards'
    # incidents fall due while they are down.
    dies_at = min(due.values()) - 1.0
    await asyncio.sleep(max(0.0, dies_at - 6.0 - time.time()))

    async def kill() -> float:
        await asyncio.sleep(max(0.0, dies_at - time.time()))
        return await asyncio.to_thread(ray_cluster.remove_node, victim)

    try:
        storm = AlertStorm(tocsin.base_url, services, connections=8)
        record, removed_at = await asyncio.gather(storm.run(24.0), kill())

        # What the sources were told is what is stored; only the lost shards' services waited.
        assert not record.failures(), collections.Counter((a.status, a.detail[:80]) for a in record.failures())
        totals = check_durable(db, record, [s.service_id for s in services])
        lost_services = {s.service_id for s in services if shard_index(s.service_id, SHARDS) in lost_shards}
        kept_services = {s.service_id for s in services} - lost_services
        assert refusals(record, kept_services) == 0, "services of the surviving shards were refused"

        after = ray_cluster.placement()
        for index in lost_shards:  # restarted once, on a survivor
            shard = after.actor(f"tocsin-shard-{index}")
            assert shard.state == "ALIVE" and shard.restarts == restarts[index] + 1 and shard.node_id != victim, shard
        back = {index: first_accepted_after(record, {s for s in lost_services if shard_index(s, SHARDS) == index},
                                            removed_at + 0.1) for index in lost_shards}
        assert all(at is not None and at - removed_at < SHARD_TIMEOUT_S + 10 for at in back.values()), (
            {i: None if at is None else at - removed_at for i, at in back.items()})

        overdue = check_escalations(db, walks, due, back, removed_at)  # type: ignore[arg-type]
        check_each_paged_once(pager, walks)
        print(f"node lost with shards {sorted(lost_shards)}; they served again after "
              f"{', '.join(f'{at - removed_at:.1f}' for at in back.values())} s; "  # type: ignore[operator]
              f"{len(overdue)} second levels due meanwhile paged {max(overdue):.1f} s late at most; "
              f"answers {dict(record.statuses)}; {totals}")
    finally:
        ray_cluster.add_node()  # the next test has two workers again


def check_escalations(db: Callable[..., Any], walks: list[Escalation], due: dict[str, float],
                      back: dict[int, float], died_at: float) -> list[float]:
    """Each walk paged its first person, then its second once: on time where its shard
    lived on; where the shard was lost and the level fell due before it was back, by the
    restarted shard, late by no more than the recovery (and a second of the timer's).
    Returns how late those were."""
    assert wait_for(lambda: len(pages_of(db, list(due))) == 2 * len(walks), 30), pages_of(db, list(due))
    pages = pages_of(db, list(due))
    assert sorted((p["person"], p["level"]) for p in pages) == sorted(
        [(w.first, 0) for w in walks] + [(w.second, 1) for w in walks])
    by_service = {w.service_id: w for w in walks}
    overdue: list[float] = []
    for page in (p for p in pages if p["level"] == 1):
        walk = by_service[page["service_id"]]
        paged_at, due_at = epoch(page["created_at"]), due[walk.service_id]
        assert paged_at >= due_at, page
        back_at = back.get(walk.shard)
        if back_at is not None and due_at < back_at:
            overdue.append(paged_at - due_at)
            assert died_at < paged_at <= back_at + 1.5, (
                f"second level paged {paged_at - due_at:.2f} s late; shard {walk.shard} back after "
                f"{back_at - died_at:.2f} s")
        else:
            assert paged_at - due_at < 3.0, f"shard {walk.shard} paged {paged_at - due_at:.2f} s late"
    assert overdue, "no second level fell due while its shard was down"
    return overdue


def check_each_paged_once(pager: HttpReceiver, walks: list[Escalation]) -> None:
    expected = collections.Counter([f"/page/{w.first}" for w in walks] + [f"/page/{w.second}" for w in walks])
    assert wait_for(lambda: len(pager.requests) >= len(expected), 30)
    time.sleep(1.0)  # a page sent twice would have arrived by now
    assert collections.Counter(r.path for r in pager.requests) == expected


# -- a channel actor dies while sending -------------------------------------------------------

async def test_a_channel_actor_killed_while_sending_leaves_every_row_sent_or_dead_and_none_sent_twice(
    ray_cluster: RayClusterProcess, tocsin_on_cluster: TocsinProcess, cluster_db: Callable[..., Any],
    admin_token: str, pager: HttpReceiver,
) -> None:
    tocsin, db = tocsin_on_cluster, cluster_db
    pager.reset()
    pager.hang()  # pages go out and wait for an answer: they are in flight when the actor dies
    pager.respond(410, "no such hook", path="/gone")  # a contact method whose pages end dead
    tag = uuid.uuid4().hex[:8]
    reachable = [f"on-call-{n}-{tag}" for n in range(4)]
    people = [make_user(db, name, "webhook", f"{pager.url}/page/{name}") for name in reachable]
    people.append(make_user(db, f"gone-{tag}", "webhook", f"{pager.url}/gone"))
    policy_id = paging_policy(db, people)
    paging = [paging_storm_service(tocsin, admin_token, policy_id, f"paging-{n}") for n in range(2)]
    services = paging + storm_services(tocsin, admin_token, per_shard=1, name="quiet")
    paging_ids = [s.service_id for s in paging]
    before = ray_cluster.placement().actor(WEBHOOK_ACTOR)

    # Ten incidents in one commit, fifty pages due at once: the actor claims them together
    # and has as many requests out as it sends at a time, all waiting for an answer.
    storm = AlertStorm(tocsin.base_url, services, connections=6)
    await storm.burst(paging[0], 10)
    assert await asyncio.to_thread(wait_for, lambda: len(page_ids(pager)) >= IN_FLIGHT, 30), (
        len(page_ids(pager)), collections.Counter(p["status"] for p in pages_of(db, paging_ids)))

    async def kill_while_sending() -> tuple[float, float]:
        await asyncio.sleep(1.5)  # into the storm, well before the provider's timeout
        killed_at = await asyncio.to_thread(ray_cluster.kill_pid, before.pid)
        pager.respond(200, {"ok": True})  # the pages sent from now on are answered
        return killed_at, time.time()

    record, (killed_at, answering_from) = await asyncio.gather(storm.run(15.0), kill_while_sending())
    hung = page_ids(pager, until=answering_from)

    def settled() -> bool:
        return all(p["status"] in ("sent", "dead") for p in pages_of(db, paging_ids))

    assert wait_for(settled, 60), collections.Counter(p["status"] for p in pages_of(db, paging_ids))
    assert not record.failures(), collections.Counter((a.status, a.detail[:80]) for a in record.failures())
    check_durable(db, record, [s.service_id for s in services])

    # Every incident paged each of the five people once, and no row was lost.
    incidents = db("fetchval", "SELECT count(*) FROM incidents WHERE service_id = ANY($1::uuid[])", paging_ids)
    pages = pages_of(db, paging_ids)
    assert len(pages) == incidents * len(people)
    assert len({(p["incident_id"], p["person"]) for p in pages}) == len(pages)
    statuses = collections.Counter((p["person"].startswith("gone-"), p["status"]) for p in pages)
    assert statuses == {(False, "sent"): incidents * len(reachable), (True, "dead"): incidents}, "\n".join(map(str, (
        statuses, *collections.Counter((p["status"], p["attempts"], p["last_error"]) for p in pages).items())))

    after = ray_cluster.placement().actor(WEBHOOK_ACTOR)
    assert after.pid != before.pid and after.restarts > before.restarts and after.state == "ALIVE", after
    sent = {p["id"] for p in pages if p["status"] == "sent"}
    assert len(hung) >= IN_FLIGHT and set(hung) <= sent
    again_after = check_sent_once(db, pager, sent, set(hung), answering_from) - killed_at
    assert again_after < 20, f"the pages in flight went out again only {again_after:.0f} s after the crash"
    print(f"{len(hung)} pages in flight at the crash, all sent again within {again_after:.1f} s; "
          f"{len(sent)} sent, {incidents} dead; answers {dict(record.statuses)}")


def page_ids(pager: HttpReceiver, since: float = 0.0, until: float = float("inf")) -> list[int]:
    """The notification ids of the pages the pager received between `since` and `until`."""
    return [r.json()["notification_id"] for r in pager.requests
            if r.path.startswith("/page/") and since <= r.at < until]


def check_sent_once(db: Callable[..., Any], pager: HttpReceiver, sent: set[int], in_flight: set[int],
                    answering_from: float) -> float:
    """Every row sent reached its person exactly once with an answer Tocsin saw, and is
    recorded with one successful attempt; those in flight when the actor died among them.
    Returns when the last of those in flight went out again."""
    answered = collections.Counter(page_ids(pager, since=answering_from))
    assert set(answered) == sent and set(answered.values()) == {1}, (
        f"{len(sent)} sent, {len(answered)} answered, twice: {[i for i, n in answered.items() if n > 1][:5]}")
    attempts = db("fetch", "SELECT notification_id, count(*) FILTER (WHERE outcome = 'sent') AS sent"
                           " FROM notification_attempts WHERE notification_id = ANY($1::bigint[])"
                           " GROUP BY notification_id", list(sent))
    assert {r["notification_id"]: r["sent"] for r in attempts} == {i: 1 for i in sent}
    return max(r.at for r in pager.requests if r.path.startswith("/page/") and r.at >= answering_from
               and r.json()["notification_id"] in in_flight)


# -- Postgres goes away -------------------------------------------------------------------------

OUTAGE_S = 10.0  # past the integration-key cache and every pool's connections


async def test_postgres_going_away_mid_storm_refuses_with_503_and_everything_resumes_by_itself(
    tocsin_on_cluster: TocsinProcess, private_postgres: PrivatePostgres, cluster_db: Callable[..., Any],
    admin_token: str,
) -> None:
    """The module's own Postgres is stopped as in a crash and started again (the machine's
    Postgres serves others and is never stopped); Tocsin is not restarted."""
    tocsin, db = tocsin_on_cluster, cluster_db
    services = storm_services(tocsin, admin_token, per_shard=1, name="outage")
    service_ids = {s.service_id for s in services}
    outage: dict[str, float] = {}

    async def postgres_goes_away() -> None:
        await asyncio.sleep(5.0)
        outage["stopping"] = time.time()
        await asyncio.to_thread(private_postgres.stop)
        outage["down"] = time.time()  # pg_ctl has seen the server gone
        await asyncio.sleep(OUTAGE_S)
        outage["starting"] = time.time()
        await asyncio.to_thread(private_postgres.restart)
        outage["restarted"] = time.time()

    storm = AlertStorm(tocsin.base_url, services, connections=8)
    record, _ = await asyncio.gather(storm.run(5.0 + OUTAGE_S + 12.0), postgres_goes_away())

    assert not record.failures(), collections.Counter((a.status, a.detail[:80]) for a in record.failures())
    assert record.statuses[503] > 0, "the outage was never seen"
    durable_while_down = [a for a in record.answers if a.status in (200, 202)
                          and a.sent_at > outage["down"] and a.answered_at < outage["starting"]]
    assert not durable_while_down, f"{len(durable_while_down)} alerts answered as durable with Postgres down"
    for service_id in service_ids:  # every shard serves again, by itself
        back = first_accepted_after(record, {service_id}, outage["restarted"])
        assert back is not None and back - outage["restarted"] < 10, f"{service_id} not back: {back}"
    totals = check_durable(db, record, sorted(service_ids))

    # The shards' memory agrees with the database: more of the same alerts add occurrences
    # to the same incidents, and nothing else.
    await storm.run(4.0)
    assert not record.failures()
    check_durable(db, record, sorted(service_ids))
    recovered = first_accepted_after(record, service_ids, outage["restarted"]) or float("nan")
    print(f"Postgres down {outage['restarted'] - outage['stopping']:.1f} s; first alert durable again "
          f"{recovered - outage['restarted']:.1f} s after its restart; answers {dict(record.statuses)}; {totals}")
