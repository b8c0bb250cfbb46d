"""A fake Opsgenie REST API v2 on loopback, serving an account (tests/fakes/opsgenie_account.py) in
Opsgenie's published shapes, for the official SDK's ApiClient and HeartbeatApi.

    with FakeOpsgenie(account) as og:
        og.url, og.key          # Configuration.host and the GenieKey it answers to

- `Authorization: GenieKey <key>` or 401 `{"message": "...", "took": …, "requestId": …}`.
- /v2/users pages with `offset` and `limit` and a `paging.next` link while more remain.
- /v2/schedules?expand=rotation, /v2/schedules/{id}/overrides, /v2/teams(/{id}),
  /v2/escalations, /v2/integrations (owner team as `teamId`) and /v2/integrations/{id} (as
  `ownerTeam` {id, name}, with the `apiKey`), /v2/heartbeats (`ownerTeam` {id, name}).
- /v2/schedules/{id}/timeline?date=&interval=&intervalUnit= renders `finalTimeline`: each
  rotation's periods, overrides cut in (as periods of type override).

The oracle's semantics, on their own: a rotation's turns of `length` hours, days or weeks run
from its `startDate` (days and weeks hand off at the same wall-clock time in the schedule's
zone); a time restriction keeps it to `time-of-day` hours every day or to
`weekday-and-time-of-day` spans (end at or before start: the next day, or the next week); an
override puts its user on call over the whole schedule.
"""

from __future__ import annotations

import copy
import threading
import uuid
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from tests.fakes.loopback_http import LoopbackHttpServer, QuietJsonHandler

KEY = "0f0e0d0c-0b0a-4909-8807-060504030201"
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _turn(rotation: dict[str, Any], tz: ZoneInfo, at: datetime) -> int:
    start = parse(rotation["startDate"])
    step = _UNITS[rotation["type"]] * int(rotation.get("length", 1))
    if rotation["type"] == "hourly":
        return (at - start) // step
    wall = start.astimezone(tz).replace(tzinfo=None)
    k = (at - start) // step
    while (wall + k * step).replace(tzinfo=tz) > at:
        k -= 1
    while (wall + (k + 1) * step).replace(tzinfo=tz) <= at:
        k += 1
    return k


def _allowed(restriction: dict[str, Any] | None, tz: ZoneInfo, at: datetime) -> bool:
    if not restriction:
        return True
    local = at.astimezone(tz)
    minute_of_week = local.weekday() * 1440 + local.hour * 60 + local.minute
    if restriction["type"] == "time-of-day":
        r = restriction["restriction"]
        spans = [(d * 1440 + r["startHour"] * 60 + r["startMin"], d * 1440 + r["endHour"] * 60 + r["endMin"])
                 for d in range(7)]
    else:
        spans = [(_DAYS.index(r["startDay"]) * 1440 + r["startHour"] * 60 + r["startMin"],
                  _DAYS.index(r["endDay"]) * 1440 + r["endHour"] * 60 + r["endMin"]) for r in restriction["restrictions"]]
    for begin, end in spans:
        if restriction["type"] == "time-of-day" and end <= begin:
            end += 1440
        elif end <= begin:
            end += 7 * 1440
        if any(begin <= minute_of_week + shift < end for shift in (0, 7 * 1440)):
            return True
    return False


def rotation_user(rotation: dict[str, Any], tz: ZoneInfo, at: datetime) -> str | None:
    if at < parse(rotation["startDate"]) or (rotation.get("endDate") and at >= parse(rotation["endDate"])):
        return None
    if not _allowed(rotation.get("timeRestriction"), tz, at):
        return None
    people = rotation["participants"]
    who = people[_turn(rotation, tz, at) % len(people)]
    return None if who["type"] == "none" else str(who["id"])


def on_call(schedule: dict[str, Any], overrides: list[dict[str, Any]], at: datetime) -> set[str]:
    """Everyone on call at `at`: an override's user, else each rotation's."""
    for override in reversed(overrides):
        if parse(override["startDate"]) <= at < parse(override["endDate"]):
            return {override["user"]["id"]}
    tz = ZoneInfo(schedule["timezone"])
    return {u for r in schedule["rotations"] if (u := rotation_user(r, tz, at)) is not None}


