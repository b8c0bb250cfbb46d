"""ServiceShard: the single writer for the services that hash to it.

Services and their incidents are virtual actors: plain objects activated from Postgres on
first touch, kept while they have open incidents, dropped when they have none.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import os
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import asyncpg
import ray

from tocsin.actors.bus import BusAddress, open_bus
from tocsin.actors.directory import PagingDirectory
from tocsin.actors.domain.batch_plan import LogEntry, Plan, PlannedNotification, Reply
from tocsin.actors.domain.channels import CHANNELS
from tocsin.actors.domain.clock import Clock, SystemClock
from tocsin.actors.domain.events import Action, AlertEvent, IncidentCommand, ServiceInput
from tocsin.actors.domain.incident import Incident, Outcome
from tocsin.actors.domain.input_batch import InputBatch
from tocsin.actors.domain.reply_batch import ReplyBatch
from tocsin.actors.domain.incident_escalation import Walks
from tocsin.actors.domain.measures import ShardMeasures
from tocsin.actors.domain.paging import page_notifications
from tocsin.actors.domain.service_incidents import OVERFLOW_KEY, ServiceIncidents
from tocsin.actors.isolation import INPUT_KEYS, Due, apply_isolating
from tocsin.actors.lifecycle import detached_options, garbage_collection, tune_garbage_collection
from tocsin.actors.nudger import ChannelNudger
from tocsin.actors.ownership import shard_index, shard_name
from tocsin.actors.publisher import BusPublisher
from tocsin.actors.store import batch as store
from tocsin.actors.store.database import UNAVAILABLE, Database
from tocsin.actors.waiting import wait_set

log = logging.getLogger(__name__)

# A call Ray retries after a restart carries only inputs received before that restart, and
# its previous incarnation may have committed them: those are checked against the database.
# The margin covers a gateway clock running ahead of the shard's (NTP keeps nodes within
# milliseconds; on one machine it is the same clock). Later inputs skip the check.
RETRY_WINDOW = timedelta(seconds=2)


class ShardCommitError(RuntimeError):
    """The batch was not made durable; nothing of it is in memory either."""


# When a batch of deadlines could not be committed, try those incidents again this much later.
DEADLINE_RETRY_S = 1.0
# The timer wakes at least this often (wall seconds) even with nothing due, as a safety net.
MAX_TIMER_SLEEP_S = 30.0
# A group with at least this many occurrences of open incidents commits the alerts that open
# incidents first, in a transaction of their own (see `_opening_first`).
OCCURRENCES_TO_SPLIT = 200


# A shard call waiting for its group: its inputs, and where their replies go.
Call = tuple[list[ServiceInput], "asyncio.Future[list[Reply]]"]


class Taken(NamedTuple):
    """A pending call whose openings commit beside a group's occurrences."""

    items: list[ServiceInput]
    opening: list[ServiceInput]
    rest: list[ServiceInput]  # its occurrences of open incidents, for the next group
    future: asyncio.Future[list[Reply]]


