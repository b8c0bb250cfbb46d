"""Shift handoffs: the notices people get about their shifts and the reachability checks,
computed from schedules with rotations, restrictions and overrides, across DST."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from tocsin.actors.domain.escalation_state import Level, Policy, Target, TargetKind
from tocsin.actors.domain.handoffs import NoticeKind, Preference, next_level_targets, plan, turns
from tocsin.actors.domain.schedule import Layer, Override, Restriction, Rotation, Schedule, Unit

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def daily(tz: ZoneInfo, start: datetime, *people: str, handoff: time = time(9)) -> Schedule:
    return Schedule(tz, (Layer(Rotation(people, start, 1, Unit.DAYS, handoff)),))


def notices(schedule: Schedule, people: dict[str, Preference], now: datetime, horizon: timedelta = DAY,
            grace: timedelta = timedelta(minutes=5)) -> list[tuple[str, str, datetime, str]]:
    found = plan(schedule, "Primary", people, now, horizon, grace).notices
    return sorted((n.user_id, n.kind.value, n.send_at, n.text) for n in found)


def test_a_daily_handoff_tells_the_incoming_person_ahead_and_at_the_start_and_the_outgoing_at_the_end() -> None:
    schedule = daily(BERLIN, datetime(2026, 1, 5, 9, tzinfo=BERLIN), "ann", "bob")
    people = {"ann": Preference(timedelta(minutes=30), BERLIN), "bob": Preference(timedelta(minutes=30), BERLIN)}
    now = datetime(2026, 1, 5, 12, tzinfo=BERLIN)  # Ann's day; Bob takes over at 09:00 tomorrow

    found = notices(schedule, people, now, horizon=timedelta(hours=22))

    handoff = datetime(2026, 1, 6, 9, tzinfo=BERLIN)
    assert found == [
        ("ann", "ended", handoff, "Your on-call shift for Primary ended at 09:00 Europe/Berlin."),
        ("bob", "started", handoff,
         "Your on-call shift for Primary starts now, until Wed 07 Jan 09:00 Europe/Berlin."),
        ("bob", "upcoming", handoff - timedelta(minutes=30),
         "Your on-call shift for Primary starts at 09:00 Europe/Berlin (in 30 min)."),
    ]


def test_only_people_who_want_notices_get_them_and_a_zero_lead_sends_no_advance_notice() -> None:
    schedule = daily(BERLIN, datetime(2026, 1, 5, 9, tzinfo=BERLIN), "ann", "bob")
    now = datetime(2026, 1, 6, 8, tzinfo=BERLIN)

    found = notices(schedule, {"bob": Preference(timedelta(0), BERLIN)}, now, horizon=2 * HOUR)

    assert [(user, kind) for user, kind, _, _ in found] == [("bob", "started")]


def test_an_override_makes_handoffs_of_its_own_and_is_one_turn_with_the_same_persons_layer_shift() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=BERLIN)
    layer = Layer(Rotation(("ann", "bob"), start, 1, Unit.DAYS, time(9)))
    covering = Override("cy", datetime(2026, 1, 5, 18, tzinfo=BERLIN), datetime(2026, 1, 5, 20, tzinfo=BERLIN))
    # Bob's override runs into his own layer shift at 09:00: one turn, no handoff at 09:00.
    early = Override("bob", datetime(2026, 1, 6, 7, tzinfo=BERLIN), datetime(2026, 1, 6, 9, tzinfo=BERLIN))
    schedule = Schedule(BERLIN, (layer,), (covering, early))

    found = turns(schedule, datetime(2026, 1, 5, 12, tzinfo=BERLIN), datetime(2026, 1, 6, 12, tzinfo=BERLIN))

    assert [(t.user_id, t.start.astimezone(BERLIN).hour, t.end.astimezone(BERLIN).hour, t.starts, t.ends)
            for t in found] == [("ann", 12, 18, False, True), ("cy", 18, 20, True, True),
                                ("ann", 20, 7, True, True), ("bob", 7, 12, True, False)]


def test_a_handoff_across_the_spring_forward_night_keeps_its_wall_time_and_the_lead_is_real_time() -> None:
    # Europe/Berlin jumps from 02:00 to 03:00 on 29 March 2026; the handoff is at 03:30.
    schedule = daily(BERLIN, datetime(2026, 3, 27, 3, 30, tzinfo=BERLIN), "ann", "bob", handoff=time(3, 30))
    now = datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN)  # 23:00 UTC

    found = notices(schedule, {"ann": Preference(2 * HOUR, BERLIN)}, now, horizon=4 * HOUR)

    start = datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)
    assert start.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # Two real hours before 03:30 CEST is 00:30 CET, one wall-clock hour earlier than it looks.
    assert [(kind, at.astimezone(UTC)) for _, kind, at, _ in found] == [
        ("started", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)), ("upcoming", datetime(2026, 3, 28, 23, 30, tzinfo=UTC))]
    assert found[1][3].endswith("starts at 03:30 Europe/Berlin (in 2 h).")


def test_a_notice_whose_time_passed_goes_now_and_an_advance_notice_too_close_to_the_start_is_left_out() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    override = Override("cy", start + 10 * timedelta(minutes=1), start + 2 * HOUR)
    schedule = Schedule(BERLIN, (), (override,))
    people = {"cy": Preference(timedelta(minutes=30), BERLIN)}

    late = notices(schedule, people, start)  # made 10 minutes before it starts
    assert [(kind, at) for _, kind, at, _ in late][-1] == ("upcoming", start)
    assert late[-1][3].endswith("(in 10 min).")

    too_close = notices(schedule, people, start + timedelta(minutes=9, seconds=30))
    assert [kind for _, kind, _, _ in too_close] == ["ended", "started"]


def test_a_restriction_makes_handoffs_each_day() -> None:
    start = datetime(2026, 1, 5, 0, tzinfo=BERLIN)  # a Monday
    layer = Layer(Rotation(("ann",), start, 1, Unit.WEEKS), Restriction.weekdays(time(9), time(17)))
    schedule = Schedule(BERLIN, (layer,))

    found = notices(schedule, {"ann": Preference(timedelta(0), BERLIN)}, datetime(2026, 1, 5, 8, tzinfo=BERLIN))

    assert [(kind, at.astimezone(BERLIN).hour) for _, kind, at, _ in found] == [("ended", 17), ("started", 9)]
    assert plan(schedule, "P", {"ann": Preference(timedelta(0), BERLIN)}, datetime(2026, 1, 5, 8, tzinfo=BERLIN),
                2 * DAY, timedelta(0)).notices[2].at == datetime(2026, 1, 6, 9, tzinfo=BERLIN)  # and each day after


def test_checks_are_due_a_lead_before_each_turn_ahead_and_at_once_when_that_passed() -> None:
    schedule = daily(BERLIN, datetime(2026, 1, 5, 9, tzinfo=BERLIN), "ann", "bob")
    now = datetime(2026, 1, 6, 8, 30, tzinfo=BERLIN)

    found = plan(schedule, "Primary", {}, now, 2 * HOUR, timedelta(minutes=5), check_lead=HOUR)

    [check] = found.checks
    assert (check.user_id, check.shift_start, check.due, check.send_at) == (
        "bob", datetime(2026, 1, 6, 9, tzinfo=BERLIN), datetime(2026, 1, 6, 8, tzinfo=BERLIN), now)
    assert ("bob", datetime(2026, 1, 6, 9, tzinfo=BERLIN)) in found.check_keys
    assert plan(schedule, "Primary", {}, now, 2 * HOUR, timedelta(minutes=5)).checks == ()


def test_the_keys_that_hold_change_when_an_override_moves_the_handoff() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    people = {"cy": Preference(timedelta(minutes=30), UTC_ZONE)}
    before = plan(Schedule(UTC_ZONE, (), (Override("cy", start + HOUR, start + 3 * HOUR),)), "P", people, start,
                  DAY, timedelta(minutes=5))
    after = plan(Schedule(UTC_ZONE, (), (Override("cy", start + 2 * HOUR, start + 3 * HOUR),)), "P", people, start,
                 DAY, timedelta(minutes=5))

    assert ("cy", NoticeKind.STARTED.value, start + HOUR) in before.notice_keys - after.notice_keys
    assert ("cy", NoticeKind.ENDED.value, start + 3 * HOUR) in before.notice_keys & after.notice_keys



def test_a_missed_check_is_told_to_the_level_after_the_one_paging_the_schedule() -> None:
    schedule, boss, team = (Target(TargetKind.SCHEDULE, "s1"), Target(TargetKind.USER, "boss"),
                            Target(TargetKind.SCHEDULE, "s2"))
    policy = Policy((Level(5, (schedule,)), Level(5, (boss, team))))

    assert next_level_targets(policy, "s1") == [boss, team]
    assert next_level_targets(policy, "s2") == []  # the last level has nobody after it
    assert next_level_targets(Policy(policy.levels, repeat=1), "s2") == [schedule]
