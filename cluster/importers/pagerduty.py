"""`tocsin import pagerduty`: a PagerDuty account, read through its REST API v2 with PagerDuty's
own client, as a Tocsin configuration document.

`read_account` fetches (users with contact methods and notification rules, schedules with
layers, overrides from now to `horizon`, escalation policies, services with their
integrations, ongoing and future maintenance windows); `to_document` maps them with no I/O.
PagerDuty's semantics carry over unchanged: layers listed highest first, turns of whole days
handing off at the same wall-clock time, restrictions as wall-clock windows, overrides over
everything. Each Events API v2 integration keeps its routing key, so a sender only changes
the base URL it sends to.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from tocsin.actors.domain.config.document import (
    ContactMethod, Document, EscalationPolicy, Integration, Layer, Level, MaintenanceWindow, NotificationRule,
    Override, Restriction, Role, Rotation, Schedule, Service, Target, User, Window,
)
from tocsin.cluster.importers.common import WEEK_MINUTES, Report, known_zone, usable_key, wall_handoff, weekly_windows

Account = dict[str, Any]
DEFAULT_URL = "https://api.pagerduty.com"
_ROLES: dict[str, Role] = {"admin": "admin", "owner": "admin", "observer": "viewer", "read_only_user": "viewer",
          "read_only_limited_user": "viewer"}
_CONTACT_KINDS = {"email_contact_method": "email", "sms_contact_method": "sms", "phone_contact_method": "voice"}
_URGENCIES = {"high": "high", "low": "low", "severity_based": "severity"}
_EVENTS_V2 = "events_api_v2_inbound_integration"


def client(api_key: str, api_url: str = DEFAULT_URL) -> Any:
    """PagerDuty's REST API v2 client (the `import` extra). It trusts the CA bundle in
    SSL_CERT_FILE when that is set, as for any https:// endpoint behind a private CA."""
    import pagerduty

    return pagerduty.RestApiV2Client(api_key, base_url=api_url)


def read_account(api: Any, now: datetime, horizon: timedelta = timedelta(days=365)) -> Account:
    until = (now + horizon).isoformat()
    users = list(api.iter_all("users", params={"include[]": ["contact_methods", "notification_rules"]}))
    schedules = [api.rget(f"schedules/{s['id']}", params={"since": now.isoformat(), "until": until})
                 for s in api.iter_all("schedules")]
    overrides = {s["id"]: api.rget(f"schedules/{s['id']}/overrides", params={"since": now.isoformat(), "until": until})
                 for s in schedules}
    windows = [w for which in ("ongoing", "future") for w in api.iter_all("maintenance_windows", params={"filter": which})]
    return {
        "users": users, "schedules": schedules, "overrides": overrides,
        "escalation_policies": list(api.iter_all("escalation_policies")),
        "services": list(api.iter_all("services", params={"include[]": ["integrations"]})),
        "maintenance_windows": windows,
    }


def final_schedules(api: Any, since: datetime, until: datetime) -> dict[str, list[tuple[datetime, datetime, str]]]:
    """Each schedule's rendered final schedule over [since, until), by name: (start, end, e-mail)."""
    emails = {u["id"]: u["email"] for u in api.iter_all("users")}
    out = {}
    for summary in api.iter_all("schedules"):
        schedule = api.rget(f"schedules/{summary['id']}", params={"since": since.isoformat(), "until": until.isoformat()})
        out[schedule["name"]] = [(_instant(e["start"]), _instant(e["end"]), emails.get(e["user"]["id"], e["user"]["id"]))
                                 for e in schedule["final_schedule"]["rendered_schedule_entries"]]
    return out


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class _Mapping:
    def __init__(self, account: Account, now: datetime) -> None:
        self.account, self.now, self.report = account, now, Report()
        self.emails = {u["id"]: u["email"] for u in account["users"]}
        self.schedule_names = {s["id"]: s["name"] for s in account["schedules"]}
        self.policy_names = {p["id"]: p["name"] for p in account["escalation_policies"]}


def to_document(account: Account, now: datetime) -> tuple[Document, Report]:
    """The account as a document, and what could not be mapped."""
    m = _Mapping(account, now)
    document = Document(
        users=tuple(_user(m, u) for u in account["users"]),
        schedules=tuple(_schedule(m, s) for s in account["schedules"]),
        escalation_policies=tuple(_policy(m, p) for p in account["escalation_policies"]),
        services=tuple(_service(m, s) for s in account["services"]),
    )
    return document, m.report


