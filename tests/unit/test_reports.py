"""On-call health reports computed from a fixture whose figures were worked out by hand.

The people: Anna in Europe/Berlin, Ben in America/New_York, Chen in UTC. The pages fall on
both sides of the daylight saving changes of 2026: Berlin moves to CEST (UTC+2) on Sunday
29 March at 01:00 UTC and back to CET (UTC+1) on Sunday 25 October; New York moves to EDT
(UTC-4) on Sunday 8 March at 07:00 UTC and back to EST (UTC-5) on Sunday 1 November. Several
pages are at 07:30 or 06:30 local, so an offset taken from the wrong side of a change would
move them across the 07:00 end of the night, and two are on a different day in UTC than at
the person's home, so a weekend read in UTC would be wrong.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tocsin.actors.domain.reports import (
    DeliveryRow,
    IncidentRow,
    LogRow,
    Person,
    RuleMatchRow,
    build_report,
    durations,
    nearest_rank,
)

A, B = "svc-a", "svc-b"
ANNA, BEN, CHEN = "u-anna", "u-ben", "u-chen"
PEOPLE = [Person(ANNA, "Anna", "Europe/Berlin"), Person(BEN, "Ben", "America/New_York"), Person(CHEN, "Chen", "UTC")]
START, END = datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 11, 30, tzinfo=timezone.utc)


def utc(month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=timezone.utc)


def incident(id: int, service: str, key: str, created: datetime, resolved: datetime | None, occurrences: int = 1,
             suppressed: bool = False) -> IncidentRow:
    return IncidentRow(id, service, key, f"summary {id}", created, resolved, occurrences, suppressed)


INCIDENTS = [
    incident(1, A, "disk-full", utc(3, 29, 5, 29), utc(3, 29, 6, 29), occurrences=3),
    incident(2, A, "disk-full", utc(3, 30, 5, 29, 30), utc(3, 30, 5, 59, 30)),
    incident(3, A, "latency", utc(10, 26, 5, 29), utc(10, 26, 7, 29)),
    incident(4, B, "5xx", utc(3, 9, 11, 25), utc(3, 9, 12, 25), occurrences=10),
    incident(5, B, "5xx", utc(3, 9, 2, 20), utc(3, 9, 3, 20)),
    incident(6, B, "5xx", utc(3, 7, 3, 25), None),
    incident(7, B, "cpu", utc(11, 2, 11, 29), utc(11, 2, 11, 31)),
    incident(8, A, "noise", utc(10, 24, 20, 0), utc(10, 24, 20, 10), occurrences=5, suppressed=True),
    incident(9, A, "latency", utc(10, 24, 20, 29), utc(10, 24, 21, 29), occurrences=5),
]

PERSON, SOURCE = True, False  # LogRow.by_person: a command, or an alert / Tocsin itself
LOG = [
    LogRow(1, utc(3, 29, 5, 33), "acknowledged", PERSON),
    LogRow(1, utc(3, 29, 6, 29), "resolved", SOURCE),  # the source resolved it: no action
    LogRow(2, utc(3, 30, 5, 31, 30), "acknowledged", PERSON),
    LogRow(2, utc(3, 30, 5, 40), "note", PERSON),  # someone wrote a note: an action
    LogRow(2, utc(3, 30, 5, 59, 30), "resolved", PERSON),
    LogRow(3, utc(10, 26, 5, 45), "escalated", SOURCE),  # Tocsin's walk, before the acknowledgement
    LogRow(3, utc(10, 26, 5, 49), "acknowledged", PERSON),
    LogRow(3, utc(10, 26, 7, 29), "resolved", SOURCE),  # auto-resolved after the acknowledgement
    LogRow(4, utc(3, 9, 11, 40), "acknowledged", SOURCE),  # the source acknowledged: not in MTTA
    LogRow(4, utc(3, 9, 12, 25), "resolved", PERSON),
    LogRow(5, utc(3, 9, 2, 50), "acknowledged", PERSON),
    LogRow(5, utc(3, 9, 2, 51), "snoozed", PERSON),  # an action
    LogRow(5, utc(3, 9, 3, 20), "resolved", PERSON),
    LogRow(7, utc(11, 2, 11, 30, 30), "acknowledged", PERSON),
    LogRow(7, utc(11, 2, 11, 31), "resolved", PERSON),  # acknowledged, then resolved: no action between
    LogRow(8, utc(10, 24, 20, 5), "acknowledged", PERSON),  # suppressed: not counted anywhere but apart
    LogRow(8, utc(10, 24, 20, 10), "resolved", SOURCE),
    LogRow(9, utc(10, 24, 20, 32), "acknowledged", PERSON),
    LogRow(9, utc(10, 24, 20, 40), "paused", SOURCE),  # Tocsin's own entry is no one's action
    LogRow(9, utc(10, 24, 21, 29), "resolved", SOURCE),
    LogRow(99, utc(4, 1, 0, 0), "acknowledged", PERSON),  # an incident outside the report
]

DELIVERIES = [
    # Incident 1: Anna's first page went by push at 05:30 and by SMS at 05:31: one page, at 05:30.
    # 05:30 UTC on Sun 29 March is 07:30 CEST (CET would say 06:30, night): a weekend page, not a night one.
    DeliveryRow(1, 1, ANNA, utc(3, 29, 5, 31)),
    DeliveryRow(1, 1, ANNA, utc(3, 29, 5, 30)),
    # Incident 2: 05:30 UTC on Mon 30 March is 07:30 CEST: neither.
    DeliveryRow(2, 1, ANNA, utc(3, 30, 5, 30)),
    # Incident 3: 05:30 UTC on Mon 26 October is 06:30 CET (CEST would say 07:30): night.
    DeliveryRow(3, 1, ANNA, utc(10, 26, 5, 30)),
    # ...and its second page to Ben, 05:45 UTC = 01:45 EDT (New York changes on 1 November): night.
    DeliveryRow(3, 2, BEN, utc(10, 26, 5, 45)),
    # Incident 4: 11:30 UTC on Mon 9 March is 07:30 EDT (EST would say 06:30, night): neither.
    DeliveryRow(4, 1, BEN, utc(3, 9, 11, 30)),
    # Incident 5: 02:30 UTC on Mon 9 March is 22:30 EDT on Sunday 8 March: night and weekend for Ben
    # (a Monday in UTC); for Chen it is 02:30 UTC on a Monday: night only.
    DeliveryRow(5, 1, BEN, utc(3, 9, 2, 30)),
    DeliveryRow(5, 1, CHEN, utc(3, 9, 2, 30)),
    # Incident 6: 03:30 UTC on Sat 7 March is 22:30 EST on Friday 6 March: night, not a weekend.
    DeliveryRow(6, 1, BEN, utc(3, 7, 3, 30)),
    # Incident 7: 11:30 UTC on Mon 2 November is 06:30 EST (EDT would say 07:30): night.
    DeliveryRow(7, 1, BEN, utc(11, 2, 11, 30)),
    # Incident 9: 20:30 UTC on Sat 24 October is 22:30 CEST: night and weekend.
    DeliveryRow(9, 1, ANNA, utc(10, 24, 20, 30)),
    DeliveryRow(99, 1, ANNA, utc(4, 1, 0, 0)),  # outside the report
]

MATCHES = [
    RuleMatchRow(1, "r1", 2), RuleMatchRow(2, "r1", 1), RuleMatchRow(8, "r1", 5),  # 8 is suppressed
    RuleMatchRow(5, "r2", 1), RuleMatchRow(6, "r2", 1), RuleMatchRow(7, "r2", 1),
    RuleMatchRow(3, "r3", 1),
]


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    return build_report(START, END, INCIDENTS, LOG, DELIVERIES, MATCHES, PEOPLE, top=3)


def test_incidents_are_counted_by_how_they_ended(report) -> None:  # type: ignore[no-untyped-def]
    t = report.totals
    assert t.incidents == 9
    assert t.suppressed == 1  # incident 8
    assert t.acknowledged_by_person == 6  # 1, 2, 3, 5, 7, 9 (8 is suppressed)
    assert t.acknowledged_by_source == 1  # 4
    assert (t.resolved, t.open) == (8, 1)  # 6 is open
    assert t.acknowledged_without_action == 4  # 1 (source resolved), 3 (auto), 7 (no action), 9 (Tocsin's entry)


def test_mtta_and_mttr_take_nearest_rank_median_and_p90(report) -> None:  # type: ignore[no-untyped-def]
    # MTTA, acknowledged by a person: 1: 05:33-05:29 = 240 s; 2: 05:31:30-05:29:30 = 120 s;
    # 3: 05:49-05:29 = 1200 s; 5: 02:50-02:20 = 1800 s; 7: 11:30:30-11:29 = 90 s; 9: 20:32-20:29 = 180 s.
    # Sorted 90 120 180 240 1200 1800 (n = 6): median rank ceil(3) = 3 -> 180; p90 rank ceil(5.4) = 6 -> 1800.
    mtta = report.totals.mtta
    assert (mtta.count, mtta.median_s, mtta.p90_s) == (6, 180, 1800)
    # Buckets up to 60, 300, 900, 1800, 3600, 4 h, 24 h, more: 90 120 180 240 | 1200 1800.
    assert mtta.buckets == (0, 4, 0, 2, 0, 0, 0, 0)
    # MTTR, resolved and not suppressed: 1: 3600; 2: 05:59:30-05:29:30 = 1800; 3: 07:29-05:29 = 7200;
    # 4: 12:25-11:25 = 3600; 5: 03:20-02:20 = 3600; 7: 11:31-11:29 = 120; 9: 21:29-20:29 = 3600.
    # Sorted 120 1800 3600 3600 3600 3600 7200 (n = 7): median rank ceil(3.5) = 4 -> 3600;
    # p90 rank ceil(6.3) = 7 -> 7200.
    mttr = report.totals.mttr
    assert (mttr.count, mttr.median_s, mttr.p90_s) == (7, 3600, 7200)


def test_night_and_weekend_pages_are_judged_in_each_persons_zone_across_dst(report) -> None:  # type: ignore[no-untyped-def]
    people = {p.name: p for p in report.people}
    # Anna: 1 (Sun 07:30 CEST: weekend), 2 (Mon 07:30 CEST), 3 (Mon 06:30 CET: night), 9 (Sat 22:30 CEST: both).
    anna = people["Anna"]
    assert (anna.pages, anna.night_pages, anna.weekend_pages, anna.off_hours_pages) == (4, 2, 2, 3)
    # Ben: 3 (Mon 01:45 EDT: night), 4 (Mon 07:30 EDT), 5 (Sun 22:30 EDT: both), 6 (Fri 22:30 EST: night),
    # 7 (Mon 06:30 EST: night).
    ben = people["Ben"]
    assert (ben.pages, ben.night_pages, ben.weekend_pages, ben.off_hours_pages) == (5, 4, 1, 4)
    chen = people["Chen"]  # 5 (Mon 02:30 UTC: night)
    assert (chen.pages, chen.night_pages, chen.weekend_pages, chen.off_hours_pages) == (1, 1, 0, 1)
    assert [p.name for p in report.people] == ["Ben", "Anna", "Chen"]  # most pages first
    assert [p.incidents for p in report.people] == [5, 4, 1]
    t = report.totals
    assert (t.pages, t.night_pages, t.weekend_pages, t.off_hours_pages) == (10, 7, 3, 8)


def test_each_service_has_its_own_figures(report) -> None:  # type: ignore[no-untyped-def]
    a, b = report.services  # most incidents first
    assert (a.service_id, b.service_id) == (A, B)
    # A: 1, 2, 3, 8 (suppressed), 9. MTTA 120 180 240 1200: median rank 2 -> 180, p90 rank ceil(3.6) = 4 -> 1200.
    # MTTR 1800 3600 3600 7200: median rank 2 -> 3600, p90 rank 4 -> 7200. Pages: 1, 1, 2 (Anna, Ben), 1.
    ta = a.totals
    assert (ta.incidents, ta.suppressed, ta.acknowledged_by_person, ta.acknowledged_without_action) == (5, 1, 4, 3)
    assert (ta.mtta.median_s, ta.mtta.p90_s, ta.mttr.median_s, ta.mttr.p90_s) == (180, 1200, 3600, 7200)
    assert (ta.pages, ta.night_pages, ta.weekend_pages, ta.off_hours_pages) == (5, 3, 2, 4)
    # B: 4, 5, 6, 7. MTTA 90 1800: median rank 1 -> 90, p90 rank ceil(1.8) = 2 -> 1800.
    # MTTR 120 3600 3600: median rank 2 -> 3600, p90 rank ceil(2.7) = 3 -> 3600.
    tb = b.totals
    assert (tb.incidents, tb.acknowledged_by_person, tb.acknowledged_by_source, tb.open) == (4, 2, 1, 1)
    assert (tb.mtta.median_s, tb.mtta.p90_s, tb.mttr.median_s, tb.mttr.p90_s) == (90, 1800, 3600, 3600)
    assert (tb.pages, tb.night_pages, tb.weekend_pages, tb.off_hours_pages) == (5, 4, 1, 4)


def test_the_noisiest_alerts_rank_by_incidents_then_pages(report) -> None:  # type: ignore[no-untyped-def]
    # 5xx: 3 incidents (4, 5, 6), pages 1+2+1 = 4; latency: 2 incidents, pages 2+1 = 3; disk-full: 2 incidents,
    # pages 1+1 = 2; cpu (1 incident) is fourth, past top=3; the suppressed "noise" is left out.
    assert [(a.dedup_key, a.incidents, a.occurrences, a.pages, a.acknowledged_without_action)
            for a in report.alerts] == [("5xx", 3, 12, 4, 0), ("latency", 2, 6, 3, 2), ("disk-full", 2, 4, 2, 1)]
    assert report.alerts[0].summary == "summary 4"  # the latest incident's


def test_the_noisiest_rules_count_the_incidents_their_alerts_opened_or_joined(report) -> None:  # type: ignore[no-untyped-def]
    # r2: 5, 6, 7 (pages 2+1+1); r1: 1, 2 (8 is suppressed; alerts 2+1); r3: 3 (pages 2).
    assert [(r.rule_id, r.incidents, r.alerts, r.pages, r.acknowledged_without_action) for r in report.rules] == [
        ("r2", 3, 3, 4, 1), ("r1", 2, 3, 2, 1), ("r3", 1, 1, 2, 1)]


def test_nearest_rank_percentiles() -> None:
    assert nearest_rank([], 50) is None
    assert nearest_rank([7.0], 90) == 7.0
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 50) == 2.0  # the lower middle value
    assert nearest_rank([float(v) for v in range(1, 11)], 90) == 9.0  # rank ceil(9) = 9
    assert nearest_rank([float(v) for v in range(1, 12)], 90) == 10.0  # rank ceil(9.9) = 10
    spread = durations([timedelta(seconds=s) for s in (60, 61, 86400, 86401)])
    assert spread.buckets == (1, 1, 0, 0, 0, 0, 1, 1)  # bounds are inclusive


def test_an_empty_period_has_zero_counts_and_no_durations() -> None:
    empty = build_report(START, END, [], [], [], [], [])
    assert empty.totals.incidents == 0 and empty.totals.mtta.median_s is None and empty.totals.mttr.p90_s is None
    assert (empty.services, empty.people, empty.alerts, empty.rules) == ([], [], [], [])


def test_an_unknown_zone_is_read_as_utc() -> None:
    # 23:00 UTC on Wed 1 April: night in UTC (in Europe/Berlin it would be 01:00 too, but not in Asia/Tokyo).
    row = incident(1, A, "k", utc(4, 1, 22, 59), None)
    report = build_report(START, END, [row], [], [DeliveryRow(1, 1, "u-x", utc(4, 1, 23, 0))],
                          [], [Person("u-x", "X", "Not/AZone")])
    assert report.people[0].night_pages == 1
