"""Schedules, overrides, who is on call, and the iCalendar feeds, through the REST API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from icalendar import Calendar

from tests.client import create_user
from tests.e2e.conftest import refused

UTC = timezone.utc
MONDAY_NINE_BERLIN = "2026-01-05T09:00:00+01:00"  # 08:00 UTC


@pytest.fixture
def person(tocsin: Any, admin_token: str) -> Callable[[str], dict[str, Any]]:
    return lambda name: create_user(tocsin.base_url, admin_token, name)


def layer(people: list[dict[str, Any]], start: str = MONDAY_NINE_BERLIN, unit: str = "weeks",
          handoff: str = "09:00", **extra: Any) -> dict[str, Any]:
    rotation = {"participants": [p["id"] for p in people], "start": start, "shift_length": 1, "unit": unit,
                "handoff": handoff}
    return {"name": "primary", "rotation": rotation, **extra}


def schedule_body(*layers: dict[str, Any], name: str = "payments", time_zone: str = "Europe/Berlin") -> dict[str, Any]:
    return {"name": name, "time_zone": time_zone, "layers": list(layers)}


def new_schedule(api: httpx.Client, *layers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    created = api.post("/api/v1/schedules", json=schedule_body(*layers, **fields))
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def add_override(
    api: httpx.Client, schedule_id: str, user: dict[str, Any], start: str | datetime, end: str | datetime
) -> dict[str, Any]:
    iso = [at.isoformat() if isinstance(at, datetime) else at for at in (start, end)]
    body = {"user_id": user["id"], "start": iso[0], "end": iso[1]}
    created = api.post(f"/api/v1/schedules/{schedule_id}/overrides", json=body)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def ical(response: httpx.Response) -> Calendar:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def events(calendar: Calendar) -> list[tuple[str, datetime, datetime]]:
    return [(str(e["summary"]), e.decoded("dtstart"), e.decoded("dtend")) for e in calendar.walk("VEVENT")]


# -- schedules -------------------------------------------------------------------------


def test_schedule_crud(api, tocsin, person):
    ann, bob = person("Ann"), person("Bob")
    weekend = {"windows": [{"day": 5, "start": "00:00", "end": "00:00"}, {"day": 6, "start": "00:00", "end": "00:00"}]}
    schedule = new_schedule(api, layer([ann, bob]), layer([bob], priority=1, restriction=weekend) | {"name": "weekend"})
    assert schedule["name"] == "payments" and schedule["description"] == "" and schedule["version"] == 1
    assert schedule["time_zone"] == "Europe/Berlin"
    assert [lay["name"] for lay in schedule["layers"]] == ["primary", "weekend"]
    assert schedule["layers"][0]["rotation"]["participants"] == [ann["id"], bob["id"]]
    assert schedule["layers"][1]["restriction"]["windows"][0] == {"day": 5, "start": "00:00", "end": "00:00"}
    assert schedule["layers"][0]["restriction"] is None and schedule["layers"][0]["priority"] == 0
    assert schedule["calendar_url"].startswith(f"{tocsin.base_url}/api/v1/schedules/{schedule['id']}/oncall.ics?token=")
    assert api.get(f"/api/v1/schedules/{schedule['id']}").json() == schedule
    assert schedule["id"] in {s["id"] for s in api.get("/api/v1/schedules").json()["schedules"]}

    replaced = api.put(f"/api/v1/schedules/{schedule['id']}", json={
        **schedule_body(layer([bob, ann], unit="days", handoff="08:30"), time_zone="UTC"), "description": "cards",
    })
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2 and replaced.json()["description"] == "cards"
    assert replaced.json()["layers"][0]["rotation"]["handoff"] == "08:30"
    assert replaced.json()["updated_at"] > schedule["updated_at"]
    assert replaced.json()["calendar_url"] == schedule["calendar_url"]

    assert api.delete(f"/api/v1/schedules/{schedule['id']}").status_code == 204
    assert api.get(f"/api/v1/schedules/{schedule['id']}").status_code == 404
    assert api.delete(f"/api/v1/schedules/{schedule['id']}").status_code == 404
    assert api.put(f"/api/v1/schedules/{schedule['id']}", json=schedule_body(layer([ann]))).status_code == 404


@pytest.mark.parametrize(("change", "field"), [
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"rotation": {"unit": "fortnights"}}, "layers.0.rotation.unit"),
    ({"rotation": {"handoff": "25:00"}}, "layers.0.rotation.handoff"),
    ({"rotation": {"handoff": "9am"}}, "layers.0.rotation.handoff"),
    ({"rotation": {"start": "2026-01-05T09:00:00"}}, "layers.0.rotation.start"),
    ({"rotation": {"shift_length": 0}}, "layers.0.rotation.shift_length"),
    ({"rotation": {"participants": []}}, "layers.0.rotation.participants"),
    ({"restriction": {"windows": [{"day": 7, "start": "09:00", "end": "17:00"}]}},
     "layers.0.restriction.windows.0.day"),
])
def test_invalid_schedules_are_refused_naming_the_field(api, person, change, field):
    body = schedule_body(layer([person("Ann")]))
    if "time_zone" in change:
        body |= change
    else:
        body["layers"][0]["rotation"] |= change.get("rotation", {})
        body["layers"][0] |= {k: v for k, v in change.items() if k != "rotation"}
    response = api.post("/api/v1/schedules", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["message"].startswith(f"{field}: ")


def test_unknown_participants_are_named(api, person):
    ann, ghost = person("Ann"), {"id": str(uuid.uuid4())}
    response = api.post("/api/v1/schedules", json=schedule_body(layer([ann, ghost])))
    assert response.status_code == 422
    assert response.json()["message"] == f"layers.0.rotation.participants.1: no user with id {ghost['id']}"
    schedule = new_schedule(api, layer([ann]))
    response = api.put(f"/api/v1/schedules/{schedule['id']}", json=schedule_body(layer([ghost])))
    assert response.status_code == 422 and ghost["id"] in response.json()["message"]


# -- overrides -------------------------------------------------------------------------


def test_overrides_list_delete_and_bump_the_version(api, person):
    ann, cy = person("Ann"), person("Cy")
    schedule = new_schedule(api, layer([ann]))
    now = datetime.now(UTC).replace(microsecond=0)
    ended = add_override(api, schedule["id"], cy, now - timedelta(hours=3), now - timedelta(hours=1))
    coming = add_override(api, schedule["id"], cy, now + timedelta(days=2), now + timedelta(days=3))
    assert coming["schedule_id"] == schedule["id"] and coming["user_id"] == cy["id"]
    assert at(coming["start"]) == now + timedelta(days=2) and at(coming["end"]) == now + timedelta(days=3)
    assert api.get(f"/api/v1/schedules/{schedule['id']}").json()["version"] == 3

    url = f"/api/v1/schedules/{schedule['id']}/overrides"
    assert [o["id"] for o in api.get(url).json()["overrides"]] == [coming["id"]]
    window = {"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}
    assert [o["id"] for o in api.get(url, params=window).json()["overrides"]] == [ended["id"]]
    everything = {"from": (now - timedelta(days=1)).isoformat()}
    assert [o["id"] for o in api.get(url, params=everything).json()["overrides"]] == [ended["id"], coming["id"]]

    assert api.delete(f"{url}/{coming['id']}").status_code == 204
    assert api.delete(f"{url}/{coming['id']}").status_code == 404
    assert api.get(url).json()["overrides"] == []
    assert api.get(f"/api/v1/schedules/{schedule['id']}").json()["version"] == 4


def test_invalid_overrides_are_refused_naming_the_field(api, person):
    ann = person("Ann")
    schedule = new_schedule(api, layer([ann]))
    url = f"/api/v1/schedules/{schedule['id']}/overrides"
    cases = [
        ({"start": "2026-02-01T10:00:00Z", "end": "2026-02-01T09:00:00Z"}, "end"),
        ({"start": "2026-02-01T10:00:00", "end": "2026-02-01T12:00:00Z"}, "start"),
        ({"user_id": str(uuid.uuid4())}, "user_id"),
    ]
    for change, field in cases:
        body = {"user_id": ann["id"], "start": "2026-02-01T10:00:00Z", "end": "2026-02-01T12:00:00Z"} | change
        response = api.post(url, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["message"].startswith(f"{field}: ")
    ok = {"user_id": ann["id"], "start": "2026-02-01T10:00:00Z", "end": "2026-02-01T12:00:00Z"}
    assert api.post(f"/api/v1/schedules/{uuid.uuid4()}/overrides", json=ok).status_code == 404
    assert api.get(f"/api/v1/schedules/{uuid.uuid4()}/overrides").status_code == 404


OVERRIDES_CAP = 1000  # TOCSIN_MAX_OVERRIDES_PER_SCHEDULE's default


def test_a_schedule_holds_a_bounded_number_of_overrides_near_any_time(api, person, db):
    ann, cy = person("Ann"), person("Cy")
    schedule = new_schedule(api, layer([ann]))
    url = f"/api/v1/schedules/{schedule['id']}/overrides"
    now = datetime.now(UTC).replace(microsecond=0)

    def hourly(first: datetime, count: int) -> None:
        """`count` half-hour overrides for Cy, one an hour from `first`, straight into the table."""
        db("execute", "INSERT INTO schedule_overrides (id, schedule_id, user_id, start_at, end_at)"
           " SELECT gen_random_uuid(), $1::uuid, $2::uuid, $3::timestamptz + n * interval '1 hour',"
           " $3::timestamptz + n * interval '1 hour' + interval '30 minutes'"
           " FROM generate_series(0, $4::int - 1) AS n",
           schedule["id"], cy["id"], first, count)

    def body(start: datetime) -> dict[str, Any]:
        return {"user_id": cy["id"], "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}

    long_ago = now - timedelta(days=1000)
    hourly(long_ago, OVERRIDES_CAP)  # years of history do not stop what comes next
    coming = add_override(api, schedule["id"], cy, now + timedelta(days=1), now + timedelta(days=2))
    soon = now + timedelta(days=3)
    hourly(soon, OVERRIDES_CAP - 1)

    refused(api.post(url, json=body(now + timedelta(days=200))), 409, f"{OVERRIDES_CAP} overrides")
    # One in the past counts those around it, so history cannot be crowded either.
    refused(api.post(url, json=body(long_ago + timedelta(days=2))), 409, f"{OVERRIDES_CAP} overrides")
    assert api.delete(f"{url}/{coming['id']}").status_code == 204
    add_override(api, schedule["id"], cy, now + timedelta(days=200), now + timedelta(days=201))

    # The most any window holds is computed, each shift naming its own override.
    window = {"from": soon.isoformat(), "to": (soon + timedelta(days=42)).isoformat()}
    shifts = api.get(f"/api/v1/schedules/{schedule['id']}/shifts", params=window)
    assert shifts.status_code == 200, shifts.text
    named = [s["source"]["override_id"] for s in shifts.json()["shifts"] if s["source"]["type"] == "override"]
    listed = api.get(url, params=window).json()["overrides"]
    assert named == [o["id"] for o in listed] and len(named) == OVERRIDES_CAP - 1


# -- who is on call --------------------------------------------------------------------


@pytest.fixture
def rota(api, person):
    """A weekly rotation of Ann and Bob handing off on Mondays at 09:00 in Berlin, and Cy
    covering Wednesday evening to Thursday morning of the first week."""
    ann, bob, cy = person("Ann"), person("Bob"), person("Cy")
    schedule = new_schedule(api, layer([ann, bob]), name="rota")
    override = add_override(api, schedule["id"], cy, "2026-01-07T18:00:00Z", "2026-01-08T08:00:00Z")
    return schedule, override, ann, bob, cy


def test_shifts_over_a_window(api, rota):
    schedule, override, ann, bob, cy = rota
    params = {"from": "2026-01-05T08:00:00Z", "to": "2026-01-19T08:00:00Z"}
    response = api.get(f"/api/v1/schedules/{schedule['id']}/shifts", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["schedule_id"], at(body["from"]), at(body["to"])) == (
        schedule["id"], at(params["from"]), at(params["to"]))
    primary = {"type": "layer", "index": 0, "name": "primary"}
    assert [(s["user_id"], s["user_name"], at(s["start"]), at(s["end"]), s["source"]) for s in body["shifts"]] == [
        (ann["id"], "Ann", at("2026-01-05T08:00Z"), at("2026-01-07T18:00Z"), primary),
        (cy["id"], "Cy", at("2026-01-07T18:00Z"), at("2026-01-08T08:00Z"),
         {"type": "override", "override_id": override["id"]}),
        (ann["id"], "Ann", at("2026-01-08T08:00Z"), at("2026-01-12T08:00Z"), primary),
        (bob["id"], "Bob", at("2026-01-12T08:00Z"), at("2026-01-19T08:00Z"), primary),
    ]


def test_handoffs_keep_local_time_across_dst(api, rota):
    schedule, _, ann, bob, _ = rota
    params = {"from": "2026-03-23T08:00:00Z", "to": "2026-04-06T07:00:00Z"}  # Berlin springs forward on Mar 29
    shifts = api.get(f"/api/v1/schedules/{schedule['id']}/shifts", params=params).json()["shifts"]
    assert [(s["user_id"], at(s["start"]), at(s["end"])) for s in shifts] == [
        (bob["id"], at("2026-03-23T09:00+01:00"), at("2026-03-30T09:00+02:00")),
        (ann["id"], at("2026-03-30T09:00+02:00"), at("2026-04-06T09:00+02:00")),
    ]


def test_on_call_at_an_instant(api, rota):
    schedule, override, ann, bob, cy = rota
    url = f"/api/v1/schedules/{schedule['id']}/oncall"

    during_override = api.get(url, params={"at": "2026-01-07T20:00:00Z"}).json()
    assert during_override["users"] == [{"id": cy["id"], "name": "Cy", "email": cy["email"]}]
    assert at(during_override["at"]) == at("2026-01-07T20:00:00Z")
    assert during_override["shift"]["source"] == {"type": "override", "override_id": override["id"]}

    second_week = api.get(url, params={"at": "2026-01-13T00:00:00+01:00"}).json()
    assert [u["id"] for u in second_week["users"]] == [bob["id"]]
    shift = second_week["shift"]
    assert (at(shift["start"]), at(shift["end"])) == (at("2026-01-12T08:00Z"), at("2026-01-19T08:00Z"))
    assert shift["source"] == {"type": "layer", "index": 0, "name": "primary"} and shift["user_name"] == "Bob"

    before = api.get(url, params={"at": "2026-01-05T07:59:59Z"}).json()
    assert before["users"] == [] and before["shift"] is None
    assert api.get(f"/api/v1/schedules/{uuid.uuid4()}/oncall").status_code == 404


def test_on_call_everywhere(api, rota):
    schedule, _, _, _, cy = rota
    response = api.get("/api/v1/oncall", params={"at": "2026-01-07T20:00:00Z"})
    assert response.status_code == 200
    ours = [s for s in response.json()["oncall"] if s["schedule_id"] == schedule["id"]]
    assert ours == [{"schedule_id": schedule["id"], "schedule_name": "rota",
                     "users": [{"id": cy["id"], "name": "Cy", "email": cy["email"]}]}]
    assert api.get("/api/v1/oncall").status_code == 200


@pytest.mark.parametrize(("path", "params", "name"), [
    ("shifts", {"from": "2026-01-05T08:00:00"}, "from"),
    ("shifts", {"from": "2026-01-05T08:00:00Z", "to": "2026-01-05T08:00:00Z"}, "to"),
    ("shifts", {"from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}, "to"),
    ("shifts", {"to": "next tuesday"}, "to"),
    ("oncall", {"at": "2026-01-07T20:00:00"}, "at"),
    ("overrides", {"from": "yesterday"}, "from"),
])
def test_query_instants_need_an_offset_and_a_sane_window(api, rota, path, params, name):
    response = api.get(f"/api/v1/schedules/{rota[0]['id']}/{path}", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(f"{name}: ")
    assert api.get("/api/v1/oncall", params={"at": "2026-01-07"}).status_code == 400


# -- calendars -------------------------------------------------------------------------


@pytest.fixture
def daily(api, person):
    """Ann and Bob take turns by the UTC day, from ten days ago; Cy covers 12:00-14:00 tomorrow."""
    ann, bob, cy = person("Ann"), person("Bob"), person("Cy")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=10)
    schedule = new_schedule(api, layer([ann, bob], start=start.isoformat(), unit="days", handoff="00:00"),
                            name="daily", time_zone="UTC")
    tomorrow_noon = today + timedelta(days=1, hours=12)
    add_override(api, schedule["id"], cy, tomorrow_noon, tomorrow_noon + timedelta(hours=2))
    return schedule, ann, bob, cy, start


def test_schedule_feed(anonymous, daily):
    schedule, ann, bob, cy, start = daily
    now = datetime.now(UTC)
    calendar = ical(anonymous.get(schedule["calendar_url"]))
    assert str(calendar["x-wr-calname"]) == "daily"
    shifts = events(calendar)
    assert shifts[0][1] <= now - timedelta(days=7) < shifts[0][2]
    assert shifts[-1][1] <= now + timedelta(days=60) < shifts[-1][2]
    assert all(a[2] == b[1] for a, b in zip(shifts, shifts[1:]))
    tomorrow = start + timedelta(days=11)
    assert [s for s in shifts if tomorrow <= s[1] < tomorrow + timedelta(days=1)] == [
        ("On call: Bob", tomorrow, tomorrow + timedelta(hours=12)),
        ("On call: Cy", tomorrow + timedelta(hours=12), tomorrow + timedelta(hours=14)),
        ("On call: Bob", tomorrow + timedelta(hours=14), tomorrow + timedelta(days=1)),
    ]
    for summary, begin, end in shifts:
        if not tomorrow <= begin < tomorrow + timedelta(days=1):
            assert (end - begin, begin.time()) == (timedelta(days=1), datetime.min.time())
            assert summary == ("On call: Ann" if (begin - start).days % 2 == 0 else "On call: Bob")
    uids = [str(e["uid"]) for e in calendar.walk("VEVENT")]
    assert len(set(uids)) == len(uids)
    assert uids == [str(e["uid"]) for e in ical(anonymous.get(schedule["calendar_url"])).walk("VEVENT")]


def test_user_feed_spans_schedules(api, anonymous, daily):
    schedule, ann, bob, cy, start = daily
    new_schedule(api, layer([cy, bob], start=start.isoformat(), handoff="00:00"), name="weekly", time_zone="UTC")
    calendar = ical(anonymous.get(cy["calendar_url"]))
    assert str(calendar["x-wr-calname"]) == "On call: Cy"
    mine = events(calendar)
    tomorrow_noon = start + timedelta(days=11, hours=12)
    assert ("On call: daily", tomorrow_noon, tomorrow_noon + timedelta(hours=2)) in mine
    weeks = [(begin, end) for summary, begin, end in mine if summary == "On call: weekly"]
    assert weeks and all(end - begin == timedelta(weeks=1) and (begin - start).days % 14 == 0 for begin, end in weeks)
    assert {summary for summary, _, _ in mine} == {"On call: daily", "On call: weekly"}
    assert [begin for _, begin, _ in mine] == sorted(begin for _, begin, _ in mine)
    ann_days = events(ical(anonymous.get(ann["calendar_url"])))
    assert ann_days
    assert all(summary == "On call: daily" and (begin - start).days % 2 == 0 for summary, begin, _ in ann_days)


def test_feeds_need_their_own_token(anonymous, api, daily):
    schedule, ann, *_ = daily
    other = new_schedule(api, layer([ann]))
    schedule_path = f"/api/v1/schedules/{schedule['id']}/oncall.ics"
    user_path = f"/api/v1/users/{ann['id']}/oncall.ics"
    for path, url in ((schedule_path, schedule["calendar_url"]), (user_path, ann["calendar_url"])):
        assert anonymous.get(path).status_code == 401
        assert anonymous.get(path, params={"token": ""}).status_code == 401
        assert anonymous.get(path, params={"token": "nope"}).status_code == 403
        token = url.split("token=", 1)[1]
        assert anonymous.get(path, params={"token": token}).status_code == 200
    other_token = other["calendar_url"].split("token=", 1)[1]
    assert anonymous.get(schedule_path, params={"token": other_token}).status_code == 403
    assert anonymous.get(f"/api/v1/schedules/{uuid.uuid4()}/oncall.ics", params={"token": "x"}).status_code == 404
    assert anonymous.get(f"/api/v1/users/{uuid.uuid4()}/oncall.ics", params={"token": "x"}).status_code == 404