# -- users -------------------------------------------------------------------------------


def _user(m: _Mapping, user: dict[str, Any]) -> User:
    zone = user.get("time_zone") or "UTC"
    if not known_zone(zone):
        m.report.add(f"user {user['email']}", f"time zone {zone!r} is not an IANA zone; UTC instead")
        zone = "UTC"
    rules: dict[str, list[NotificationRule]] = {}
    for rule in user.get("notification_rules", []):
        delay = min(int(rule.get("start_delay_in_minutes", 0)), 1440)
        rules.setdefault(rule["contact_method"]["id"], []).append(NotificationRule(rule["urgency"], delay))
    methods = tuple(_contact(m, user, method, rules.get(method["id"], [])) for method in user.get("contact_methods", []))
    return User(name=user["name"], email=user["email"], time_zone=zone, role=_ROLES.get(user.get("role", ""), "responder"),
                contact_methods=tuple(method for method in methods if method is not None))


def _contact(m: _Mapping, user: dict[str, Any], method: dict[str, Any],
             rules: list[NotificationRule]) -> ContactMethod | None:
    kind = _CONTACT_KINDS.get(method["type"])
    if kind is None:
        m.report.add(f"user {user['email']}: contact method {method.get('label') or method['id']} ({method['type']})",
                     "Tocsin cannot page PagerDuty's own apps; the user adds Tocsin's web push or a phone number"
                     + (f" ({len(rules)} notification rule(s) left out)" if rules else ""))
        return None
    address = str(method["address"])
    if kind != "email":
        address = f"+{method.get('country_code', '')}{address}".replace(" ", "")
    return ContactMethod(kind=kind, address=address, label=method.get("label") or "", notification_rules=tuple(rules))  # type: ignore[arg-type]


# -- schedules ---------------------------------------------------------------------------


def _schedule(m: _Mapping, schedule: dict[str, Any]) -> Schedule:
    name, zone = schedule["name"], schedule["time_zone"]
    layers = schedule.get("schedule_layers", [])
    mapped = []
    for index, layer in enumerate(layers):  # highest first
        if layer.get("end") and _instant(layer["end"]) <= m.now:
            m.report.add(f"schedule {name}: layer {layer['name']}", "ended before the import; left out")
            continue
        made = _layer(m, name, zone, layer, priority=len(layers) - 1 - index)
        if made is not None:
            mapped.append(made)
    overrides = []
    for override in m.account["overrides"].get(schedule["id"], []):
        email = m.emails.get(override["user"]["id"])
        if email is None:
            m.report.add(f"schedule {name}: override from {override['start']}", "its user is not in the account")
            continue
        overrides.append(Override(email, _instant(override["start"]), _instant(override["end"])))
    return Schedule(name=name, time_zone=zone, description=schedule.get("description") or "",
                    layers=tuple(reversed(mapped)), overrides=tuple(overrides))


def _layer(m: _Mapping, schedule: str, zone: str, layer: dict[str, Any], priority: int) -> Layer | None:
    what = f"schedule {schedule}: layer {layer['name']}"
    turn = int(layer["rotation_turn_length_seconds"])
    unit, length = _unit(turn)
    if unit is None:
        m.report.add(what, f"turns of {turn} s are not whole hours; left out")
        return None
    participants = [m.emails.get(entry["user"]["id"]) for entry in layer["users"]]
    if None in participants:
        m.report.add(what, "a participant is not a user of the account; left out")
        return None
    start = _instant(layer["rotation_virtual_start"])
    handoff, whole = wall_handoff(start, zone)
    if not whole:
        m.report.add(what, "its handoff is not on a whole minute; rounded down")
    if _instant(layer["start"]) > m.now:
        m.report.add(what, f"starts at {layer['start']}; Tocsin's layer is in force from its rotation's start")
    if layer.get("end"):
        m.report.add(what, f"ends at {layer['end']}; Tocsin's layers do not end: remove it then")
    rotation = Rotation(participants=tuple(p for p in participants if p), start=start, shift_length=length,
                        unit=unit, handoff=handoff)
    return Layer(name=layer["name"], rotation=rotation, priority=priority,
                 restriction=_restriction(m, what, layer.get("restrictions") or []))


