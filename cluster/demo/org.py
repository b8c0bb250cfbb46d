"""The demo organisation, made through Tocsin's REST API with the admin token, as an admin
would make it: four people (people.py) with verified contact methods and notification rules,
two schedules whose rotation spans Berlin and New York, an escalation policy over them, and
three services, each with an Alertmanager integration.

Each object is looked up by its name (a person by e-mail address) and made only when missing,
so a demo restarted on its data dir finds its organisation again and adds nothing twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tocsin.cluster.demo.people import BERLIN, NEW_YORK, PEOPLE, Person

PRIMARY, SECONDARY, POLICY = "Platform primary", "Platform secondary", "Platform on call"
# (name, urgency, description)
SERVICES = (
    ("checkout-api", "high", "Takes orders and payments from the web shop"),
    ("payments-db", "severity", "The Postgres cluster behind payments"),
    ("web-frontend", "severity", "The shop's pages and their CDN"),
)
# (kind, urgency, minutes after being paged): a text and a push at once, then e-mail, then a call.
RULES = (("sms", "high", 0), ("push", "high", 0), ("email", "high", 1), ("voice", "high", 3),
         ("push", "low", 0), ("email", "low", 0))
# A Monday: the rotations count their turns from it.
EPOCH_BERLIN, EPOCH_NEW_YORK = "2026-01-05T08:00:00+01:00", "2026-01-05T09:00:00-05:00"


@dataclass(frozen=True, slots=True)
class Source:
    """Where the generator sends one service's alerts."""

    service: str
    url: str


class DemoApi:
    def __init__(self, base_url: str, admin_token: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=60)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, listed: str) -> list[dict[str, Any]]:
        response = self.http.get(path)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()[listed]
        return items

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        if response.status_code != 201:
            raise RuntimeError(f"POST {path}: HTTP {response.status_code}: {response.text}")
        made: dict[str, Any] = response.json()
        return made

    def ensure(self, path: str, listed: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        """The object under `path` whose `key` is `body[key]`, made from `body` when there is none."""
        found = [item for item in self.get(path, listed) if item[key] == body[key]]
        return found[0] if found else self.post(path, body)


def seed(api: DemoApi) -> list[Source]:
    """The organisation, made where missing; the services' Alertmanager sources."""
    users = {person.name: _person(api, person) for person in PEOPLE}
    primary = api.ensure("/api/v1/schedules", "schedules", "name", _primary(users))
    secondary = api.ensure("/api/v1/schedules", "schedules", "name", _secondary(users))
    policy = api.ensure("/api/v1/escalation-policies", "escalation_policies", "name", {
        "name": POLICY, "repeat": 1, "description": "Berlin and New York share the pager; the secondary backs them up",
        "levels": [{"delay_minutes": 5, "targets": [{"type": "schedule", "id": primary["id"]}]},
                   {"delay_minutes": 10, "targets": [{"type": "schedule", "id": secondary["id"]}]}],
    })
    return [_service(api, name, urgency, description, policy["id"]) for name, urgency, description in SERVICES]


def _person(api: DemoApi, person: Person) -> str:
    user = api.ensure("/api/v1/users", "users", "email", {
        "name": person.name, "email": person.email, "time_zone": person.time_zone, "role": "responder"})
    methods_path = f"/api/v1/users/{user['id']}/contact-methods"
    addresses = {"sms": person.phone, "voice": person.phone, "email": person.email, "push": person.push_endpoint}
    have = {(m["kind"], m["address"]): m["id"] for m in api.get(methods_path, "contact_methods")}
    methods = {kind: have.get((kind, address)) or api.post(methods_path, {
        "kind": kind, "address": address, "label": f"{person.name.split()[0]}'s phone", "verified": True})["id"]
        for kind, address in addresses.items()}
    rules_path = f"/api/v1/users/{user['id']}/notification-rules"
    rules = {(r["contact_method_id"], r["urgency"], r["delay_minutes"]) for r in api.get(rules_path, "notification_rules")}
    for kind, urgency, delay in RULES:
        if (methods[kind], urgency, delay) not in rules:
            api.post(rules_path, {"contact_method_id": methods[kind], "urgency": urgency, "delay_minutes": delay})
    return str(user["id"])


def _primary(users: dict[str, str]) -> dict[str, Any]:
    """Follow the sun: Berlin by day (a daily turn between its two), New York through Berlin's night
    (a weekly turn between its two)."""
    berlin = [users[p.name] for p in PEOPLE if p.time_zone == BERLIN]
    new_york = [users[p.name] for p in PEOPLE if p.time_zone == NEW_YORK]
    days = [{"day": day, "start": "08:00", "end": "20:00"} for day in range(7)]
    return {"name": PRIMARY, "time_zone": BERLIN, "description": "Follow the sun: Berlin by day, New York by night",
            "layers": [
                {"name": "Berlin days", "priority": 1, "restriction": {"windows": days},
                 "rotation": {"participants": berlin, "start": EPOCH_BERLIN, "shift_length": 1, "unit": "days",
                              "handoff": "08:00"}},
                {"name": "New York", "priority": 0,
                 "rotation": {"participants": new_york, "start": EPOCH_BERLIN, "shift_length": 1, "unit": "weeks",
                              "handoff": "08:00"}},
            ]}


def _secondary(users: dict[str, str]) -> dict[str, Any]:
    everyone = [users[p.name] for p in PEOPLE]
    return {"name": SECONDARY, "time_zone": NEW_YORK, "description": "Everyone in turn, a week each",
            "layers": [{"name": "Weekly", "rotation": {"participants": everyone, "start": EPOCH_NEW_YORK,
                                                       "shift_length": 1, "unit": "weeks", "handoff": "09:00"}}]}


def _service(api: DemoApi, name: str, urgency: str, description: str, policy_id: str) -> Source:
    service = api.ensure("/api/v1/services", "services", "name", {
        "name": name, "urgency": urgency, "description": description, "escalation_policy_id": policy_id})
    path = f"/api/v1/services/{service['id']}/integrations"
    integrations = [i for i in api.get(path, "integrations") if i["type"] == "alertmanager" and not i["revoked_at"]]
    integration = integrations[0] if integrations else api.post(path, {"type": "alertmanager", "name": "Prometheus"})
    return Source(name, str(integration["url"]))
