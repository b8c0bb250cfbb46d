"""A small Opsgenie account in the shapes Opsgenie's REST API v2 returns: 8 users with contacts,
2 teams, 3 schedules in 3 zones (rotations with both kinds of time restriction, an hourly one,
overrides), 2 escalations, 3 integrations (two API ones with their 36-character keys) and
2 heartbeats. Times are placed around `window_start`, as in tests/fakes/pagerduty_account.py."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

_PEOPLE = ("Alma Reyes", "Bo Chen", "Cyra Nash", "Dario Fo", "Edda Lund", "Faye Dunn", "Gus Park", "Hana Ito")


def _user_id(n: int) -> str:
    return f"{n:08d}-0000-4000-8000-00000000000{n}"


def users() -> list[dict[str, Any]]:
    return [{"id": _user_id(n), "username": f"{name.split()[0].lower()}@og-import.example", "fullName": name,
             "role": {"id": "Admin" if n == 0 else "User", "name": "Admin" if n == 0 else "User"},
             "timeZone": ("Europe/Berlin", "America/Chicago", "Asia/Kolkata")[n % 3],
             "contacts": [{"id": f"c{n}e", "method": "email", "to": f"{name.split()[0].lower()}@og-import.example",
                           "enabled": True},
                          {"id": f"c{n}s", "method": "sms", "to": f"49-15100000{n:02d}", "enabled": True},
                          {"id": f"c{n}m", "method": "mobile", "to": f"device-{n}", "enabled": True}]}
            for n, name in enumerate(_PEOPLE)]


def _ref(n: int) -> dict[str, Any]:
    return {"type": "user", "id": _user_id(n), "username": f"{_PEOPLE[n].split()[0].lower()}@og-import.example"}


def teams() -> list[dict[str, Any]]:
    return [{"id": "team-ops", "name": "ops", "description": "Operations",
             "members": [{"user": _ref(n), "role": "admin" if n == 0 else "user"} for n in range(4)]},
            {"id": "team-web", "name": "web", "description": "Web",
             "members": [{"user": _ref(n), "role": "user"} for n in range(4, 8)]}]


def _start(zone: str, day: date, hour: int) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(zone)).isoformat()


def schedules(window_start: datetime) -> list[dict[str, Any]]:
    past = (window_start - timedelta(days=90)).date()
    monday = past - timedelta(days=past.weekday())
    days = ("monday", "tuesday", "wednesday", "thursday", "friday")
    return [
        {"id": "sched-ops", "name": "ops-oncall", "timezone": "Europe/Berlin", "enabled": True,
         "ownerTeam": {"id": "team-ops", "name": "ops"}, "rotations": [
             {"id": "rot-ops-day", "name": "office", "type": "daily", "length": 1,
              "startDate": _start("Europe/Berlin", monday, 9), "participants": [_ref(0), _ref(1), _ref(2)],
              "timeRestriction": {"type": "weekday-and-time-of-day", "restrictions": [
                  {"startDay": d, "startHour": 9, "startMin": 0, "endDay": d, "endHour": 18, "endMin": 0}
                  for d in days]}},
             {"id": "rot-ops-night", "name": "outside office", "type": "weekly", "length": 1,
              "startDate": _start("Europe/Berlin", monday, 18), "participants": [_ref(3), _ref(1)],
              "timeRestriction": {"type": "weekday-and-time-of-day", "restrictions": [
                  *({"startDay": d, "startHour": 18, "startMin": 0, "endDay": n, "endHour": 9, "endMin": 0}
                    for d, n in zip(days[:4], days[1:])),
                  {"startDay": "friday", "startHour": 18, "startMin": 0, "endDay": "monday", "endHour": 9,
                   "endMin": 0}]}},
         ]},
        {"id": "sched-web", "name": "web-oncall", "timezone": "America/Chicago", "enabled": True,
         "ownerTeam": {"id": "team-web", "name": "web"}, "rotations": [
             {"id": "rot-web", "name": "twelve hours", "type": "hourly", "length": 12,
              "startDate": _start("America/Chicago", monday, 8), "participants": [_ref(4), _ref(5), _ref(6)]},
         ]},
        {"id": "sched-evening", "name": "web-evenings", "timezone": "Asia/Kolkata", "enabled": True,
         "ownerTeam": {"id": "team-web", "name": "web"}, "rotations": [
             {"id": "rot-eve", "name": "evenings", "type": "weekly", "length": 2,
              "startDate": _start("Asia/Kolkata", monday, 19), "participants": [_ref(7), _ref(4)],
              "timeRestriction": {"type": "time-of-day",
                                  "restriction": {"startHour": 19, "startMin": 30, "endHour": 1, "endMin": 30}}},
         ]},
    ]


def overrides(window_start: datetime) -> dict[str, list[dict[str, Any]]]:
    def one(alias: str, user: int, begin_h: float, hours: float) -> dict[str, Any]:
        start = window_start + timedelta(hours=begin_h)
        return {"alias": alias, "user": _ref(user), "startDate": start.isoformat(),
                "endDate": (start + timedelta(hours=hours)).isoformat(), "rotations": []}

    return {"sched-ops": [one("ops-1", 6, 30, 20)], "sched-web": [one("web-1", 0, 50, 5.5)], "sched-evening": []}


def escalations() -> list[dict[str, Any]]:
    def rule(minutes: int, kind: str, id_: str) -> dict[str, Any]:
        return {"condition": "if-not-acked", "notifyType": "default",
                "delay": {"timeAmount": minutes, "timeUnit": "minutes"}, "recipient": {"type": kind, "id": id_}}

    return [
        {"id": "esc-ops", "name": "ops-escalation", "ownerTeam": {"id": "team-ops", "name": "ops"},
         "rules": [rule(0, "schedule", "sched-ops"), rule(10, "user", _user_id(0)), rule(10, "team", "team-web")],
         "repeat": {"waitInterval": 20, "count": 2, "resetRecipientStates": False, "closeAlertAfterAll": False}},
        {"id": "esc-web", "name": "web-escalation", "ownerTeam": {"id": "team-web", "name": "web"},
         "rules": [rule(0, "schedule", "sched-web"), rule(15, "schedule", "sched-evening")]},
    ]


def integrations() -> list[dict[str, Any]]:
    return [
        {"id": "int-ops", "name": "ops-api", "type": "API", "enabled": True,
         "ownerTeam": {"id": "team-ops", "name": "ops"}, "apiKey": "3f2c1a9e-7b6d-4e5f-9a8b-0c1d2e3f4a5b"},
        {"id": "int-web", "name": "web-api", "type": "API", "enabled": True,
         "ownerTeam": {"id": "team-web", "name": "web"}, "apiKey": "a1b2c3d4-e5f6-4789-8abc-def012345678"},
        {"id": "int-mail", "name": "ops-email", "type": "Email", "enabled": True,
         "ownerTeam": {"id": "team-ops", "name": "ops"}, "emailAddress": "ops@acme.opsgenie.net"},
    ]


def heartbeats() -> list[dict[str, Any]]:
    return [{"name": "nightly-backup", "description": "", "interval": 1, "intervalUnit": "days", "enabled": True,
             "expired": False, "ownerTeam": {"id": "team-ops", "name": "ops"}},
            {"name": "web-cron", "description": "", "interval": 10, "intervalUnit": "minutes", "enabled": True,
             "expired": False, "ownerTeam": {"id": "team-web", "name": "web"}}]


def account(window_start: datetime, prefix: str = "") -> dict[str, Any]:
    """The account; `prefix` starts the name of each team, schedule, escalation, integration and
    heartbeat, so that a deployment shared with other tests holds none of the same names."""
    out = {"users": users(), "teams": teams(), "schedules": schedules(window_start),
           "overrides": overrides(window_start), "escalations": escalations(), "integrations": integrations(),
           "heartbeats": heartbeats()}
    for kind in ("teams", "schedules", "escalations", "integrations", "heartbeats"):
        for item in out[kind]:
            item["name"] = prefix + item["name"]
            if item.get("ownerTeam"):
                item["ownerTeam"]["name"] = prefix + item["ownerTeam"]["name"]
    return out