def _unit(seconds: int) -> tuple[Any, int]:
    for unit, size in (("weeks", 604_800), ("days", 86_400), ("hours", 3_600)):
        if seconds % size == 0 and seconds // size <= 1000:
            return unit, seconds // size
    return None, 0


def _restriction(m: _Mapping, what: str, restrictions: list[dict[str, Any]]) -> Restriction | None:
    windows: list[Window] = []
    for restriction in restrictions:
        hours, minutes, seconds = (int(part) for part in restriction["start_time_of_day"].split(":"))
        length = int(restriction["duration_seconds"]) // 60
        if seconds or int(restriction["duration_seconds"]) % 60:
            m.report.add(what, "a restriction not on whole minutes; rounded down")
        if restriction["type"] == "daily_restriction":
            days = range(7)
        else:
            days = range(int(restriction["start_day_of_week"]) - 1, int(restriction["start_day_of_week"]))
        for day in days:
            windows += weekly_windows(day, hours * 60 + minutes, min(length, WEEK_MINUTES))
    if not windows or any(int(r["duration_seconds"]) >= WEEK_MINUTES * 60 for r in restrictions):
        return None
    return Restriction(tuple(windows))


# -- escalation policies and services ----------------------------------------------------


def _policy(m: _Mapping, policy: dict[str, Any]) -> EscalationPolicy:
    name = policy["name"]
    loops = int(policy.get("num_loops") or 0)
    if loops > 9:
        m.report.add(f"escalation policy {name}", f"loops {loops} times; Tocsin repeats at most 9")
    levels = []
    for number, rule in enumerate(policy["escalation_rules"], start=1):
        targets = tuple(_targets(m, f"escalation policy {name} level {number}", rule["targets"]))
        if targets:
            levels.append(Level(targets=targets, delay_minutes=max(1, int(rule["escalation_delay_in_minutes"]))))
    return EscalationPolicy(name=name, levels=tuple(levels), description=policy.get("description") or "",
                            repeat=min(loops, 9))


def _targets(m: _Mapping, what: str, targets: list[dict[str, Any]]) -> Iterator[Target]:
    for target in targets:
        kind = target["type"].removesuffix("_reference")
        if kind == "user" and target["id"] in m.emails:
            yield Target(user=m.emails[target["id"]])
        elif kind == "schedule" and target["id"] in m.schedule_names:
            yield Target(schedule=m.schedule_names[target["id"]])
        else:
            m.report.add(what, f"target {target['type']} {target['id']} has no counterpart; left out")


def _service(m: _Mapping, service: dict[str, Any]) -> Service:
    name = service["name"]
    what = f"service {name}"
    rule = service.get("incident_urgency_rule") or {"type": "constant", "urgency": "high"}
    urgency = _URGENCIES.get(rule.get("urgency", "")) if rule["type"] == "constant" else None
    if urgency is None:
        m.report.add(what, f"urgency rule {rule['type']} (support hours) has no counterpart; high urgency instead")
    if service.get("status") == "disabled":
        m.report.add(what, "disabled in PagerDuty; imported live")
    resolve = service.get("auto_resolve_timeout")
    policy = (service.get("escalation_policy") or {}).get("id")
    return Service(
        name=name, description=service.get("description") or "", escalation_policy=m.policy_names.get(policy or ""),
        urgency=urgency or "high",  # type: ignore[arg-type]
        auto_resolve_minutes=min(math.ceil(int(resolve) / 60), 43_200) if resolve else None,
        integrations=tuple(_integrations(m, what, service.get("integrations", []))),
        maintenance_windows=tuple(
            MaintenanceWindow(_instant(w["start_time"]), _instant(w["end_time"]), (w.get("description") or "")[:1024])
            for w in m.account["maintenance_windows"] if service["id"] in {s["id"] for s in w["services"]}),
    )


def _integrations(m: _Mapping, what: str, integrations: list[dict[str, Any]]) -> Iterator[Integration]:
    for integration in integrations:
        label = f"{what}: integration {integration.get('name') or integration['id']}"
        if integration["type"] != _EVENTS_V2:
            m.report.add(label, f"{integration['type']} has no counterpart; point its sender at another of"
                                " Tocsin's integrations (Events API v2, Alertmanager, Grafana, e-mail)")
            continue
        key = integration.get("integration_key")
        if not usable_key(key):
            m.report.add(label, "its routing key is not 32 lower-case hex characters; Tocsin makes a new one")
            key = None
        yield Integration(type="pagerduty", name=integration.get("name") or "", key=key)
