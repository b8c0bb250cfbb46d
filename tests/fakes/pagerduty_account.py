"""A realistic PagerDuty account, in the shapes PagerDuty's REST API v2 returns: 30 users with
contact methods and notification rules, 8 schedules across 4 time zones (layers, restrictions,
overrides), 6 escalation policies, 12 services with their Events API v2 integrations, and
maintenance windows.

Everything that happens in time is placed around `window_start`, the beginning of the 14 days
a test compares: `dst_window_start()` picks one so that a zone of the account changes its
clocks inside those days. Handoffs and restriction edges keep clear of the hours clocks jump
(01:00-03:00 local), where PagerDuty's behaviour is not documented.

A few things in it have no Tocsin equivalent on purpose (a non-Events integration, a
support-hours urgency rule, a contact method Tocsin cannot page), so the import's report has
something to say.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

ZONES = ("America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Sydney")
DAY = 86_400
WEEK = 7 * DAY

_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gita", "Hugo", "Ines", "Jun", "Kofi", "Lena", "Mateo",
          "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen", "Xavi", "Yuki", "Zane",
          "Aiko", "Bruno", "Carla", "Dmitri")
_LAST = ("Lima", "Okafor", "Martin", "Patel", "Yilmaz", "Adeyemi", "Rao", "Laurent", "Silva", "Sato", "Mensah",
         "Weber", "Garcia", "Brown", "Haddad", "Iyer", "Walsh", "Rossi", "Berg", "Kaur", "Farouk", "Novak", "Li",
         "Puig", "Tanaka", "Cole", "Mori", "Costa", "Ruiz", "Volkov")


def dst_window_start(now: datetime, zones: tuple[str, ...] = ZONES) -> datetime:
    """Midnight UTC on the day before the first clock change after `now` in any of `zones`."""
    day = now.astimezone(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
    for _ in range(400):
        nxt = day + timedelta(days=1)
        if any(day.astimezone(ZoneInfo(z)).utcoffset() != nxt.astimezone(ZoneInfo(z)).utcoffset() for z in zones):
            return day.replace(hour=0)
        day = nxt
    raise AssertionError("no clock change within 400 days")


def _ref(kind: str, id_: str, summary: str = "") -> dict[str, Any]:
    return {"id": id_, "type": f"{kind}_reference", "summary": summary}


def _iso(at: datetime) -> str:
    return at.isoformat()


def users() -> list[dict[str, Any]]:
    people = []
    for n in range(30):
        uid = f"PU{n:05d}"
        name = f"{_FIRST[n]} {_LAST[n]}"
        email = f"{_FIRST[n].lower()}.{_LAST[n].lower()}@pd-import.example"
        methods: list[dict[str, Any]] = [
            {"id": f"PCE{n:04d}", "type": "email_contact_method", "label": "Work", "address": email,
             "summary": "Work"},
            {"id": f"PCS{n:04d}", "type": "sms_contact_method", "label": "Mobile", "country_code": 1,
             "address": f"20255501{n:02d}", "enabled": True, "summary": "Mobile"},
            {"id": f"PCP{n:04d}", "type": "phone_contact_method", "label": "Mobile", "country_code": 44,
             "address": f"77009000{n:02d}", "summary": "Mobile"},
        ]
        rules = [
            {"id": f"PNA{n:04d}", "type": "assignment_notification_rule", "start_delay_in_minutes": 0,
             "urgency": "high", "contact_method": _ref("email_contact_method", f"PCE{n:04d}")},
            {"id": f"PNB{n:04d}", "type": "assignment_notification_rule", "start_delay_in_minutes": 2,
             "urgency": "high", "contact_method": _ref("sms_contact_method", f"PCS{n:04d}")},
            {"id": f"PNC{n:04d}", "type": "assignment_notification_rule", "start_delay_in_minutes": 10,
             "urgency": "high", "contact_method": _ref("phone_contact_method", f"PCP{n:04d}")},
            {"id": f"PND{n:04d}", "type": "assignment_notification_rule", "start_delay_in_minutes": 0,
             "urgency": "low", "contact_method": _ref("email_contact_method", f"PCE{n:04d}")},
        ]
        if n % 10 == 3:  # a phone app: PagerDuty's own push, which Tocsin cannot page
            methods.append({"id": f"PCA{n:04d}", "type": "push_notification_contact_method", "label": "iPhone",
                            "address": f"device-token-{n}", "summary": "iPhone"})
            rules.append({"id": f"PNE{n:04d}", "type": "assignment_notification_rule", "start_delay_in_minutes": 1,
                          "urgency": "high", "contact_method": _ref("push_notification_contact_method", f"PCA{n:04d}")})
        people.append({
            "id": uid, "type": "user", "summary": name, "name": name, "email": email,
            "time_zone": ZONES[n % 4], "role": "admin" if n == 0 else ("observer" if n == 29 else "user"),
            "contact_methods": methods, "notification_rules": rules,
        })
    return people


def _user_refs(indexes: list[int]) -> list[dict[str, Any]]:
    return [{"user": _ref("user", f"PU{i:05d}", f"{_FIRST[i]} {_LAST[i]}")} for i in indexes]


def _local(zone: str, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))


def _layer(lid: str, name: str, zone: str, virtual_start: datetime, turn_s: int, people: list[int],
           restrictions: list[dict[str, Any]] | None = None, start: datetime | None = None,
           end: datetime | None = None) -> dict[str, Any]:
    return {
        "id": lid, "name": name, "start": _iso(start or virtual_start), "end": _iso(end) if end else None,
        "rotation_virtual_start": _iso(virtual_start), "rotation_turn_length_seconds": turn_s,
        "users": _user_refs(people), "restrictions": restrictions or [],
    }


def _daily(hour: int, minute: int, seconds: int) -> dict[str, Any]:
    return {"type": "daily_restriction", "start_time_of_day": f"{hour:02d}:{minute:02d}:00", "duration_seconds": seconds}


def _weekly(day: int, hour: int, minute: int, seconds: int) -> dict[str, Any]:
    return {"type": "weekly_restriction", "start_day_of_week": day, "start_time_of_day": f"{hour:02d}:{minute:02d}:00",
            "duration_seconds": seconds}


def schedules(window_start: datetime) -> list[dict[str, Any]]:
    """Two schedules per zone. Layers are listed highest first, as PagerDuty lists them."""
    past = (window_start - timedelta(days=200)).date()
    monday = past - timedelta(days=past.weekday())
    ny, ldn, tyo, syd = ZONES
    return [
        {"id": "PS00001", "name": "Platform primary", "time_zone": ny, "description": "Weekly, Monday 09:00",
         "schedule_layers": [
             _layer("PL00001", "Weekly", ny, _local(ny, monday, 9), WEEK, [0, 4, 8, 12]),
         ]},
        {"id": "PS00002", "name": "Platform secondary", "time_zone": ny, "description": "Days and a night layer",
         "schedule_layers": [
             _layer("PL00003", "Business hours", ny, _local(ny, monday, 17), DAY, [16, 20, 24],
                    [_weekly(d, 9, 0, 8 * 3600) for d in range(1, 6)]),
             _layer("PL00002", "Around the clock", ny, _local(ny, monday, 17, 30), DAY, [1, 5, 9]),
             _layer("PL00009", "Old rotation", ny, _local(ny, monday, 8), WEEK, [13, 17],
                    end=datetime.combine(monday + timedelta(days=30), datetime.min.time(), timezone.utc)),
         ]},
        {"id": "PS00003", "name": "Payments", "time_zone": ldn, "description": "Office hours and 12-hour nights",
         "schedule_layers": [
             _layer("PL00005", "Office", ldn, _local(ldn, monday, 8), DAY, [2, 6, 10],
                    [_weekly(d, 8, 0, 10 * 3600) for d in range(1, 6)]),
             _layer("PL00004", "Twelve hours", ldn, _local(ldn, monday, 7), 12 * 3600, [14, 18, 22, 26]),
         ]},
        {"id": "PS00004", "name": "Data", "time_zone": ldn, "description": "Weekly from Wednesday 10:30",
         "schedule_layers": [
             _layer("PL00006", "Weekly", ldn, _local(ldn, monday + timedelta(days=2), 10, 30), WEEK, [3, 7, 11]),
         ]},
        {"id": "PS00005", "name": "Tokyo support", "time_zone": tyo, "description": "Two-day turns, 09:00-18:00",
         "schedule_layers": [
             _layer("PL00007", "Support", tyo, _local(tyo, monday, 9), 2 * DAY, [15, 19, 23, 27, 28],
                    [_daily(9, 0, 9 * 3600)]),
         ]},
        {"id": "PS00006", "name": "Tokyo infra", "time_zone": tyo, "description": "Weekdays and a weekend layer",
         "schedule_layers": [
             _layer("PL00010", "Weekend", tyo, _local(tyo, monday + timedelta(days=4), 18), WEEK, [21, 25],
                    [_weekly(5, 18, 0, 62 * 3600)]),
             _layer("PL00008", "Weekdays", tyo, _local(tyo, monday, 10), WEEK, [17, 13, 29]),
         ]},
        {"id": "PS00007", "name": "Sydney ops", "time_zone": syd, "description": "Nights 18:00-09:00",
         "schedule_layers": [
             _layer("PL00011", "Nights", syd, _local(syd, monday, 18), DAY, [0, 1, 2, 3],
                    [_daily(18, 0, 15 * 3600)]),
         ]},
        {"id": "PS00008", "name": "Sydney db", "time_zone": syd, "description": "Eight-hour turns",
         "schedule_layers": [
             _layer("PL00012", "Eight hours", syd, _local(syd, monday, 6), 8 * 3600, [4, 5, 6]),
         ]},
    ]


def overrides(window_start: datetime) -> dict[str, list[dict[str, Any]]]:
    """Overrides by schedule id, inside the window: one crosses the clock change's day."""
    w = window_start

    def one(oid: str, user: int, begin_h: float, hours: float) -> dict[str, Any]:
        start = w + timedelta(hours=begin_h)
        return {"id": oid, "start": _iso(start), "end": _iso(start + timedelta(hours=hours)),
                "user": _ref("user", f"PU{user:05d}", f"{_FIRST[user]} {_LAST[user]}")}

    return {
        "PS00001": [one("PO00001", 25, 10, 30), one("PO00002", 26, 100, 4.5)],
        "PS00002": [one("PO00003", 27, 20, 48)],
        "PS00003": [one("PO00004", 28, 60.25, 9), one("PO00005", 29, 62, 2)],  # the later one wins inside
        "PS00004": [one("PO00006", 2, 200, 24)],
        "PS00005": [one("PO00007", 3, 5, 100)],
        "PS00006": [one("PO00008", 4, 150, 12)],
        "PS00007": [one("PO00009", 5, 12, 36), one("PO00010", 6, 250.75, 6)],
        "PS00008": [],
    }