class FakeOpsgenie:
    def __init__(self, account: dict[str, Any], key: str = KEY, page_max: int = 5) -> None:
        self.account = copy.deepcopy(account)
        self.key, self.page_max, self.url = key, page_max, ""
        self._lock = threading.Lock()
        self._server: LoopbackHttpServer | None = None

    def __enter__(self) -> FakeOpsgenie:
        self._server = LoopbackHttpServer(_handler_for(self), "fake-opsgenie")
        self.url = self._server.url
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def add_override(self, schedule_id: str, user_id: str, start: datetime, end: datetime) -> None:
        with self._lock:
            self.account["overrides"].setdefault(schedule_id, []).append(
                {"alias": uuid.uuid4().hex, "user": {"type": "user", "id": user_id}, "startDate": start.isoformat(),
                 "endDate": end.isoformat(), "rotations": []})

    def timeline(self, schedule_id: str, since: datetime, days: int) -> list[tuple[datetime, datetime, str]]:
        """(start, end, user id) of every period of the schedule's final timeline, as GET
        /v2/schedules/{id}/timeline renders it for `days` days from `since`."""
        _, body = self.answer(f"/v2/schedules/{schedule_id}/timeline",
                              {"date": [since.isoformat()], "interval": [str(days)], "intervalUnit": ["days"]})
        return [(parse(p["startDate"]), parse(p["endDate"]), p["recipient"]["id"])
                for rotation in body["data"]["finalTimeline"]["rotations"] for p in rotation["periods"]]

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        with self._lock:
            parts = [p for p in path.split("/") if p][1:]  # after "v2"
            a = self.account
            if parts == ["users"]:
                return self._page([{k: v for k, v in u.items() if k != "contacts"} for u in a["users"]], query, path)
            if len(parts) == 3 and parts[0] == "users" and parts[2] == "contacts":
                return self._one([u["contacts"] for u in a["users"] if u["id"] == parts[1]])
            if parts == ["teams"]:
                return 200, _data([{k: v for k, v in t.items() if k != "members"} for t in a["teams"]])
            if len(parts) == 2 and parts[0] == "teams":
                return self._one([t for t in a["teams"] if parts[1] in (t["id"], t["name"])])
            if parts == ["schedules"]:
                expand = "rotation" in query.get("expand", [""])[0]
                return 200, _data([s if expand else {k: v for k, v in s.items() if k != "rotations"}
                                   for s in a["schedules"]])
            if len(parts) == 3 and parts[0] == "schedules" and parts[2] == "overrides":
                return 200, _data(a["overrides"].get(parts[1], []))
            if len(parts) == 3 and parts[0] == "schedules" and parts[2] == "timeline":
                return self._timeline(parts[1], query)
            if parts == ["escalations"]:
                return 200, _data(a["escalations"])
            if parts == ["integrations"]:
                return 200, _data([_integration_meta(i) for i in a["integrations"]])
            if len(parts) == 2 and parts[0] == "integrations":
                return self._one([i for i in a["integrations"] if i["id"] == parts[1]])
            if parts == ["heartbeats"]:
                return 200, _data({"heartbeats": a["heartbeats"]})
            return 404, {"message": "Could not find resource", "took": 0.001, "requestId": str(uuid.uuid4())}

    def _one(self, found: list[Any]) -> tuple[int, Any]:
        if not found:
            return 404, {"message": "Not found", "took": 0.001, "requestId": str(uuid.uuid4())}
        return 200, _data(found[0])

    def _page(self, items: list[dict[str, Any]], query: dict[str, list[str]], path: str) -> tuple[int, Any]:
        limit = min(int(query.get("limit", ["20"])[0]), self.page_max)
        offset = int(query.get("offset", ["0"])[0])
        body = _data(items[offset:offset + limit])
        body["totalCount"] = len(items)
        if offset + limit < len(items):
            body["paging"] = {"next": f"{self.url}{path}?limit={limit}&offset={offset + limit}"}
        return 200, body

    def _timeline(self, schedule_id: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        [schedule] = [s for s in self.account["schedules"] if s["id"] == schedule_id]
        start = parse(query["date"][0]) if "date" in query else datetime.now(timezone.utc)
        unit = {"days": timedelta(days=1), "weeks": timedelta(weeks=1), "months": timedelta(days=30)}[
            query.get("intervalUnit", ["weeks"])[0]]
        end = start + int(query.get("interval", ["1"])[0]) * unit
        overrides = self.account["overrides"].get(schedule_id, [])
        rotations = []
        for rotation in schedule["rotations"]:
            rotations.append({"id": rotation["id"], "name": rotation["name"],
                              "periods": _periods(schedule, rotation, overrides, start, end)})
        return 200, _data({"parent": {"id": schedule_id, "name": schedule["name"], "enabled": True},
                           "startDate": start.isoformat(), "endDate": end.isoformat(),
                           "finalTimeline": {"rotations": rotations}})


def _periods(schedule: dict[str, Any], rotation: dict[str, Any], overrides: list[dict[str, Any]],
             start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The rotation's periods (minute by minute, joined), overrides taking the first rotation's place."""
    tz = ZoneInfo(schedule["timezone"])
    first = rotation is schedule["rotations"][0]
    periods: list[dict[str, Any]] = []
    at = start
    while at < end:
        kind, who = "default", rotation_user(rotation, tz, at)
        for override in reversed(overrides):
            if parse(override["startDate"]) <= at < parse(override["endDate"]):
                kind, who = "override", override["user"]["id"] if first else None
                break
        nxt = at + timedelta(minutes=1)
        if who is not None:
            last = periods[-1] if periods else None
            if last and last["endDate"] == at.isoformat() and (last["type"], last["recipient"]["id"]) == (kind, who):
                last["endDate"] = nxt.isoformat()
            else:
                periods.append({"startDate": at.isoformat(), "endDate": nxt.isoformat(), "type": kind,
                                "recipient": {"type": "user", "id": who}})
        at = nxt
    return periods


def _integration_meta(integration: dict[str, Any]) -> dict[str, Any]:
    """An integration as listed: its owner team by id only, and no API key (only GET /{id} has them)."""
    meta = {k: v for k, v in integration.items() if k not in ("apiKey", "ownerTeam")}
    return meta | {"teamId": integration["ownerTeam"]["id"]} if integration.get("ownerTeam") else meta


def _data(value: Any) -> dict[str, Any]:
    return {"data": value, "took": 0.001, "requestId": str(uuid.uuid4())}


def _handler_for(fake: FakeOpsgenie) -> type[QuietJsonHandler]:
    class Handler(QuietJsonHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if self.headers.get("Authorization") != f"GenieKey {fake.key}":
                self.send_json(401, {"message": "Could not authenticate", "took": 0.0, "requestId": str(uuid.uuid4())})
                return
            self.send_json(*fake.answer(url.path, parse_qs(url.query)))

    return Handler
