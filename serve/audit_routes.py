"""Which API routes change what, for the audit log: one declaration per mutating route.

Every POST, PUT, PATCH and DELETE under /api/v1 is either in AUDITED, naming the object it
changes, where the object's keys come from and the action, or in NOT_AUDITED with the reason;
tests/e2e/test_audit.py fails on a route in neither. serve/auditing.py reads the object
before the route runs and after it succeeds, through the view named (actors/store/audit_views.py),
in the route's own transaction unless the change goes through a shard (`through_shard`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# Where an object's keys are found: path parameters, fields of the JSON body, or "id" in the
# answer (an object made by the request, which has no "before").
Source = Literal["path", "body", "made"]


@dataclass(frozen=True, slots=True)
class Audited:
    object_type: str
    action: str
    keys: tuple[str, ...] = ()  # names in `source`, in the order the view takes them
    source: Source = "path"
    view: str | None = None  # defaults to object_type
    after_from_answer: bool = False  # what the route answers is the "after" (a note: nothing to read back)
    # The change is a command a shard commits (an incident's): the entry follows its success,
    # where every other route's change commits together with its entry.
    through_shard: bool = False

    @property
    def reads(self) -> str:
        return self.view or self.object_type

    def keys_of(self, path: Mapping[str, str], body: Any, answer: Any) -> tuple[str, ...] | None:
        """The object's keys for this request, None when they are not there (a body or
        answer of another shape)."""
        found = {"path": path, "body": body, "made": answer}[self.source]
        if not isinstance(found, Mapping):
            return None
        values = tuple(_first(found, key) for key in self.keys)
        # "a|b": the first of a and b present, or none (the inhibit rules belong to no service).
        needed = [value for key, value in zip(self.keys, values) if "|" not in key]
        return values if all(needed) else None


def _first(found: Mapping[str, Any], key: str) -> str:
    for name in key.split("|"):
        if found.get(name) is not None:
            return str(found[name])
    return ""


def _made(object_type: str, view: str | None = None) -> Audited:
    return Audited(object_type, "create", ("id",), "made", view)


def _at(object_type: str, action: str, *keys: str, view: str | None = None) -> Audited:
    return Audited(object_type, action, keys, "path", view)


def _command(action: str) -> Audited:
    return Audited("incident", action, ("incident_id",), "path", through_shard=True)


_INCIDENT = "/api/v1/incidents/{incident_id}"
_USER = "/api/v1/users/{user_id}"
_METHOD = f"{_USER}/contact-methods/{{method_id}}"

AUDITED: dict[tuple[str, str], Audited] = {
    ("POST", "/api/v1/services"): _made("service"),
    ("PATCH", "/api/v1/services/{service_id}"): _at("service", "update", "service_id"),
    ("DELETE", "/api/v1/services/{service_id}"): _at("service", "delete", "service_id"),
    ("POST", "/api/v1/services/{service_id}/integrations"): _made("integration"),
    ("DELETE", "/api/v1/services/{service_id}/integrations/{integration_id}"):
        _at("integration", "revoke", "integration_id"),
    ("POST", "/api/v1/services/{service_id}/maintenance"): _made("maintenance_window"),
    ("DELETE", "/api/v1/services/{service_id}/maintenance/{window_id}"):
        _at("maintenance_window", "end", "window_id"),
    ("POST", "/api/v1/services/{service_id}/heartbeats"): _made("heartbeat"),
    ("PATCH", "/api/v1/heartbeats/{heartbeat_id}"): _at("heartbeat", "update", "heartbeat_id"),
    ("DELETE", "/api/v1/heartbeats/{heartbeat_id}"): _at("heartbeat", "delete", "heartbeat_id"),
    ("POST", "/api/v1/integrations"): _made("integration"),
    ("PATCH", "/api/v1/integrations/{integration_id}"): _at("integration", "update", "integration_id"),
    ("DELETE", "/api/v1/integrations/{integration_id}"): _at("integration", "revoke", "integration_id"),
    ("POST", f"{_INCIDENT}/acknowledge"): _command("acknowledge"),
    ("POST", f"{_INCIDENT}/resolve"): _command("resolve"),
    ("POST", f"{_INCIDENT}/escalate"): _command("escalate"),
    ("POST", f"{_INCIDENT}/snooze"): _command("snooze"),
    ("POST", f"{_INCIDENT}/reassign"): _command("reassign"),
    ("POST", f"{_INCIDENT}/notes"): Audited("incident", "note", ("incident_id",), "path", after_from_answer=True,
                                            through_shard=True),
    ("POST", "/api/v1/notifications/{notification_id}/retry"): _at("notification", "retry", "notification_id"),
    ("POST", "/api/v1/users"): _made("user"),
    ("PATCH", _USER): _at("user", "update", "user_id"),
    ("DELETE", _USER): _at("user", "delete", "user_id"),
    ("PUT", f"{_USER}/password"): _at("user", "set_password", "user_id", view="password"),
    ("PUT", f"{_USER}/slack"): _at("user", "link_slack", "user_id"),
    ("DELETE", f"{_USER}/slack"): _at("user", "unlink_slack", "user_id"),
    ("PUT", f"{_USER}/shift-notices"): _at("user", "set_shift_notices", "user_id"),
    ("POST", f"{_USER}/contact-methods"): _made("contact_method"),
    ("PATCH", _METHOD): _at("contact_method", "update", "method_id"),
    ("DELETE", _METHOD): _at("contact_method", "delete", "method_id"),
    ("POST", f"{_METHOD}/verification"): _at("contact_method", "send_verification_code", "method_id"),
    ("POST", f"{_METHOD}/verify"): _at("contact_method", "verify", "method_id"),
    ("POST", f"{_USER}/notification-rules"): _made("notification_rule"),
    ("DELETE", f"{_USER}/notification-rules/{{rule_id}}"): _at("notification_rule", "delete", "rule_id"),
    ("POST", "/api/v1/push/subscriptions"): _made("contact_method"),
    ("DELETE", "/api/v1/push/subscriptions"):
        Audited("contact_method", "delete", ("endpoint",), "body", "push_subscription"),
    ("POST", "/api/v1/escalation-policies"): _made("escalation_policy"),
    ("PUT", "/api/v1/escalation-policies/{policy_id}"): _at("escalation_policy", "update", "policy_id"),
    ("DELETE", "/api/v1/escalation-policies/{policy_id}"): _at("escalation_policy", "delete", "policy_id"),
    ("POST", "/api/v1/schedules"): _made("schedule"),
    ("PUT", "/api/v1/schedules/{schedule_id}"): _at("schedule", "update", "schedule_id"),
    ("DELETE", "/api/v1/schedules/{schedule_id}"): _at("schedule", "delete", "schedule_id"),
    ("POST", "/api/v1/schedules/{schedule_id}/overrides"): _made("override"),
    ("DELETE", "/api/v1/schedules/{schedule_id}/overrides/{override_id}"): _at("override", "delete", "override_id"),
    ("POST", "/api/v1/rules"): _made("rule"),
    ("PUT", "/api/v1/rules/{rule_id}"): _at("rule", "update", "rule_id"),
    ("DELETE", "/api/v1/rules/{rule_id}"): _at("rule", "delete", "rule_id"),
    ("POST", "/api/v1/rules/order"): Audited("rule_order", "reorder", ("kind", "service_id|integration_id"),
                                                   "body"),
    ("POST", "/api/v1/teams"): _made("team"),
    ("PATCH", "/api/v1/teams/{team_id}"): _at("team", "rename", "team_id"),
    ("DELETE", "/api/v1/teams/{team_id}"): _at("team", "delete", "team_id"),
    ("PUT", "/api/v1/teams/{team_id}/members/{user_id}"): _at("team_member", "set", "team_id", "user_id"),
    ("DELETE", "/api/v1/teams/{team_id}/members/{user_id}"): _at("team_member", "remove", "team_id", "user_id"),
    ("POST", "/api/v1/tokens"): _made("api_token"),
    ("DELETE", "/api/v1/tokens/{token_id}"): _at("api_token", "revoke", "token_id"),
    ("POST", "/api/v1/setup"): _made("user"),
    # The whole document in one transaction: its entry's "after" is the plan carried out, every
    # object created, changed or deleted with each field's old and new value.
    ("POST", "/api/v1/config/apply"): Audited("configuration", "apply", (), "path", after_from_answer=True),
}

# Mutating routes under /api/v1 that write no entry of their own, and why.
NOT_AUDITED: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/session"): "logging in changes no configuration; sessions and failed logins have their own"
                                 " records",
    ("DELETE", "/api/v1/session"): "logging out ends the caller's own session and changes no configuration",
    ("POST", "/api/v1/rules/test"): "a read that takes a body: what the rules would do with a sample; nothing is"
                                    " stored",
    ("POST", "/api/v1/config/plan"): "a read that takes a body: what applying the document would change; nothing"
                                      " is stored",
    ("POST", "/api/v1/heartbeats/{key}/ping"): "a monitored job's ping, as alert ingestion: no one's change",
    ("POST", "/api/v1/checks/{token}"): "a reachability check's receipt: the check records its answer itself, and"
                                        " it changes no configuration or incident",
    ("POST", "/api/v1/push/actions/{token}"): "an incident action from a push notification: audited by the route"
                                              " itself, with the person paged as the actor",
    ("POST", "/api/v1/demo-phone/texts/{item_id}/reply"): "tocsin demo's phone answering a text: it reaches Tocsin"
                                                          " through the Twilio webhook, audited there as the person",
    ("POST", "/api/v1/demo-phone/calls/{item_id}/keys"): "tocsin demo's phone pressing a key on a call: likewise,"
                                                         " through the Twilio webhook",
}


@dataclass(frozen=True, slots=True)
class Match:
    audited: Audited
    path_params: dict[str, str]


class AuditedRoutes:
    """AUDITED, matched against a request's method and path."""

    def __init__(self, audited: Mapping[tuple[str, str], Audited]) -> None:
        self._patterns = [(method, _pattern(path), entry) for (method, path), entry in audited.items()]

    def match(self, method: str, path: str) -> Match | None:
        for wanted, pattern, entry in self._patterns:
            if wanted == method:
                found = pattern.fullmatch(path)
                if found:
                    return Match(entry, found.groupdict())
        return None


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    # Literal parts at even places, parameter names at odd ones.
    return re.compile("".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)))
