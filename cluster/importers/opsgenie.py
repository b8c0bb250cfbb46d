"""`tocsin import opsgenie`: an Opsgenie account, read through Opsgenie's official SDK
(`opsgenie_sdk`), as a Tocsin configuration document.

The SDK wraps alerts, incidents and heartbeats only (and its heartbeat model drops the owner
team); everything is read through its ApiClient (host, GenieKey authentication, TLS settings),
on the documented REST API v2 paths.

Mapping: each API integration becomes a service with an `opsgenie` integration that keeps the
integration's 36-character API key (so a sender changes only its base URL), escalated by its
team's escalation; heartbeats go on their team's first such service. A rotation is a layer
(later rotations higher); Opsgenie pages everyone on call in overlapping rotations, Tocsin the
highest layer's, which the report says for schedules with more than one rotation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from tocsin.actors.domain.config.document import (
    ContactMethod, Document, EscalationPolicy, Heartbeat, Integration, Layer, Level, Member, NotificationRule,
    Override, Restriction, Rotation, Schedule, Service, Target, Team, User, Window,
)
from tocsin.cluster.importers.check import Timeline
from tocsin.cluster.importers.common import WEEK_MINUTES, Report, known_zone, wall_handoff, weekly_windows

Account = dict[str, Any]
DEFAULT_URL = "https://api.opsgenie.com"
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = {"hourly": "hours", "daily": "days", "weekly": "weeks"}
_SECONDS = {"minutes": 60, "hours": 3600, "days": 86_400}
_CONTACTS = {"email": "email", "sms": "sms", "voice": "voice"}


class _Api:
    """GETs through the SDK's ApiClient, answers unwrapped from `data`."""

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client

    def get(self, path: str, **query: Any) -> Any:
        answer = self.api_client.call_api(path, "GET", query_params=list(query.items()),
                                          header_params={"Accept": "application/json"}, response_type="object",
                                          auth_settings=["GenieKey"], _return_http_data_only=True)
        return answer["data"]

    def pages(self, path: str) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            answer = self.api_client.call_api(path, "GET", query_params=[("limit", 100), ("offset", offset)],
                                              header_params={"Accept": "application/json"}, response_type="object",
                                              auth_settings=["GenieKey"], _return_http_data_only=True)
            yield from answer["data"]
            offset += len(answer["data"])
            if not answer.get("paging", {}).get("next") or not answer["data"]:
                return


def client(api_key: str, api_url: str = DEFAULT_URL) -> _Api:
    """Opsgenie's SDK (the `import` extra), trusting SSL_CERT_FILE's CA bundle when set."""
    import os

    import opsgenie_sdk

    configuration = opsgenie_sdk.configuration.Configuration()
    configuration.host = api_url.rstrip("/")
    configuration.api_key["Authorization"] = api_key
    configuration.ssl_ca_cert = os.environ.get("SSL_CERT_FILE") or configuration.ssl_ca_cert
    return _Api(opsgenie_sdk.api_client.ApiClient(configuration=configuration))


def read_account(api: _Api) -> Account:
    users = [{**u, "contacts": api.get(f"/v2/users/{u['id']}/contacts")} for u in api.pages("/v2/users")]
    schedules = api.get("/v2/schedules", expand="rotation")
    return {
        "users": users,
        "teams": [api.get(f"/v2/teams/{t['id']}") for t in api.get("/v2/teams")],
        "schedules": schedules,
        "overrides": {s["id"]: api.get(f"/v2/schedules/{s['id']}/overrides") for s in schedules},
        "escalations": api.get("/v2/escalations"),
        "integrations": [api.get(f"/v2/integrations/{i['id']}") for i in api.get("/v2/integrations")],
        # The SDK's HeartbeatApi model drops `ownerTeam`, which says where a heartbeat belongs.
        "heartbeats": api.get("/v2/heartbeats")["heartbeats"],
    }


