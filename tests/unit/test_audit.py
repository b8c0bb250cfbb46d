"""The audit log's pure parts: what of an object an entry keeps (no secret whole), who reads
which entries, who an entry names, and which route changes what."""

from __future__ import annotations

from typing import Any

import pytest

from tocsin.actors.domain.accounts.access import Caller, Role
from tocsin.actors.domain.audit import Actor, name_of, readable_teams, redacted
from tocsin.serve.audit_routes import AUDITED, AuditedRoutes

KEY = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"


@pytest.mark.parametrize("stored, kept", [
    ({"kind": "webhook", "address": "https://hooks.example.com/x?token=s3cret"},
     {"kind": "webhook", "address": "https://hooks.example.com/…"}),
    ({"kind": "sms", "address": "+14155550123"}, {"kind": "sms", "address": "+14155550123"}),
    ({"kind": "webpush", "address": "https://push.example.net/send/abc", "push_auth": "x", "push_p256dh": "y"},
     {"kind": "webpush", "address": "https://push.example.net/…"}),
    ({"name": "cron", "key": KEY}, {"name": "cron", "key": "…c5d6"}),
    ({"id": "u1", "password_hash": "$argon2id$…", "calendar_token": "feed", "email": "a@example.com"},
     {"id": "u1", "email": "a@example.com"}),
    ({"id": "c1", "verification_code_hash": "9f86d0", "verified": False}, {"id": "c1", "verified": False}),
    ({"name": "ci", "token_hash": "e3b0c4", "prefix": "tcs_ab"}, {"name": "ci", "prefix": "tcs_ab"}),
    ({"levels": [{"targets": [{"type": "user", "id": "u1"}]}]}, {"levels": [{"targets": [{"type": "user", "id": "u1"}]}]}),
    (None, None),
])
def test_secrets_are_masked_or_dropped_at_any_depth(stored: Any, kept: Any) -> None:
    assert redacted(stored) == kept
    assert redacted({"nested": [stored]}) == {"nested": [kept]}


def test_an_entry_names_its_object_by_name_or_email_but_never_by_a_secret() -> None:
    assert name_of({"name": "payments", "email": "x@example.com"}) == "payments"
    assert name_of({"email": "x@example.com"}) == "x@example.com"
    assert name_of(redacted({"kind": "slack", "address": "https://hooks.slack.com/services/T0/B0/s3cret"})) \
        == "https://hooks.slack.com/…"
    assert name_of(None) is None


def _caller(role: Role, teams: dict[str, Role] | None = None, via: str = "session",
            token_id: str | None = None) -> Caller:
    return Caller(user_id="u1", name="Dana", role=role, via=via, teams=teams or {}, token_id=token_id)


def test_global_admins_read_everything_team_admins_their_teams_and_others_nothing() -> None:
    assert readable_teams(_caller(Role.ADMIN)) is None
    assert readable_teams(_caller(Role.VIEWER, {"t1": Role.ADMIN, "t2": Role.RESPONDER})) == frozenset({"t1"})
    assert readable_teams(_caller(Role.RESPONDER, {"t2": Role.RESPONDER})) == frozenset()


def test_a_personal_token_is_named_by_its_id_and_a_session_as_such() -> None:
    assert Actor.of(_caller(Role.ADMIN, via="token", token_id="tk1")) == Actor("u1", "Dana", "token:tk1")
    assert Actor.of(_caller(Role.ADMIN)) == Actor("u1", "Dana", "session")
    admin_token = Caller(user_id=None, name="admin", role=Role.ADMIN, via="admin-token")
    assert Actor.of(admin_token) == Actor("admin", "admin", "admin-token")


def test_a_request_finds_its_route_and_the_objects_keys() -> None:
    routes = AuditedRoutes(AUDITED)

    match = routes.match("PUT", "/api/v1/teams/t1/members/u2")
    assert match is not None and match.audited.object_type == "team_member"
    assert match.audited.keys_of(match.path_params, None, None) == ("t1", "u2")
    assert routes.match("GET", "/api/v1/teams/t1") is None
    assert routes.match("PATCH", "/api/v1/teams/t1/extra") is None

    made = routes.match("POST", "/api/v1/services")
    assert made is not None and made.audited.keys_of(made.path_params, None, {"id": "s9"}) == ("s9",)
    assert made.audited.keys_of(made.path_params, None, "not an object") is None


@pytest.mark.parametrize("body, keys", [
    ({"kind": "service", "service_id": "s1", "ids": []}, ("service", "s1")),
    ({"kind": "router", "integration_id": "r1", "ids": []}, ("router", "r1")),
    ({"kind": "inhibit", "ids": []}, ("inhibit", "")),
    ({"ids": []}, None),
])
def test_a_rule_sets_order_is_found_by_its_kind_and_owner_from_the_body(body: dict[str, Any],
                                                                          keys: tuple[str, ...] | None) -> None:
    match = AuditedRoutes(AUDITED).match("POST", "/api/v1/rules/order")
    assert match is not None
    assert match.audited.keys_of(match.path_params, body, None) == keys