class ServiceShard:
    """Applies alert events, incident commands and escalation deadlines, in batches, for
    the services it owns.

    Durability: every call's inputs are grouped with whatever else arrived meanwhile (and
    with the escalation deadlines that passed) and written in one Postgres transaction; a
    call returns only after that commit, and memory adopts the changes only after it. A
    failed commit raises `ShardCommitError` and drops the services involved from memory, so
    they are reloaded from the database. In a storm a group commits in two parts, the alerts
    that open incidents first (`_opening_first`), and the openings of calls arriving while
    its occurrences commit are committed beside them, on the other connection
    (`_openings_beside`): one transaction is planned at a time, and the two touch no
    incident in common.
    One bad input harms no other: when the database refuses the data of some input (a value
    it cannot store, a row breaking a constraint), the group is split and its halves
    committed in turn, down to the inputs at fault, which store nothing and are answered
    `invalid` naming their fields; every other input commits and is answered as usual, in
    its order (see `tocsin.actors.isolation`). Any other failure, the database away included,
    fails the whole group as above.
    Checkpoints: the rows are the state; after a restart each service is reactivated from
    its open incidents on first touch, and at once when one of them waits on a deadline.
    Timers: deadlines are columns; the heap of wake-ups is rebuilt from them on activation.
    Idempotency: each input has an id; an input already stored is answered `duplicate`
    and applied no second time, so Ray's retries of a call across a restart are safe.
    Callers treat a failure or a timeout as "not durable" and retry later.
    Live feed: after each commit the incidents it changed go onto the event bus, in commit
    order, in the background; a publish that fails costs readers a reload, never a commit.
    """

    def __init__(
        self, index: int, database_url: str, clock: Clock | None = None, shard_count: int | None = None,
        bus: BusAddress | None = None,
    ) -> None:
        """`bus`: where committed changes are published for dashboards; None publishes nothing."""
        self._index = index
        self._shard_count = shard_count  # known: recover the owned services' deadlines at start
        self._database = Database(database_url, max_size=2)
        self._clock = clock or SystemClock()
        self._started_at = self._clock.now()
        self._services: dict[str, ServiceIncidents] = {}
        self._directory = PagingDirectory()
        self._pending: list[Call] = []
        self._arrived = asyncio.Event()  # a call joined `_pending`
        # Held while a transaction's inputs are planned: openings committed beside a group's
        # occurrences are planned before or after the group's own, never interleaved with them.
        self._planning = asyncio.Lock()
        self._due: dict[str, set[int]] = defaultdict(set)  # service -> incidents whose deadline passed
        self._wakeups: list[tuple[float, int, str]] = []  # (deadline timestamp, incident id, service id)
        self._wake = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        self._background: list[asyncio.Task[None]] = []
        self._nudger: ChannelNudger | None = None  # made on first use, on Ray
        self._publisher = BusPublisher(open_bus(bus)) if bus is not None else None
        self._stats = {
            "transactions": 0, "inputs": 0, "failed_transactions": 0, "last_commit_ms": 0.0,
            "pages": 0, "notifications": 0, "deadlines_fired": 0, "opening_first": 0,
            "refused_inputs": 0, "openings_beside": 0,
        }
        self._measures = ShardMeasures()
        tune_garbage_collection()
        with contextlib.suppress(RuntimeError):  # no loop yet: started by the first call
            asyncio.get_running_loop()
            self._start_background()

    async def apply(self, inputs: list[ServiceInput] | InputBatch) -> list[Reply]:
        """Apply inputs in order; one reply per input once they are durable. Gateways send
        them as columns (`InputBatch`), which cost less to carry across the process."""
        if isinstance(inputs, InputBatch):
            inputs = inputs.inputs()
        self._start_background()
        future: asyncio.Future[list[Reply]] = asyncio.get_running_loop().create_future()
        self._pending.append((inputs, future))
        self._arrived.set()
        self._kick()
        return await future

    async def apply_batch(self, inputs: InputBatch) -> ReplyBatch:
        """`apply`, for a gateway: the replies as columns too, which cost less to carry back."""
        return ReplyBatch.of(await self.apply(inputs))

    async def tick(self) -> int:
        """Fire every deadline that has passed now, and wait until that is durable; the
        number of incidents that were due. The timer does this by itself."""
        self._start_background()
        count = self._collect_due()
        while self._due or (self._drainer is not None and not self._drainer.done()):
            self._kick()
            if self._drainer is not None:
                await asyncio.shield(self._drainer)
        return count

    async def stats(self) -> dict[str, Any]:
        self._start_background()
        return {
            "index": self._index,
            "name": shard_name(self._index),
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
            "started_at": self._started_at.isoformat(),
            "active_services": len(self._services),
            "open_incidents": sum(len(s) for s in self._services.values()),
            "wakeups": len(self._wakeups),
            "paging_cache": {**self._directory.cached, **self._directory.stats},
            "garbage_collection": garbage_collection(),
            **self._stats,
            "measures": self._measures.snapshot(),
            **({f"bus_{k}": v for k, v in self._publisher.stats.items()} if self._publisher else {}),
        }

    async def close(self) -> None:
        """Stop the timer and close the pool (for a shard hosted in-process)."""
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._drainer is not None:
            await asyncio.gather(self._drainer, return_exceptions=True)
        if self._publisher is not None:
            await self._publisher.close()
        if self._nudger is not None:
            await self._nudger.close()
        await self._database.close()

    # -- background: recovery and the deadline timer -----------------------------------

    def _start_background(self) -> None:
        if not self._background:
            self._background = [asyncio.create_task(self._recover()), asyncio.create_task(self._timer())]
            self._channel_nudger()

    async def _recover(self) -> None:
        """Reactivate the owned services that wait on a deadline; their activation sets the
        wake-ups. Retried until the database answers."""
        if self._shard_count is None:
            return
        delay = 0.5
        while True:
            try:
                async with self._database.connection() as conn:
                    waiting = await store.services_with_deadlines(conn)
                break
            except UNAVAILABLE as exc:
                log.warning("shard %d: cannot read deadlines yet: %r", self._index, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        owned = [s for s in waiting if shard_index(s, self._shard_count) == self._index]
        for service_id in owned:
            self._due[service_id]  # activation only: no incident is named due
        if owned:
            log.info("shard %d: %d services wait on deadlines", self._index, len(owned))
            self._kick()

    async def _timer(self) -> None:
        """Wakes when the earliest deadline passes and hands the due incidents to the drain.
        Business time comes from the clock; the sleep is only the wake-up."""
        speed = self._clock.speed
        while True:
            self._wake.clear()
            if self._collect_due():
                self._kick()
            wait = MAX_TIMER_SLEEP_S
            if self._wakeups:
                wait = min(wait, max(0.0, (self._wakeups[0][0] - self._clock.now().timestamp()) / speed))
            await wait_set(self._wake, wait)

    def _collect_due(self) -> int:
        now = self._clock.now().timestamp()
        count = 0
        while self._wakeups and self._wakeups[0][0] <= now:
            _, incident_id, service_id = heapq.heappop(self._wakeups)
            self._due[service_id].add(incident_id)
            count += 1
        return count

    def _remember_deadline(self, incident: Incident) -> None:
        deadline = incident.next_deadline
        if deadline is None or incident.id is None or not incident.is_open:
            return
        earliest = self._wakeups[0][0] if self._wakeups else None
        heapq.heappush(self._wakeups, (deadline.timestamp(), incident.id, incident.service_id))
        if earliest is None or deadline.timestamp() < earliest:
            self._wake.set()

    # -- the one path every change takes --------------------------------------------------

    def _kick(self) -> None:
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        """Group commit: everything pending goes into one transaction, then the next group; in
        a storm, the alerts that open incidents first (`_opening_first`), and while the group's
        occurrences commit, the openings of calls arriving meanwhile (`_openings_beside`)."""
        while self._pending or self._due:
            group, self._pending = self._pending, []
            due, self._due = self._due, defaultdict(set)
            inputs = [item for items, _ in group for item in items]
            replies: dict[str, Reply] = {}
            try:
                first, beside = self._opening_first(inputs)
                if beside is None:
                    replies |= await self._applied(first, due)
                else:
                    if first:
                        replies |= await self._applied(first, {})
                    replies |= await self._openings_beside(beside, due)
            except Exception as exc:  # noqa: BLE001 - every failure means "not durable"
                self._failed(group, due, exc)
                continue
            for items, future in group:
                if not future.done():
                    future.set_result([replies[item.input_id] for item in items])

    async def _applied(self, inputs: list[ServiceInput], due: Due) -> dict[str, Reply]:
        return await apply_isolating(self._apply_checked, inputs, due, self._refused)

    async def _apply_checked(self, inputs: list[ServiceInput], due: dict[str, set[int]]) -> dict[str, Reply]:
        try:
            return await self._apply_durably(inputs, due)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name not in INPUT_KEYS:
                raise
            # An input stored before, re-sent with a later time than the retry
            # window checks: check every id of the group, then apply the rest.
            return await self._apply_durably(inputs, due, check_all=True)

    def _opening_first(self, inputs: list[ServiceInput]) -> tuple[list[ServiceInput], list[ServiceInput] | None]:
        """The group as what commits first and what commits beside the openings of calls
        arriving meanwhile (`_openings_beside`), None when nothing can: the group's deadlines
        go with the last part, as in one transaction.

        In a storm a group holds thousands of occurrences of open incidents and a few alerts
        that open new ones, which are what pages someone: those go first, in a transaction
        of their own, so that their pages go out while the occurrences are written. Only
        when every input is a trigger of an active service: then the two parts touch
        different dedup keys, each key's inputs stay in order in one part, and occurrences
        change no incident's status, so no outcome depends on the order of the parts (the
        cap on unacknowledged incidents included, but for an occurrence that lifts a
        suppression: the openings are then counted as if they had come just before it).
        Should the occurrences fail to commit after the first part did (other than by a
        refusal of some input's data, which only that input is answered), the whole group is
        answered as not durable, as when a commit's answer is lost: a source's retry adds
        occurrences, never a second incident or page. A group of occurrences alone (as the
        gateway sends them, the openings going in calls of their own) commits beside too;
        one with openings and few occurrences commits whole, in one short transaction."""
        split = self._split_openings(inputs)
        if split is None:
            return inputs, None
        opening, occurrences = split
        if not opening:
            return [], occurrences
        if len(occurrences) < OCCURRENCES_TO_SPLIT:
            return inputs, None
        self._stats["opening_first"] += 1
        return opening, occurrences

    async def _openings_beside(self, occurrences: list[ServiceInput], due: Due) -> dict[str, Reply]:
        """Commit a group's occurrences (and deadlines) and, while they commit, the alerts that
        open incidents in calls arriving meanwhile, on the pool's other connection: a new
        incident's first page waits for no one's occurrences.

        The two never touch the same incident: the occurrences' dedup keys are open in memory
        and the openings' are not, and a call is left for the next group when its service has
        deadlines passing here or occurrences of its overflow incident (which openings past
        the cap join). Planning is one at a time (`_planning`), and each adopts its plan once
        durable; a failure of either drops its services from memory, reloaded from the rows.
        A call taken is answered once its openings are durable, or, when it held occurrences
        too, once these are, in the next group (`_answer_later`). Its openings come first, as
        for `_opening_first`."""
        busy = set(due) | {item.service_id for item in occurrences
                           if type(item) is AlertEvent and item.dedup_key == OVERFLOW_KEY}
        commit = asyncio.ensure_future(self._applied(occurrences, due))
        passed: set[int] = set()
        try:
            while not commit.done():
                self._arrived.clear()
                taken = self._take_openings(busy, passed)
                if taken:
                    await self._commit_openings(taken)
                    continue
                arrival = asyncio.ensure_future(self._arrived.wait())
                await asyncio.wait((commit, arrival), return_when=asyncio.FIRST_COMPLETED)
                arrival.cancel()
        finally:
            if not commit.done():  # this drain cancelled: so is its commit
                commit.cancel()
        return await commit

    def _take_openings(self, busy: set[str], passed: set[int]) -> list[Taken]:
        """The pending calls whose alerts are triggers of active services and open incidents
        (some at least, in services not `busy`), each with those alerts and its others; out of
        `_pending`, which keeps the rest in order. `passed` holds the calls found otherwise
        before (by id of their future), which stay so while one group commits: they are not
        looked through again at each arrival."""
        taken: list[Taken] = []
        waiting: list[Call] = []
        for call in self._pending:
            items, future = call
            if id(future) in passed:
                waiting.append(call)
                continue
            split = self._split_openings(items)
            if split is None or not split[0] or (busy and any(item.service_id in busy for item in items)):
                passed.add(id(future))
                waiting.append(call)
            else:
                taken.append(Taken(items, split[0], split[1], future))
        if taken:
            self._pending = waiting
        return taken

    async def _commit_openings(self, taken: list[Taken]) -> None:
        try:
            replies = await self._applied([item for call in taken for item in call.opening], {})
        except Exception as exc:  # noqa: BLE001 - every failure means "not durable"
            self._failed([(call.items, call.future) for call in taken], {}, exc)
            return
        self._stats["openings_beside"] += 1
        for call in taken:
            if call.rest:
                self._answer_later(call, replies)
            elif not call.future.done():
                call.future.set_result([replies[item.input_id] for item in call.items])

    def _answer_later(self, call: Taken, replies: dict[str, Reply]) -> None:
        """Queue the occurrences of a call whose openings are durable (`replies`) for the next
        group; the call is answered with both once those are, or fails with them."""
        rest: asyncio.Future[list[Reply]] = asyncio.get_running_loop().create_future()

        def answer(done: asyncio.Future[list[Reply]]) -> None:
            if call.future.done():
                return
            if done.cancelled():
                call.future.cancel()
                return
            if (exc := done.exception()) is not None:
                call.future.set_exception(exc)
                return
            every = replies | dict(zip((item.input_id for item in call.rest), done.result()))
            call.future.set_result([every[item.input_id] for item in call.items])

        rest.add_done_callback(answer)
        self._pending.append((call.rest, rest))

    def _split_openings(self, inputs: list[ServiceInput]) -> tuple[list[ServiceInput], list[ServiceInput]] | None:
        """The alerts that open incidents and the occurrences of open ones, each in order;
        None unless every input is a trigger of an active service."""
        opening: list[ServiceInput] = []
        occurrences: list[ServiceInput] = []
        for item in inputs:
            service = self._services.get(item.service_id)
            if not isinstance(item, AlertEvent) or item.action is not Action.TRIGGER or service is None:
                return None
            (occurrences if item.dedup_key in service.by_key else opening).append(item)
        return opening, occurrences

    def _refused(self, item: ServiceInput, exc: Exception, reply: Reply) -> None:
        self._stats["refused_inputs"] += 1
        log.warning("shard %d: input %s of service %s refused by the database (%s: %s): %r",
                    self._index, item.input_id, item.service_id, ", ".join(reply.fields), reply.note, exc)

    def _failed(
        self, group: list[Call], due: dict[str, set[int]],
        exc: Exception,
    ) -> None:
        self._stats["failed_transactions"] += 1
        count = sum(len(items) for items, _ in group)
        log.warning("shard %d: batch of %d inputs, %d services due not committed: %r",
                    self._index, count, len(due), exc)
        error = ShardCommitError(f"batch not committed: {exc!r}")
        for _, future in group:
            if not future.done():
                future.set_exception(error)
        retry_at = self._clock.now().timestamp() + DEADLINE_RETRY_S * self._clock.speed
        for service_id, incident_ids in due.items():
            for incident_id in incident_ids or (0,):  # 0: reactivate only (no incident has id 0)
                heapq.heappush(self._wakeups, (retry_at, incident_id, service_id))
        self._wake.set()

    async def _apply_durably(
        self, inputs: list[ServiceInput], due: dict[str, set[int]], check_all: bool = False
    ) -> dict[str, Reply]:
        replies: dict[str, Reply] = {}
        started = time.perf_counter()
        now = self._clock.now()
        plans: list[Plan] = []
        try:
            async with self._database.connection() as conn:
                async with self._planning:
                    await self._activate(conn, {item.service_id for item in inputs} | set(due))
                    fresh = await self._skip_applied(conn, inputs, replies, check_all)
                    plans = await self._plan(conn, fresh, due, now)
                if any(_writes(plan) for plan in plans):
                    await store.write_plans(conn, plans, now)
        except BaseException:
            # The commit may have happened after all (its answer lost, or the connection
            # failing as it went back to the pool after it): reload those services from rows.
            for plan in plans:
                self._services.pop(plan.service_id, None)
            raise
        for plan in plans:
            self._adopt(plan, replies)
        if self._publisher is not None:  # after the commit, behind the reply
            self._publisher.offer([plan for plan in plans if plan.changed or plan.log])
        self._nudge({n.notification.channel for plan in plans for n in plan.notifications
                     if n.notification.send_at <= now})
        self._stats["transactions"] += 1
        self._stats["inputs"] += len(inputs)
        self._stats["deadlines_fired"] += sum(len(ids) for ids in due.values())
        elapsed = time.perf_counter() - started
        self._stats["last_commit_ms"] = round(elapsed * 1000, 2)
        self._measures.record_batch(len(inputs), plans, elapsed)
        return replies

    async def _activate(self, conn: asyncpg.Connection, service_ids: set[str]) -> None:
        missing = [s for s in service_ids if s not in self._services]
        if not missing:
            return
        found = await store.load_open(conn, missing)
        for service_id in missing:
            service = self._services[service_id] = ServiceIncidents(service_id, found.get(service_id, ()))
            for incident in service.incidents():
                self._remember_deadline(incident)

    async def _skip_applied(
        self, conn: asyncpg.Connection, inputs: list[ServiceInput], replies: dict[str, Reply], check_all: bool = False
    ) -> list[ServiceInput]:
        """Drop inputs seen before: repeated within the group, or stored by an earlier call
        (checked for inputs that may be a retry, or for all with `check_all`)."""
        unique: dict[str, ServiceInput] = {}
        for item in inputs:
            if item.input_id in unique:
                replies[item.input_id] = Reply(Outcome.DUPLICATE.value)
            else:
                unique[item.input_id] = item
        cutoff = self._started_at + RETRY_WINDOW
        maybe_seen = [i for i, item in unique.items() if check_all or item.received_at < cutoff]
        for input_id in await store.already_applied(conn, maybe_seen) if maybe_seen else ():
            del unique[input_id]
            replies[input_id] = Reply(Outcome.DUPLICATE.value)
        return list(unique.values())

    async def _plan(
        self, conn: asyncpg.Connection, inputs: list[ServiceInput], due: dict[str, set[int]], now: datetime
    ) -> list[Plan]:
        """Plan each service's inputs and deadlines against the paging configuration, checked
        to be current whenever the plan pages or opens an incident; then resolve the pages."""
        by_service: dict[str, list[ServiceInput]] = defaultdict(list)
        for item in inputs:
            by_service[item.service_id].append(item)
        for service_id in due:
            by_service.setdefault(service_id, [])
        directory = self._directory
        if not directory.ready:
            await directory.refresh(conn)
        policy_ids = self._policies_needed(inputs, due)
        await directory.load(conn, by_service, policy_ids, now)
        plans = self._plan_all(by_service, due, now)
        if any(p.pages or p.new_incidents for p in plans) and await directory.refresh(conn):
            await directory.load(conn, by_service, policy_ids, now)
            plans = self._plan_all(by_service, due, now)  # planning is pure: doing it again is safe
        await self._resolve_pages(conn, plans, now)
        return plans

    def _plan_all(self, by_service: dict[str, list[ServiceInput]], due: dict[str, set[int]], now: datetime) -> list[Plan]:
        directory = self._directory
        return [
            self._services[sid].plan(items, Walks(directory.config(sid), directory.policies), due.get(sid, ()), now)
            for sid, items in by_service.items()
        ]

    def _policies_needed(self, inputs: list[ServiceInput], due: dict[str, set[int]]) -> set[str | None]:
        """Policies of the incidents that commands or deadlines touch, and those named by reassignments."""
        wanted: set[str | None] = set()
        touched = [(i.service_id, i.incident_id) for i in inputs if isinstance(i, IncidentCommand)]
        touched += [(sid, iid) for sid, ids in due.items() for iid in ids]
        for service_id, incident_id in touched:
            incident = self._services[service_id].get(incident_id)
            if incident is not None:
                wanted.add(incident.policy_id)
        wanted.update(i.policy_id for i in inputs if isinstance(i, IncidentCommand))
        return wanted

    async def _resolve_pages(self, conn: asyncpg.Connection, plans: list[Plan], now: datetime) -> None:
        pages = [page for plan in plans for page in plan.pages]
        if not pages:
            return
        lookup = await self._directory.lookup(conn, pages, now)
        for plan in plans:
            for planned in plan.pages:
                notifications, message = page_notifications(planned.page, planned.incident.urgency, lookup)
                plan.notifications += [PlannedNotification(planned.incident, planned, n) for n in notifications]
                plan.log.append(LogEntry(planned.incident, planned.page.at, "paged", "tocsin", message, None))

    def _nudge(self, channels: set[str]) -> None:
        """Tell the channel actors that notifications are due now (they also poll)."""
        nudger = self._channel_nudger() if channels else None
        if nudger is not None:
            nudger.nudge(channels)

    def _channel_nudger(self) -> ChannelNudger | None:
        """The nudger, made on first use on Ray (None elsewhere), every channel's actor looked
        up at once in the background, so that the first page waits for no lookup."""
        if self._nudger is None and ray.is_initialized():
            self._nudger = ChannelNudger(ray.get_runtime_context().namespace)
            self._nudger.warm(CHANNELS)
        return self._nudger

    def _adopt(self, plan: Plan, replies: dict[str, Reply]) -> None:
        # A service missing here was dropped by a failure of the other transaction under way
        # (see `_openings_beside`): its next touch reloads it from the rows, this plan's too.
        service = self._services.get(plan.service_id)
        if service is not None:
            service.commit(plan)
        # Replies are immutable and, in a storm, mostly the same few: one per incident and
        # outcome is made and shared, which also pickles once per call.
        made: dict[tuple[Outcome, int, str | None], Reply] = {}
        for applied in plan.applied:
            item, outcome, incident, note = applied
            key = (outcome, id(incident), note)
            reply = made.get(key)
            if reply is None:
                reply = made[key] = Reply.of(applied)
            replies[item.input_id] = reply
        for draft in plan.changed.values():
            self._remember_deadline(draft)
        self._stats["pages"] += len(plan.pages)
        self._stats["notifications"] += len(plan.notifications)
        if service is not None and not service:  # nothing open: passivate; the next touch reloads it
            del self._services[plan.service_id]


def _writes(plan: Plan) -> bool:
    return bool(plan.changed or plan.applied or plan.log)


ServiceShardActor: Any = ray.remote(ServiceShard)


def shard_options(index: int, namespace: str) -> dict[str, Any]:
    return detached_options(shard_name(index), namespace, max_concurrency=10_000)