def timelines(api: _Api, since: datetime, until: datetime) -> dict[str, Timeline]:
    """Each schedule's final timeline over [since, until), by name: (start, end, e-mail)."""
    emails = {u["id"]: u["username"] for u in api.pages("/v2/users")}
    days = max(1, -(-int((until - since).total_seconds()) // 86_400))
    out = {}
    for schedule in api.get("/v2/schedules"):
        line = api.get(f"/v2/schedules/{schedule['id']}/timeline", date=since.isoformat(), interval=days,
                       intervalUnit="days")
        out[schedule["name"]] = [(_instant(p["startDate"]), _instant(p["endDate"]),
                                  emails.get(p["recipient"]["id"], p["recipient"]["id"]))
                                 for r in line["finalTimeline"]["rotations"] for p in r.get("periods", [])
                                 if p.get("recipient", {}).get("type") == "user"]
    return out


def _instant(text: Any) -> datetime:
    return text if isinstance(text, datetime) else datetime.fromisoformat(str(text).replace("Z", "+00:00"))


# -- mapping -----------------------------------------------------------------------------


def to_document(account: Account, now: datetime) -> tuple[Document, Report]:
    report = Report()
    emails = {u["id"]: u["username"] for u in account["users"]}
    teams = {t["id"]: t["name"] for t in account["teams"]}
    schedules = {s["id"]: s["name"] for s in account["schedules"]}
    report.add("notification rules", "Opsgenie's are not read: each e-mail, SMS and voice contact is paged at once"
                                     " for both urgencies; adjust in the file")
    document = Document(
        teams=tuple(_team(t, emails) for t in account["teams"]),
        users=tuple(_user(u, report) for u in account["users"]),
        schedules=tuple(_schedule(s, account["overrides"].get(s["id"], []), emails, now, report)
                        for s in account["schedules"]),
        escalation_policies=tuple(_escalation(e, emails, schedules, report) for e in account["escalations"]),
        services=tuple(_services(account, teams, report)),
    )
    return document, report


def _team(team: dict[str, Any], emails: dict[str, str]) -> Team:
    members = tuple(Member(emails[m["user"]["id"]], "admin" if m.get("role") == "admin" else "responder")
                    for m in team.get("members", []) if m["user"]["id"] in emails)
    return Team(team["name"], members)


def _user(user: dict[str, Any], report: Report) -> User:
    email = user["username"]
    zone = user.get("timeZone") or "UTC"
    if not known_zone(zone):
        report.add(f"user {email}", f"time zone {zone!r} is not an IANA zone; UTC instead")
        zone = "UTC"
    methods = []
    for contact in user.get("contacts", []):
        kind = _CONTACTS.get(contact["method"])
        if kind is None:
            report.add(f"user {email}: contact {contact['method']}", "Tocsin cannot page Opsgenie's app; left out")
            continue
        address = contact["to"] if kind == "email" else "+" + contact["to"].replace("-", "").replace(" ", "")
        methods.append(ContactMethod(kind, address, notification_rules=(  # type: ignore[arg-type]
            NotificationRule("high", 0), NotificationRule("low", 0))))
    role = (user.get("role") or {}).get("name", "")
    return User(name=user.get("fullName") or email, email=email, time_zone=zone,
                role="admin" if role in ("Owner", "Admin") else "responder", contact_methods=tuple(methods))


def _schedule(schedule: dict[str, Any], overrides: list[dict[str, Any]], emails: dict[str, str], now: datetime,
              report: Report) -> Schedule:
    name, zone = schedule["name"], schedule["timezone"]
    rotations = schedule.get("rotations") or []
    if len(rotations) > 1:
        report.add(f"schedule {name}", "where its rotations overlap, Opsgenie pages everyone on call in them and"
                                       " Tocsin the later rotation's person")
    layers = []
    for priority, rotation in enumerate(rotations):
        layer = _layer(f"schedule {name}: rotation {rotation['name']}", zone, rotation, emails, now, priority, report)
        if layer is not None:
            layers.append(layer)
    kept = []
    for override in overrides:
        if override.get("rotations"):
            report.add(f"schedule {name}: override {override.get('alias')}",
                       "applies to some rotations only; imported for the whole schedule")
        email = emails.get(override["user"]["id"])
        if email is None:
            report.add(f"schedule {name}: override {override.get('alias')}", "its user is not in the account")
            continue
        kept.append(Override(email, _instant(override["startDate"]), _instant(override["endDate"])))
    team = (schedule.get("ownerTeam") or {}).get("name")
    return Schedule(name=name, time_zone=zone, team=team, description=schedule.get("description") or "",
                    layers=tuple(layers), overrides=tuple(kept))


def _layer(what: str, zone: str, rotation: dict[str, Any], emails: dict[str, str], now: datetime, priority: int,
           report: Report) -> Layer | None:
    if rotation.get("endDate") and _instant(rotation["endDate"]) <= now:
        report.add(what, "ended before the import; left out")
        return None
    people = rotation["participants"]
    if any(p["type"] != "user" or p["id"] not in emails for p in people):
        report.add(what, "a participant is not a user (a team, an escalation or nobody); left out")
        return None
    start = _instant(rotation["startDate"])
    if rotation.get("endDate"):
        report.add(what, f"ends at {rotation['endDate']}; Tocsin's layers do not end: remove it then")
    handoff, _ = wall_handoff(start, zone)
    return Layer(name=rotation.get("name") or rotation["id"], priority=priority,
                 rotation=Rotation(tuple(emails[p["id"]] for p in people), start, int(rotation.get("length") or 1),
                                   _UNITS[rotation["type"]], handoff),  # type: ignore[arg-type]
                 restriction=_restriction(rotation.get("timeRestriction")))


def _restriction(restriction: dict[str, Any] | None) -> Restriction | None:
    if not restriction:
        return None
    if restriction["type"] == "time-of-day":
        r = restriction["restriction"]
        start, end = r["startHour"] * 60 + r["startMin"], r["endHour"] * 60 + r["endMin"]
        return Restriction(tuple(Window(day, _hhmm(start), _hhmm(end)) for day in range(7)))
    windows: list[Window] = []
    for r in restriction["restrictions"]:
        begin = _DAYS.index(r["startDay"]) * 1440 + r["startHour"] * 60 + r["startMin"]
        end = _DAYS.index(r["endDay"]) * 1440 + r["endHour"] * 60 + r["endMin"]
        windows += weekly_windows(begin // 1440, begin % 1440, (end - begin) % WEEK_MINUTES or WEEK_MINUTES)
    return Restriction(tuple(windows))


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _escalation(escalation: dict[str, Any], emails: dict[str, str], schedules: dict[str, str],
                report: Report) -> EscalationPolicy:
    name = escalation["name"]
    by_delay: dict[int, list[Target]] = {}
    for rule in escalation["rules"]:
        recipient, delay = rule["recipient"], int(rule["delay"]["timeAmount"])
        if rule.get("condition") == "if-not-closed":
            report.add(f"escalation {name}", "a rule waits for the alert to close; Tocsin escalates until acknowledged")
        if recipient["type"] == "user" and recipient["id"] in emails:
            by_delay.setdefault(delay, []).append(Target(user=emails[recipient["id"]]))
        elif recipient["type"] == "schedule" and recipient["id"] in schedules:
            by_delay.setdefault(delay, []).append(Target(schedule=schedules[recipient["id"]]))
        else:
            report.add(f"escalation {name}", f"recipient {recipient['type']} {recipient.get('name') or recipient['id']}"
                                             " has no counterpart (name its schedule or people); left out")
    delays = sorted(by_delay)
    repeat = escalation.get("repeat") or {}
    last_wait = int(repeat.get("waitInterval") or 30)
    levels = tuple(Level(tuple(by_delay[d]), max(1, (delays[i + 1] - d) if i + 1 < len(delays) else last_wait))
                   for i, d in enumerate(delays))
    return EscalationPolicy(name=name, levels=levels, team=(escalation.get("ownerTeam") or {}).get("name"),
                            description=escalation.get("description") or "", repeat=min(int(repeat.get("count") or 0), 9))


def _services(account: Account, teams: dict[str, str], report: Report) -> Iterator[Service]:
    policies: dict[str | None, str] = {}
    for escalation in account["escalations"]:
        policies.setdefault((escalation.get("ownerTeam") or {}).get("id"), escalation["name"])
    beats: dict[str, list[dict[str, Any]]] = {}
    for beat in account["heartbeats"]:
        beats.setdefault((beat.get("ownerTeam") or {}).get("name", ""), []).append(beat)
    for integration in account["integrations"]:
        what = f"integration {integration['name']}"
        if integration["type"] != "API":
            report.add(what, f"type {integration['type']} has no counterpart; point its sender at one of Tocsin's")
            continue
        # GET /v2/integrations/{id} names the owner as `ownerTeam`; the listing only as `teamId`.
        team_id = (integration.get("ownerTeam") or {}).get("id") or integration.get("teamId")
        team = teams.get(team_id or "")
        yield Service(name=integration["name"], team=team, escalation_policy=policies.get(team_id),
                      integrations=(Integration("opsgenie", integration["name"], integration.get("apiKey")),),
                      heartbeats=tuple(_heartbeat(b, report) for b in beats.pop(team or "", [])))
    for team, left in beats.items():
        for beat in left:
            report.add(f"heartbeat {beat['name']}", f"team {team or '(none)'} has no API integration to hang it on")


def _heartbeat(beat: dict[str, Any], report: Report) -> Heartbeat:
    unit = beat.get("intervalUnit") or "minutes"
    seconds = int(beat["interval"]) * _SECONDS[unit]
    report.add(f"heartbeat {beat['name']}", "pinged at Tocsin's heartbeat URL with its new key, not by name")
    if seconds > 86_400:
        report.add(f"heartbeat {beat['name']}", "an interval over a day; one day instead")
    return Heartbeat(name=beat["name"], interval_seconds=min(seconds, 86_400))
