"""ShiftNoticeMonitor: tells people of their shift handoffs, and runs reachability checks.

Each round it plans every schedule again when a minute of business time has passed or
anything that decides who is on call, or who wants notices, has changed (the paging epoch,
which every write to users, contact methods, schedules, overrides and policies bumps): it
computes the handoffs ahead (tocsin.actors.domain.handoffs) and brings the planned notices
and checks in the outbox in step with them (tocsin.actors.store.handoffs). The channel
actors send them when due. Then it tells someone of each check not acknowledged by the
start of its shift: the schedule's owner, or else the next level of the escalation
policies that page the schedule.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ray

from tocsin.actors.domain import handoffs
from tocsin.actors.domain.clock import Clock, SystemClock
from tocsin.actors.domain.definitions import policy_from_json
from tocsin.actors.domain.escalation_state import TargetKind
from tocsin.actors.domain.schedule import on_call
from tocsin.actors.lifecycle import detached_options
from tocsin.actors.nudger import ChannelNudger
from tocsin.actors.rounds import RoundsMonitor
from tocsin.actors.settings import Settings
from tocsin.actors.store import handoffs as store
from tocsin.actors.store.schedules import StoredSchedule, load_schedule, load_schedules

MONITOR_NAME = "tocsin-shift-notices"
POLL_S = 1.0  # a change is noticed within this much wall time
REPLAN = timedelta(minutes=1)  # of business time, with no change seen
HORIZON = timedelta(hours=1)  # notices and checks are put in the outbox this far ahead
GRACE = timedelta(minutes=5)  # a notice whose time passed by no more than this still goes
MISSED_LIMIT = 100


class ShiftNoticeMonitor(RoundsMonitor):
    """Plans shift notices and reachability checks, and tells of missed checks.

    Checkpoints: none of its own. What is planned is rows (`shift_notices`,
    `reachability_checks`, and their notifications), so a restarted monitor plans again from
    them; planning is idempotent, keyed by (schedule, person, kind, handoff instant).
    Replicas: a schedule is planned under an advisory lock, and a missed check is claimed
    with SKIP LOCKED and marked in the transaction that tells of it, so two monitors never
    send anything twice.
    """

    def __init__(
        self, settings: Settings, database_url: str, clock: Clock | None = None, background: bool = True,
        nudger: ChannelNudger | None = None,
    ) -> None:
        """`background=False`: no loop of its own; rounds happen on `run_once` only."""
        self._settings = settings
        self._clock = clock or SystemClock()
        self._nudger = nudger if nudger is not None else ChannelNudger(settings.namespace)
        self._planned: tuple[int, datetime] | None = None  # (epoch, business time) of the last planning
        stats = {"rounds": 0, "plannings": 0, "made": 0, "cancelled": 0, "missed": 0}
        super().__init__(MONITOR_NAME, "shift notices", database_url, stats, background, self._looped_round)

    async def run_once(self, replan: bool = False) -> dict[str, int]:
        """One round now; `replan` plans whatever changed. What it did (tests)."""
        if replan:
            self._planned = None
        return await self._round()

    # -- the loop -----------------------------------------------------------------------------

    async def _looped_round(self) -> float:
        await self._round()
        return POLL_S

    async def _round(self) -> dict[str, int]:
        now = self._clock.now()
        self._stats["rounds"] += 1
        done = {"made": 0, "cancelled": 0, "missed": 0}
        async with self._database.connection() as conn:
            epoch = await store.epoch(conn)
        if self._planned is None or self._planned[0] != epoch or now - self._planned[1] >= REPLAN:
            made, cancelled = await self._plan_all(now)
            self._planned = (epoch, now)
            done |= {"made": made, "cancelled": cancelled}
        done["missed"] = await self._tell_missed(now)
        for key, value in done.items():
            self._stats[key] += value
        return done

    # -- planning -------------------------------------------------------------------------------

    async def _plan_all(self, now: datetime) -> tuple[int, int]:
        self._stats["plannings"] += 1
        async with self._database.connection() as conn:
            takers = await store.notice_takers(conn)
            people = {t["user_id"]: handoffs.Preference(timedelta(minutes=t["lead_minutes"]), _zone(t["time_zone"]))
                      for t in takers}
            methods = {t["user_id"]: (t["method_id"], t["channel"]) for t in takers}
            longest = max([p.lead for p in people.values()] + [timedelta(days=1)])
            since = now - GRACE - handoffs.EDGE
            schedules = await load_schedules(conn, since, now + HORIZON + longest + handoffs.LOOKAHEAD)
        made = cancelled = 0
        due: set[str] = set()
        for stored in schedules:
            plan = await asyncio.to_thread(self._plan, stored, people, now)
            async with self._database.connection() as conn:
                result = await store.apply_plan(conn, stored.id, plan, methods, now, since, self._check_text(stored))
            made, cancelled, due = made + result.made, cancelled + result.cancelled, due | result.channels_due
        if due:
            self._nudger.nudge(due)
        return made, cancelled

    @staticmethod
    def _plan(stored: StoredSchedule, people: dict[str, handoffs.Preference], now: datetime) -> handoffs.Plan:
        lead = timedelta(minutes=stored.row["check_lead_minutes"]) if stored.row["reachability_check"] else None
        return handoffs.plan(stored.schedule, stored.name, people, now, HORIZON, GRACE, lead)

    def _check_text(self, stored: StoredSchedule) -> Any:
        def text(check: handoffs.Check, token: str) -> str:
            link = f"{self._settings.reachable_url}/api/v1/checks/{token}"
            return handoffs.check_text(stored.name, check.shift_start, stored.schedule.tz, check.send_at, link)
        return text

    # -- missed checks ---------------------------------------------------------------------------

    async def _tell_missed(self, now: datetime) -> int:
        """Tells of the checks still waiting at their shift's start; how many."""
        channels: set[str] = set()
        async with self._database.connection() as conn, conn.transaction():
            missed = await store.claim_missed(conn, now, MISSED_LIMIT)
            for check in missed:
                told = [u for u in await self._whom_to_tell(conn, check, now) if u != check["user_id"]]
                reach = await store.page_recipients(conn, told)
                reached = [r for r in reach.values() if r.method_id is not None and r.channel is not None]
                for person in reached:
                    text = handoffs.missed_text(check["user_name"], check["schedule_name"], check["shift_start"],
                                                _zone(person.time_zone))
                    await store.enqueue(conn, "shift_notice", person.user_id, str(person.method_id),
                                        str(person.channel), text, now, now)
                    channels.add(str(person.channel))
                note = None if reached else "nobody to tell: no owner, no next escalation level, or no contact method"
                await store.mark_missed(conn, check["id"], [r.user_id for r in reached], note, now)
        if channels:
            self._nudger.nudge(channels)
        return len(missed)

    async def _whom_to_tell(self, conn: Any, check: dict[str, Any], now: datetime) -> list[str]:
        """The schedule's owner; without one, the next level of each policy paging the schedule
        (a schedule there stands for whoever is on call on it now)."""
        if check["owner_id"] is not None:
            return [check["owner_id"]]
        users: list[str] = []
        for doc in await store.policies_paging(conn, check["schedule_id"]):
            for target in handoffs.next_level_targets(policy_from_json(doc["levels"], doc["repeat"]),
                                                      check["schedule_id"]):
                if target.kind is TargetKind.USER:
                    users.append(target.id)
                    continue
                stored = await load_schedule(conn, target.id, now, now + timedelta(seconds=1))
                if stored is not None:
                    users += on_call(stored.schedule, now)
        return list(dict.fromkeys(users))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):  # a zone the tz database no longer has: times in UTC
        return ZoneInfo("UTC")


ShiftNoticeMonitorRemote: Any = ray.remote(ShiftNoticeMonitor)


def monitor_options(namespace: str) -> dict[str, Any]:
    return detached_options(MONITOR_NAME, namespace, max_concurrency=16)