def escalation_policies() -> list[dict[str, Any]]:
    def rules(*levels: tuple[int, list[tuple[str, str]]]) -> list[dict[str, Any]]:
        return [{"id": f"PR{n}", "escalation_delay_in_minutes": delay,
                 "targets": [_ref(kind, tid) for kind, tid in targets]} for n, (delay, targets) in enumerate(levels)]

    return [
        {"id": "PP00001", "type": "escalation_policy", "name": "Platform", "description": "", "num_loops": 2,
         "escalation_rules": rules((10, [("schedule", "PS00001")]), (15, [("schedule", "PS00002"), ("user", "PU00000")]))},
        {"id": "PP00002", "type": "escalation_policy", "name": "Payments", "description": "Money", "num_loops": 0,
         "escalation_rules": rules((5, [("schedule", "PS00003")]), (30, [("user", "PU00002")]))},
        {"id": "PP00003", "type": "escalation_policy", "name": "Data", "description": "", "num_loops": 1,
         "escalation_rules": rules((30, [("schedule", "PS00004")]))},
        {"id": "PP00004", "type": "escalation_policy", "name": "Tokyo", "description": "", "num_loops": 0,
         "escalation_rules": rules((20, [("schedule", "PS00005")]), (20, [("schedule", "PS00006")]))},
        {"id": "PP00005", "type": "escalation_policy", "name": "Sydney", "description": "", "num_loops": 3,
         "escalation_rules": rules((15, [("schedule", "PS00007"), ("schedule", "PS00008")]))},
        {"id": "PP00006", "type": "escalation_policy", "name": "Everyone senior", "description": "", "num_loops": 0,
         "escalation_rules": rules((5, [("user", "PU00000"), ("user", "PU00001")]), (10, [("user", "PU00002")]))},
    ]


