"""The audit log over HTTP: every route that changes something writes exactly one entry, with
the object it changed as it was before and after (secrets masked); the log is read, filtered,
paged and exported by those allowed to.

The matrix covers the app's own list of mutating routes (tests/e2e/test_auth.py's app_routes):
a route added later fails the guard until serve/audit_routes.py declares it and a case here
performs it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import orjson
import pytest

from tocsin.serve.audit_routes import AUDITED, NOT_AUDITED
from tests.client import create_service, trigger
from tests.e2e.accounts import PASSWORD, Login, logged_in, make_user
from tests.e2e.conftest import incidents_of
from tests.e2e.teams import furnish, make_team, ok
from tests.e2e.test_auth import ALL
from tests.e2e.test_delivery_api import dead_notification
from tests.fakes.push_service import FakePushService

CHANGES = ("POST", "PUT", "PATCH", "DELETE")
WEBHOOK = "http://127.0.0.1:9/hook?token=w3bh00kS3cret"
# Audited routes the matrix cannot perform on the shared deployment, and where they are shown.
ELSEWHERE = {
    ("POST", "/api/v1/setup"): "works only while nobody can log in: tests/e2e/test_tocsin_up.py reads its entry",
}


def mutating_routes() -> set[tuple[str, str]]:
    return {route.key for route in ALL if route.method in CHANGES and route.path.startswith("/api/v1/")}


# -- one case per audited route ----------------------------------------------------------------------

Check = Callable[[Any, Any], None]  # (before, after) -> asserts


@dataclass
class Call:
    """A request to perform, the entry it should write and how its before and after look."""

    method: str
    path: str
    object_type: str
    object_id: str | None  # None: the id the answer gives; "": an entry of no object id
    check: Check
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    actor: str | None = None  # the entry's actor when not the admin token's


@dataclass
class World:
    api: httpx.Client
    anonymous: httpx.Client
    tocsin: Any
    admin_token: str
    db: Callable[..., Any]
    push: FakePushService

    def made(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return ok(self.api.post(path, json=body))  # type: ignore[no-any-return]

    def service(self, **fields: Any) -> dict[str, Any]:
        return self.made("/api/v1/services", {"name": f"svc {uuid.uuid4().hex[:6]}", **fields})

    def policy(self) -> dict[str, Any]:
        user = make_user(self.api, "responder", password=None)
        return self.made("/api/v1/escalation-policies", {"name": f"policy {uuid.uuid4().hex[:6]}", "levels": [
            {"delay_minutes": 30, "targets": [{"type": "user", "id": user["id"]}]},
            {"delay_minutes": 30, "targets": [{"type": "user", "id": user["id"]}]}]})

    def incident(self) -> int:
        service = create_service(self.tocsin.base_url, self.admin_token, f"paged {uuid.uuid4().hex[:6]}")
        ok(self.api.patch(f"/api/v1/services/{service.id}", json={"escalation_policy_id": self.policy()["id"]}), 200)
        ok(httpx.post(f"{self.tocsin.base_url}/v2/enqueue", json=trigger(service.key, uuid.uuid4().hex)), 202)
        return int(incidents_of(self.api, service.id)[0]["id"])

    def user(self, role: str = "responder") -> dict[str, Any]:
        return make_user(self.api, role)

    def method(self, user: dict[str, Any], kind: str = "sms", address: str | None = None) -> dict[str, Any]:
        address = address or f"+1555{uuid.uuid4().int % 10 ** 7:07d}"
        return self.made(f"/api/v1/users/{user['id']}/contact-methods", {"kind": kind, "address": address})

    def schedule(self) -> dict[str, Any]:
        return self.made("/api/v1/schedules", {"name": f"sched {uuid.uuid4().hex[:6]}", "time_zone": "UTC",
                                               "layers": []})

    def router(self) -> dict[str, Any]:
        return self.made("/api/v1/integrations", {"type": "router", "name": f"router {uuid.uuid4().hex[:6]}",
                                                  "format": "generic", "catch_all": {"drop": True}})

    def team(self) -> dict[str, Any]:
        return self.made("/api/v1/teams", {"name": f"team {uuid.uuid4().hex[:8]}"})

    def login(self, user: dict[str, Any]) -> Login:
        return logged_in(self.tocsin.base_url, user)


def _window() -> dict[str, str]:
    start = datetime.now(timezone.utc) + timedelta(days=1)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=8)).isoformat()}


def _made(field_name: str, value: Any) -> Check:
    def check(before: Any, after: Any) -> None:
        assert before is None and after[field_name] == value, (before, after)
    return check


def _changed(field_name: str, old: Any, new: Any) -> Check:
    def check(before: Any, after: Any) -> None:
        assert (before[field_name], after[field_name]) == (old, new), (before, after)
    return check


def _gone(field_name: str, value: Any) -> Check:
    def check(before: Any, after: Any) -> None:
        assert before[field_name] == value and after is None, (before, after)
    return check


def _stamped(field_name: str) -> Check:
    """`field_name` empty before, set after (revoked, ended, sent)."""
    def check(before: Any, after: Any) -> None:
        assert before[field_name] is None and after[field_name] is not None, (before, after)
    return check


def _status(old: str, new: str) -> Check:
    return _changed("status", old, new)


def _cases(w: World) -> dict[tuple[str, str], Callable[[], Call]]:
    """What each audited route is shown with: the objects it needs are made first (their own
    entries are not counted), then the call."""
    def service_create() -> Call:
        return Call("POST", "/api/v1/services", "service", None, _made("name", "audited"), {"name": "audited"}, status=201)

    def service_update() -> Call:
        s = w.service(name="before")
        return Call("PATCH", f"/api/v1/services/{s['id']}", "service", s["id"], _changed("name", "before", "after"),
                    {"name": "after"})

    def service_delete() -> Call:
        s = w.service(name="doomed")
        return Call("DELETE", f"/api/v1/services/{s['id']}", "service", s["id"], _gone("name", "doomed"), status=204)

    def integration_create() -> Call:
        s = w.service()
        def check(before: Any, after: Any) -> None:
            assert before is None and after["type"] == "pagerduty" and after["service_id"] == s["id"]
            assert after["key"].startswith("…") and len(after["key"]) == 5  # the routing key, masked
        return Call("POST", f"/api/v1/services/{s['id']}/integrations", "integration", None, check,
                    {"type": "pagerduty"}, status=201)

    def integration_revoke() -> Call:
        s = w.service()
        i = w.made(f"/api/v1/services/{s['id']}/integrations", {"type": "pagerduty"})
        return Call("DELETE", f"/api/v1/services/{s['id']}/integrations/{i['id']}", "integration", i["id"],
                    _stamped("revoked_at"))

    def window_start() -> Call:
        s = w.service()
        start = datetime.now(timezone.utc) + timedelta(days=1)
        body = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(), "reason": "db"}
        return Call("POST", f"/api/v1/services/{s['id']}/maintenance", "maintenance_window", None,
                    _made("reason", "db"), body, status=201)

    def window_end() -> Call:
        s = w.service()
        now = datetime.now(timezone.utc)
        window = w.made(f"/api/v1/services/{s['id']}/maintenance", {
            "starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat(), "reason": "db"})
        def check(before: Any, after: Any) -> None:
            assert before["reason"] == "db" and (after is None or after["ends_at"] != before["ends_at"])
        return Call("DELETE", f"/api/v1/services/{s['id']}/maintenance/{window['id']}", "maintenance_window",
                    window["id"], check, status=204)

    def heartbeat_create() -> Call:
        s = w.service()
        def check(before: Any, after: Any) -> None:
            assert before is None and after["name"] == "cron" and after["key"].startswith("…")
        return Call("POST", f"/api/v1/services/{s['id']}/heartbeats", "heartbeat", None, check,
                    {"name": "cron", "interval_seconds": 3600}, status=201)

    def heartbeat(method: str, body: Any, check: Check, status: int = 200) -> Callable[[], Call]:
        def case() -> Call:
            s = w.service()
            h = w.made(f"/api/v1/services/{s['id']}/heartbeats", {"name": "cron", "interval_seconds": 3600})
            return Call(method, f"/api/v1/heartbeats/{h['id']}", "heartbeat", h["id"], check, body, status=status)
        return case

    def router_create() -> Call:
        return Call("POST", "/api/v1/integrations", "integration", None, _made("type", "router"),
                    {"type": "router", "name": "made", "format": "generic", "catch_all": {"drop": True}}, status=201)

    def router_update() -> Call:
        r = w.router()
        return Call("PATCH", f"/api/v1/integrations/{r['id']}", "integration", r["id"],
                    _changed("name", r["name"], "renamed"), {"name": "renamed"})

    def router_revoke() -> Call:
        r = w.router()
        return Call("DELETE", f"/api/v1/integrations/{r['id']}", "integration", r["id"], _stamped("revoked_at"))

    def incident(action: str, body: Any, check: Check, status: int = 200) -> Callable[[], Call]:
        def case() -> Call:
            incident_id = w.incident()
            return Call("POST", f"/api/v1/incidents/{incident_id}/{action}", "incident", str(incident_id), check,
                        body, status=status)
        return case

    def escalated(before: Any, after: Any) -> None:
        assert before["escalation_level"] != after["escalation_level"], (before, after)

    def reassign() -> Call:
        incident_id, user = w.incident(), make_user(w.api, "responder", password=None)
        def check(before: Any, after: Any) -> None:
            assert before["assigned_user_id"] != user["id"] and after["assigned_user_id"] == user["id"]
        return Call("POST", f"/api/v1/incidents/{incident_id}/reassign", "incident", str(incident_id), check,
                    {"user_id": user["id"]})

    def noted(before: Any, after: Any) -> None:
        assert before["status"] == "triggered" and after["kind"] == "note" and after["message"] == "looking"

    def retry() -> Call:
        notification_id = dead_notification(w.db)
        return Call("POST", f"/api/v1/notifications/{notification_id}/retry", "notification", str(notification_id),
                    _status("dead", "pending"))

    def user_create() -> Call:
        email = f"new.{uuid.uuid4().hex[:8]}@example.com"
        def check(before: Any, after: Any) -> None:
            assert before is None and after["email"] == email
            assert not {"password_hash", "calendar_token"} & set(after)  # secrets are never kept
        return Call("POST", "/api/v1/users", "user", None, check,
                    {"name": "New", "email": email, "role": "viewer", "password": PASSWORD}, status=201)

    def user_update() -> Call:
        u = w.user()
        return Call("PATCH", f"/api/v1/users/{u['id']}", "user", u["id"], _changed("name", u["name"], "Renamed"),
                    {"name": "Renamed"})

    def user_delete() -> Call:
        u = w.user()
        return Call("DELETE", f"/api/v1/users/{u['id']}", "user", u["id"], _gone("email", u["email"]), status=204)

    def password() -> Call:
        u = w.user()
        login = w.login(u)
        def check(before: Any, after: Any) -> None:
            assert before == after == {"id": u["id"], "password_set": True}
        return Call("PUT", f"/api/v1/users/{u['id']}/password", "user", u["id"], check,
                    {"password": "another long password", "current_password": PASSWORD}, login.headers(), 204,
                    actor=u["id"])

    def slack_link() -> Call:
        u = w.user()
        return Call("PUT", f"/api/v1/users/{u['id']}/slack", "user", u["id"],
                    _changed("slack_user_id", None, "U0AUDIT1"), {"slack_user_id": "U0AUDIT1"})

    def slack_unlink() -> Call:
        u = w.user()
        slack_id = "U0" + uuid.uuid4().hex[:8].upper()
        ok(w.api.put(f"/api/v1/users/{u['id']}/slack", json={"slack_user_id": slack_id}), 200)
        return Call("DELETE", f"/api/v1/users/{u['id']}/slack", "user", u["id"],
                    _changed("slack_user_id", slack_id, None), status=204)

    def shift_notices() -> Call:
        u = w.user()
        m = w.method(u)
        return Call("PUT", f"/api/v1/users/{u['id']}/shift-notices", "user", u["id"],
                    _changed("shift_notice_method_id", None, m["id"]), {"contact_method_id": m["id"], "lead_minutes": 30})

    def method_create() -> Call:
        u = w.user()
        def check(before: Any, after: Any) -> None:
            assert before is None and after["address"] == "http://127.0.0.1/…"  # a credential: masked
        return Call("POST", f"/api/v1/users/{u['id']}/contact-methods", "contact_method", None, check,
                    {"kind": "webhook", "address": WEBHOOK}, status=201)

    def method_update() -> Call:
        u = w.user()
        m = w.method(u)
        return Call("PATCH", f"/api/v1/users/{u['id']}/contact-methods/{m['id']}", "contact_method", m["id"],
                    _changed("label", "", "work"), {"label": "work"})

    def method_delete() -> Call:
        u = w.user()
        m = w.method(u)
        return Call("DELETE", f"/api/v1/users/{u['id']}/contact-methods/{m['id']}", "contact_method", m["id"],
                    _gone("address", m["address"]), status=204)

    def code_sent() -> Call:
        u = w.user()
        m = w.method(u)
        def check(before: Any, after: Any) -> None:
            assert before["verification_sent_at"] is None and after["verification_sent_at"] is not None
            assert not any("hash" in name for name in after)
        return Call("POST", f"/api/v1/users/{u['id']}/contact-methods/{m['id']}/verification", "contact_method",
                    m["id"], check, status=202)

    def verify() -> Call:
        u = w.user()
        m = w.method(u)
        path = f"/api/v1/users/{u['id']}/contact-methods/{m['id']}"
        ok(w.api.post(f"{path}/verification"), 202)
        message = w.db("fetchval", "SELECT message FROM notifications WHERE contact_method_id = $1::uuid"
                                   " ORDER BY id DESC LIMIT 1", m["id"])
        code = re.search(r"code is (\d{6})\b", message).group(1)  # type: ignore[union-attr]
        return Call("POST", f"{path}/verify", "contact_method", m["id"], _changed("verified", False, True),
                    {"code": code})

    def rule_create() -> Call:
        u = w.user()
        m = w.method(u)
        return Call("POST", f"/api/v1/users/{u['id']}/notification-rules", "notification_rule", None,
                    _made("contact_method_id", m["id"]),
                    {"contact_method_id": m["id"], "urgency": "high", "delay_minutes": 0}, status=201)

    def rule_delete() -> Call:
        u = w.user()
        m = w.method(u)
        r = w.made(f"/api/v1/users/{u['id']}/notification-rules",
                   {"contact_method_id": m["id"], "urgency": "high", "delay_minutes": 5})
        return Call("DELETE", f"/api/v1/users/{u['id']}/notification-rules/{r['id']}", "notification_rule", r["id"],
                    _gone("delay_minutes", 5), status=204)

    def subscribe() -> Call:
        u = w.user()
        browser = w.push.subscribe()
        def check(before: Any, after: Any) -> None:
            assert before is None and after["kind"] == "webpush" and after["address"] != browser.endpoint
        return Call("POST", "/api/v1/push/subscriptions", "contact_method", None, check, browser.json(),
                    w.login(u).headers(), 201, actor=u["id"])

    def unsubscribe() -> Call:
        u = w.user()
        login, browser = w.login(u), w.push.subscribe()
        made = ok(w.anonymous.post("/api/v1/push/subscriptions", json=browser.json(), headers=login.headers()))
        return Call("DELETE", "/api/v1/push/subscriptions", "contact_method", made["id"], _gone("kind", "webpush"),
                    {"endpoint": browser.endpoint}, login.headers(), 204, actor=u["id"])

    def policy_create() -> Call:
        u = make_user(w.api, "responder", password=None)
        return Call("POST", "/api/v1/escalation-policies", "escalation_policy", None, _made("name", "made"),
                    {"name": "made", "levels": [{"delay_minutes": 5, "targets": [{"type": "user", "id": u["id"]}]}]},
                    status=201)

    def policy_replace() -> Call:
        p = w.policy()
        body = {"name": "replaced", "levels": p["levels"][:1]}
        def check(before: Any, after: Any) -> None:
            assert (before["name"], len(before["levels"])) == (p["name"], 2)
            assert (after["name"], len(after["levels"])) == ("replaced", 1)
        return Call("PUT", f"/api/v1/escalation-policies/{p['id']}", "escalation_policy", p["id"], check, body)

    def policy_delete() -> Call:
        p = w.policy()
        return Call("DELETE", f"/api/v1/escalation-policies/{p['id']}", "escalation_policy", p["id"],
                    _gone("name", p["name"]), status=204)

    def schedule_create() -> Call:
        return Call("POST", "/api/v1/schedules", "schedule", None, _made("name", "made"),
                    {"name": "made", "time_zone": "UTC", "layers": []}, status=201)

    def schedule_replace() -> Call:
        s = w.schedule()
        return Call("PUT", f"/api/v1/schedules/{s['id']}", "schedule", s["id"], _changed("time_zone", "UTC", "Europe/Paris"),
                    {"name": s["name"], "time_zone": "Europe/Paris", "layers": []})

    def schedule_delete() -> Call:
        s = w.schedule()
        return Call("DELETE", f"/api/v1/schedules/{s['id']}", "schedule", s["id"], _gone("name", s["name"]), status=204)

    def override_create() -> Call:
        s, u = w.schedule(), w.user()
        return Call("POST", f"/api/v1/schedules/{s['id']}/overrides", "override", None, _made("user_id", u["id"]),
                    {"user_id": u["id"], **_window()}, status=201)

    def override_delete() -> Call:
        s, u = w.schedule(), w.user()
        o = w.made(f"/api/v1/schedules/{s['id']}/overrides", {"user_id": u["id"], **_window()})
        return Call("DELETE", f"/api/v1/schedules/{s['id']}/overrides/{o['id']}", "override", o["id"],
                    _gone("user_id", u["id"]), status=204)

    def routing_rule(name: str = "quiet") -> tuple[dict[str, Any], dict[str, Any]]:
        s = w.service()
        return s, w.made("/api/v1/rules", {"kind": "service", "service_id": s["id"], "name": name})

    def routing_rule_create() -> Call:
        s = w.service()
        return Call("POST", "/api/v1/rules", "rule", None, _made("service_id", s["id"]),
                    {"kind": "service", "service_id": s["id"], "name": "quiet"}, status=201)

    def routing_rule_replace() -> Call:
        _, r = routing_rule()
        def check(before: Any, after: Any) -> None:
            assert (before["spec"]["name"], after["spec"]["name"]) == ("quiet", "loud")
        return Call("PUT", f"/api/v1/rules/{r['id']}", "rule", r["id"], check, {"name": "loud"})

    def routing_rule_delete() -> Call:
        _, r = routing_rule()
        return Call("DELETE", f"/api/v1/rules/{r['id']}", "rule", r["id"], _gone("id", r["id"]), status=204)

    def rules_order() -> Call:
        s, first = routing_rule("first")
        second = w.made("/api/v1/rules", {"kind": "service", "service_id": s["id"], "name": "second"})
        return Call("POST", "/api/v1/rules/order", "rule_order", s["id"],
                    _changed("ids", [first["id"], second["id"]], [second["id"], first["id"]]),
                    {"kind": "service", "service_id": s["id"], "ids": [second["id"], first["id"]]})

    def team_create() -> Call:
        return Call("POST", "/api/v1/teams", "team", None, _made("name", "audited team"), {"name": "audited team"},
                    status=201)

    def team_rename() -> Call:
        t = w.team()
        return Call("PATCH", f"/api/v1/teams/{t['id']}", "team", t["id"], _changed("name", t["name"], t["name"] + "!"),
                    {"name": t["name"] + "!"})

    def team_delete() -> Call:
        t = w.team()
        return Call("DELETE", f"/api/v1/teams/{t['id']}", "team", t["id"], _gone("name", t["name"]), status=204)

    def member_set() -> Call:
        t, u = w.team(), w.user()
        ok(w.api.put(f"/api/v1/teams/{t['id']}/members/{u['id']}", json={"role": "viewer"}), 200)
        return Call("PUT", f"/api/v1/teams/{t['id']}/members/{u['id']}", "team_member", u["id"],
                    _changed("role", "viewer", "admin"), {"role": "admin"})

    def member_remove() -> Call:
        t, u = w.team(), w.user()
        ok(w.api.put(f"/api/v1/teams/{t['id']}/members/{u['id']}", json={"role": "viewer"}), 200)
        return Call("DELETE", f"/api/v1/teams/{t['id']}/members/{u['id']}", "team_member", u["id"],
                    _gone("role", "viewer"), status=204)

    def token_create() -> Call:
        u = w.user()
        def check(before: Any, after: Any) -> None:
            assert before is None and after["name"] == "ci" and not {"token", "token_hash"} & set(after)
        return Call("POST", "/api/v1/tokens", "api_token", None, check, {"name": "ci"}, w.login(u).headers(), 201,
                    actor=u["id"])

    def token_revoke() -> Call:
        u = w.user()
        login = w.login(u)
        t = ok(w.anonymous.post("/api/v1/tokens", json={"name": "ci"}, headers=login.headers()))
        return Call("DELETE", f"/api/v1/tokens/{t['id']}", "api_token", t["id"], _stamped("revoked_at"),
                    headers=login.headers(), status=204, actor=u["id"])

    def config_apply() -> Call:
        def check(before: Any, after: Any) -> None:
            [change] = after["changes"]
            assert before is None and (change["action"], change["kind"], change["name"]) == \
                ("create", "team", "audited by config"), after
        return Call("POST", "/api/v1/config/apply", "configuration", "", check,
                    {"document": {"teams": [{"name": "audited by config"}]}})

    incident_path = "/api/v1/incidents/{incident_id}"
    user_path = "/api/v1/users/{user_id}"
    method_path = f"{user_path}/contact-methods/{{method_id}}"
    return {
        ("POST", "/api/v1/services"): service_create,
        ("POST", "/api/v1/config/apply"): config_apply,
        ("PATCH", "/api/v1/services/{service_id}"): service_update,
        ("DELETE", "/api/v1/services/{service_id}"): service_delete,
        ("POST", "/api/v1/services/{service_id}/integrations"): integration_create,
        ("DELETE", "/api/v1/services/{service_id}/integrations/{integration_id}"): integration_revoke,
        ("POST", "/api/v1/services/{service_id}/maintenance"): window_start,
        ("DELETE", "/api/v1/services/{service_id}/maintenance/{window_id}"): window_end,
        ("POST", "/api/v1/services/{service_id}/heartbeats"): heartbeat_create,
        ("PATCH", "/api/v1/heartbeats/{heartbeat_id}"): heartbeat("PATCH", {"name": "nightly"},
                                                                  _changed("name", "cron", "nightly")),
        ("DELETE", "/api/v1/heartbeats/{heartbeat_id}"): heartbeat("DELETE", None, _gone("name", "cron"), 204),
        ("POST", "/api/v1/integrations"): router_create,
        ("PATCH", "/api/v1/integrations/{integration_id}"): router_update,
        ("DELETE", "/api/v1/integrations/{integration_id}"): router_revoke,
        ("POST", f"{incident_path}/acknowledge"): incident("acknowledge", None, _status("triggered", "acknowledged")),
        ("POST", f"{incident_path}/resolve"): incident("resolve", None, _status("triggered", "resolved")),
        ("POST", f"{incident_path}/escalate"): incident("escalate", None, escalated),
        ("POST", f"{incident_path}/snooze"): incident("snooze", {"minutes": 30}, _status("triggered", "acknowledged")),
        ("POST", f"{incident_path}/reassign"): reassign,
        ("POST", f"{incident_path}/notes"): incident("notes", {"text": "looking"}, noted, 201),
        ("POST", "/api/v1/notifications/{notification_id}/retry"): retry,
        ("POST", "/api/v1/users"): user_create,
        ("PATCH", user_path): user_update,
        ("DELETE", user_path): user_delete,
        ("PUT", f"{user_path}/password"): password,
        ("PUT", f"{user_path}/slack"): slack_link,
        ("DELETE", f"{user_path}/slack"): slack_unlink,
        ("PUT", f"{user_path}/shift-notices"): shift_notices,
        ("POST", f"{user_path}/contact-methods"): method_create,
        ("PATCH", method_path): method_update,
        ("DELETE", method_path): method_delete,
        ("POST", f"{method_path}/verification"): code_sent,
        ("POST", f"{method_path}/verify"): verify,
        ("POST", f"{user_path}/notification-rules"): rule_create,
        ("DELETE", f"{user_path}/notification-rules/{{rule_id}}"): rule_delete,
        ("POST", "/api/v1/push/subscriptions"): subscribe,
        ("DELETE", "/api/v1/push/subscriptions"): unsubscribe,
        ("POST", "/api/v1/escalation-policies"): policy_create,
        ("PUT", "/api/v1/escalation-policies/{policy_id}"): policy_replace,
        ("DELETE", "/api/v1/escalation-policies/{policy_id}"): policy_delete,
        ("POST", "/api/v1/schedules"): schedule_create,
        ("PUT", "/api/v1/schedules/{schedule_id}"): schedule_replace,
        ("DELETE", "/api/v1/schedules/{schedule_id}"): schedule_delete,
        ("POST", "/api/v1/schedules/{schedule_id}/overrides"): override_create,
        ("DELETE", "/api/v1/schedules/{schedule_id}/overrides/{override_id}"): override_delete,
        ("POST", "/api/v1/rules"): routing_rule_create,
        ("PUT", "/api/v1/rules/{rule_id}"): routing_rule_replace,
        ("DELETE", "/api/v1/rules/{rule_id}"): routing_rule_delete,
        ("POST", "/api/v1/rules/order"): rules_order,
        ("POST", "/api/v1/teams"): team_create,
        ("PATCH", "/api/v1/teams/{team_id}"): team_rename,
        ("DELETE", "/api/v1/teams/{team_id}"): team_delete,
        ("PUT", "/api/v1/teams/{team_id}/members/{user_id}"): member_set,
        ("DELETE", "/api/v1/teams/{team_id}/members/{user_id}"): member_remove,
        ("POST", "/api/v1/tokens"): token_create,
        ("DELETE", "/api/v1/tokens/{token_id}"): token_revoke,
    }


CASE_KEYS = sorted(_cases(None))  # type: ignore[arg-type]  # the keys alone: no case is run here


# -- the guard -----------------------------------------------------------------------------------------

def test_every_mutating_route_is_audited_or_excused_with_a_reason() -> None:
    served = mutating_routes()
    declared = set(AUDITED) | set(NOT_AUDITED)
    assert served - declared == set(), "mutating routes neither audited nor excused in serve/audit_routes.py"
    assert declared - served == set(), "declared routes the app does not serve"
    assert not set(AUDITED) & set(NOT_AUDITED)
    assert all(reason.strip() for reason in NOT_AUDITED.values())


def test_the_matrix_performs_every_audited_route() -> None:
    assert set(CASE_KEYS) | set(ELSEWHERE) == set(AUDITED)
    assert not set(CASE_KEYS) & set(ELSEWHERE)


# -- the matrix ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(api: httpx.Client, anonymous: httpx.Client, tocsin: Any, admin_token: str,
          db: Callable[..., Any]) -> Any:
    with FakePushService() as push:
        yield World(api, anonymous, tocsin, admin_token, db, push)


def newest_id(db: Callable[..., Any]) -> int:
    return int(db("fetchval", "SELECT coalesce(max(id), 0) FROM audit_log"))


def entries_after(api: httpx.Client, mark: int) -> list[dict[str, Any]]:
    listed = api.get("/api/v1/audit", params={"limit": 500})
    assert listed.status_code == 200, listed.text
    return [e for e in listed.json()["entries"] if e["id"] > mark]


@pytest.mark.parametrize("key", CASE_KEYS, ids=lambda key: f"{key[0]} {key[1]}")
def test_each_mutating_route_writes_exactly_one_entry_with_its_object_before_and_after(
    world: World, api: httpx.Client, anonymous: httpx.Client, db: Callable[..., Any], key: tuple[str, str]
) -> None:
    call = _cases(world)[key]()
    mark = newest_id(db)
    headers = call.headers or {"Authorization": f"Bearer {world.admin_token}"}
    response = anonymous.request(call.method, call.path, headers=headers,
                                 **({"json": call.body} if call.body is not None else {}))
    assert response.status_code == call.status, response.text

    [entry] = entries_after(api, mark)
    made_id = response.json()["id"] if call.object_id is None else call.object_id or None
    assert (entry["object_type"], entry["object_id"]) == (call.object_type, made_id)
    assert entry["action"] == AUDITED[key].action
    assert entry["actor"] == (call.actor or "admin")
    assert entry["via"] == ("session" if call.actor else "admin-token")
    assert entry["client_address"] == "127.0.0.1"
    call.check(entry["before"], entry["after"])


def test_a_failed_change_writes_no_entry(api: httpx.Client, db: Callable[..., Any]) -> None:
    mark = newest_id(db)
    assert api.patch(f"/api/v1/services/{uuid.uuid4()}", json={"name": "x"}).status_code == 404
    assert api.post("/api/v1/services", json={}).status_code == 422
    assert entries_after(api, mark) == []


# -- a change and its entry commit together ------------------------------------------------------------

UNRECORDED = "unrecorded "  # the entries of objects so named are refused while `entries_refused` holds


@contextmanager
def entries_refused(db: Callable[..., Any]) -> Iterator[None]:
    """The database refusing to append an entry about an object whose name starts with
    UNRECORDED, as it would fail between a change and its entry."""
    db("execute", """
        CREATE FUNCTION audit_log_refused_for_a_test() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log refuses this entry';
        END;
        $$""")
    db("execute", "CREATE TRIGGER audit_log_refused_for_a_test BEFORE INSERT ON audit_log FOR EACH ROW"
                  f" WHEN (NEW.object_name LIKE '{UNRECORDED}%') EXECUTE FUNCTION audit_log_refused_for_a_test()")
    try:
        yield
    finally:
        db("execute", "DROP TRIGGER audit_log_refused_for_a_test ON audit_log")
        db("execute", "DROP FUNCTION audit_log_refused_for_a_test()")


def _not_made(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert "nothing was changed" in response.json()["message"]
    assert response.headers["retry-after"]


def test_a_change_whose_entry_cannot_be_written_is_not_made(api: httpx.Client, db: Callable[..., Any]) -> None:
    name = UNRECORDED + uuid.uuid4().hex[:8]
    service = ok(api.post("/api/v1/services", json={"name": f"recorded {uuid.uuid4().hex[:8]}"}))
    mark = newest_id(db)

    with entries_refused(db):
        _not_made(api.post("/api/v1/services", json={"name": name}))
        _not_made(api.patch(f"/api/v1/services/{service['id']}", json={"name": name}))

    assert db("fetchval", "SELECT count(*) FROM services WHERE name = $1", name) == 0
    assert ok(api.get(f"/api/v1/services/{service['id']}"), 200)["name"] == service["name"]
    assert entries_after(api, mark) == []


def test_a_revoked_key_whose_entry_cannot_be_written_still_opens_incidents(
    api: httpx.Client, tocsin: Any, admin_token: str, db: Callable[..., Any]
) -> None:
    service = create_service(tocsin.base_url, admin_token, UNRECORDED + uuid.uuid4().hex[:8])
    mark = newest_id(db)

    with entries_refused(db):
        _not_made(api.delete(f"/api/v1/services/{service.id}"))

    assert ok(api.get(f"/api/v1/services/{service.id}"), 200)["name"].startswith(UNRECORDED)
    ok(httpx.post(f"{tocsin.base_url}/v2/enqueue", json=trigger(service.key, uuid.uuid4().hex)), 202)
    assert entries_after(api, mark) == []
    ok(api.delete(f"/api/v1/services/{service.id}"), 204)  # once entries are written again, it goes
    refused = httpx.post(f"{tocsin.base_url}/v2/enqueue", json=trigger(service.key, uuid.uuid4().hex))
    assert refused.status_code == 400, refused.text


# -- reading it ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def history(api: httpx.Client, tocsin: Any, admin_token: str) -> dict[str, Any]:
    """Team A with one of everything (made by the admin token), a change to its service by its
    own admin through a personal token, and a change to a service of no team."""
    team = make_team(api, tocsin.base_url, "Audited " + uuid.uuid4().hex[:6])
    furnish(api, tocsin.base_url, admin_token, team)
    admin = team.members["admin"]
    ok(httpx.patch(f"{tocsin.base_url}/api/v1/services/{team.owned['service_id']}", json={"description": "theirs"},
                   headers=admin.bearer, timeout=30), 200)
    elsewhere = ok(api.post("/api/v1/services", json={"name": "of no team " + uuid.uuid4().hex[:6]}))
    return {"team": team, "elsewhere": elsewhere}


def test_entries_are_filtered_by_actor_object_team_and_time(api: httpx.Client, history: dict[str, Any]) -> None:
    team, admin = history["team"], history["team"].members["admin"]
    service_id = team.owned["service_id"]

    by_object = api.get("/api/v1/audit", params={"object_type": "service", "object_id": service_id}).json()["entries"]
    assert [e["action"] for e in by_object] == ["update", "update", "create"]  # newest first
    assert by_object[0]["after"]["description"] == "theirs" and by_object[0]["actor"] == admin.user["id"]
    assert by_object[0]["via"].startswith("token:")

    by_actor = api.get("/api/v1/audit", params={"actor": admin.user["id"]}).json()["entries"]
    assert {e["actor"] for e in by_actor} == {admin.user["id"]}
    assert (by_actor[0]["object_type"], by_actor[0]["object_id"]) == ("service", service_id)
    assert by_actor[1]["object_type"] == "api_token"  # the token the change was made with, made by a session

    by_team = api.get("/api/v1/audit", params={"team": team.id, "limit": 500}).json()["entries"]
    assert {e["team_id"] for e in by_team} == {team.id}
    assert {e["object_type"] for e in by_team} >= {"team", "team_member", "service", "schedule", "override",
                                                   "escalation_policy", "heartbeat", "maintenance_window", "rule",
                                                   "integration"}

    later = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    assert api.get("/api/v1/audit", params={"since": later}).json()["entries"] == []
    assert api.get("/api/v1/audit", params={"until": later, "limit": 1}).json()["entries"]


def test_pages_follow_the_cursor_without_gaps(api: httpx.Client, history: dict[str, Any]) -> None:
    whole = [e["id"] for e in api.get("/api/v1/audit", params={"team": history["team"].id, "limit": 500})
             .json()["entries"]]
    paged, cursor = [], None
    while True:
        page = api.get("/api/v1/audit", params={"team": history["team"].id, "limit": 3,
                                                **({"cursor": cursor} if cursor else {})}).json()
        paged += [e["id"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == whole and len(whole) > 3


@pytest.mark.parametrize("how", ["accept", "format"])
def test_the_log_exports_as_json_lines(api: httpx.Client, history: dict[str, Any], how: str) -> None:
    params = {"team": history["team"].id}
    asked = api.get("/api/v1/audit", params={**params, "format": "jsonl"}) if how == "format" else \
        api.get("/api/v1/audit", params=params, headers={"Accept": "application/x-ndjson"})

    assert asked.status_code == 200 and asked.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in asked.text.splitlines()]
    paged = api.get("/api/v1/audit", params={**params, "limit": 500}).json()["entries"]
    assert [line["id"] for line in lines] == [e["id"] for e in paged]
    assert lines[0].keys() == paged[0].keys()


def test_team_admins_read_their_teams_entries_only_and_others_are_refused(
    anonymous: httpx.Client, api: httpx.Client, history: dict[str, Any]
) -> None:
    team = history["team"]
    seen = anonymous.get("/api/v1/audit", params={"limit": 500}, headers=team.members["admin"].bearer)
    assert seen.status_code == 200, seen.text
    assert seen.json()["entries"] and {e["team_id"] for e in seen.json()["entries"]} == {team.id}
    other_service = history["elsewhere"]["id"]
    assert anonymous.get("/api/v1/audit", params={"object_id": other_service},
                         headers=team.members["admin"].bearer).json()["entries"] == []
    for role in ("viewer", "responder"):
        refused = anonymous.get("/api/v1/audit", headers=team.members[role].bearer)
        assert refused.status_code == 403 and "admin" in refused.json()["message"]
    global_responder = logged_in(str(api.base_url), make_user(api, "responder"))
    assert anonymous.get("/api/v1/audit", headers=global_responder.headers(csrf=False)).status_code == 403


@pytest.mark.parametrize("params, named", [
    ({"since": "yesterday"}, "since"), ({"until": "2026-01-01T00:00:00"}, "until"), ({"team": "mine"}, "team"),
    ({"cursor": "-1"}, "cursor"), ({"limit": "0"}, "limit"), ({"format": "xml"}, "format"),
])
def test_bad_filters_are_refused_naming_the_parameter(api: httpx.Client, params: dict[str, str], named: str) -> None:
    refused = api.get("/api/v1/audit", params=params)
    assert refused.status_code in (400, 422) and named in refused.text