def services() -> list[dict[str, Any]]:
    """Twelve services; each has one Events API v2 integration with a routing key of its own."""
    names = ("checkout-api", "payments-gateway", "ledger", "search", "warehouse-etl", "reports",
             "tokyo-frontend", "tokyo-k8s", "sydney-edge", "sydney-postgres", "status-page", "billing-cron")
    policies = ("PP00001", "PP00002", "PP00002", "PP00001", "PP00003", "PP00003",
                "PP00004", "PP00004", "PP00005", "PP00005", "PP00006", "PP00002")
    out = []
    for n, (name, policy) in enumerate(zip(names, policies)):
        sid = f"PV{n:05d}"
        integrations = [{"id": f"PI{n:05d}", "type": "events_api_v2_inbound_integration", "name": "Events API v2",
                         "integration_key": f"{n:02x}" + "c0ffee" * 5, "service": _ref("service", sid)}]
        if n == 1:
            integrations.append({"id": "PI00099", "type": "generic_email_inbound_integration", "name": "Email",
                                 "integration_email": "payments@acme.pagerduty.com", "service": _ref("service", sid)})
        out.append({
            "id": sid, "type": "service", "name": name, "description": f"The {name} service", "status": "active",
            "escalation_policy": _ref("escalation_policy", policy),
            "auto_resolve_timeout": 4 * 3600 if n % 3 == 0 else None, "acknowledgement_timeout": None,
            "incident_urgency_rule": ({"type": "use_support_hours"} if n == 5 else
                                      {"type": "constant", "urgency": "low" if n == 11 else "high"}),
            "integrations": integrations,
        })
    return out


def maintenance_windows(window_start: datetime) -> list[dict[str, Any]]:
    w = window_start
    return [
        {"id": "PM00001", "type": "maintenance_window", "sequence_number": 1, "description": "Database upgrade",
         "start_time": _iso(w + timedelta(days=3)), "end_time": _iso(w + timedelta(days=3, hours=2)),
         "services": [_ref("service", "PV00002"), _ref("service", "PV00009")]},
    ]


def account(window_start: datetime, prefix: str = "") -> dict[str, Any]:
    """The account; `prefix` starts the name of each schedule, policy and service, so that a
    deployment shared with other tests holds none of the same names (the e-mail addresses are
    the account's own)."""
    out = {"users": users(), "schedules": schedules(window_start), "overrides": overrides(window_start),
           "escalation_policies": escalation_policies(), "services": services(),
           "maintenance_windows": maintenance_windows(window_start)}
    for kind in ("schedules", "escalation_policies", "services"):
        for item in out[kind]:
            item["name"] = item["summary"] = prefix + item["name"]
    return out
