"""Who may call what: every route of the app, checked over HTTP.

The routes come from the app itself, so a route added later is checked by the same rule:
public only when listed below with the reason; otherwise 401 without credentials, 403 with
the role just below the one it needs, and not refused (401/403) with that role. Made-up ids
make the allowed calls end in 404 or 422, which is fine: only refusals are looked for.

What each route needs: reads (GET) any role, changes admin, except the routes named in
RESPONDER, OWN_RESPONDER, OWN_ANY_ROLE, SESSION, ADMIN_READS, ANY_TEAM_ADMIN_READS and READS_BY_POST.

Teams: the same routes again for users whose global role is viewer and who hold a role in a
team. A route of an object a team owns (named by one of OWNED_PARAMS, or made in a team by
TEAM_CREATES) needs that role in the object's team; a member of the owning team with it is
not refused, and a member of another team is refused whatever their role there. Every other
route is refused to them as to a global viewer.
"""

from __future__ import annotations

import re
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.e2e.accounts import Login, logged_in, make_user, personal_token
from tests.e2e.conftest import refused
from tests.e2e.teams import TEAM_ROLES, Team, furnish, make_team

# -- the rule, written down ------------------------------------------------------------------------

# Public on purpose: (method or None for any, path pattern, why).
PUBLIC = [
    (None, r"/healthz", "readiness probe"),
    (None, r"/openapi\.json|/docs|/docs/oauth2-redirect|/redoc", "the API's documentation"),
    (None, r"/metrics", "Prometheus scrapes it on the private network"),
    (None, r"/v2/enqueue|/v2/change/enqueue", "PagerDuty Events API: the routing key in the body is the credential"),
    (None, r"/v2/alerts.*", "Opsgenie Alert API: the GenieKey header is the credential"),
    (None, r"/integrations/slack/(interactions|commands)", "Slack's button presses and slash commands, checked by"
                                                          " their signature"),
    (None, r"/integrations/.*", "monitoring webhooks: the key in the path, or a bearer key, is the credential"),
    (None, r"/api/v1/heartbeats/\{key\}/ping", "heartbeat pings: the key in the URL is the credential"),
    (None, r"/webhooks/twilio/.*", "Twilio's callbacks, checked by their signature"),
    (None, r"/api/v1/(schedules|users)/\{\w+\}/oncall\.ics", "calendar feeds: the token in the URL is the credential"),
    (None, r"/api/v1/checks/\{token\}", "a reachability check's link: its single-use token is the credential"),
    ("POST", r"/api/v1/session", "logging in"),
    ("POST", r"/api/v1/setup", "creating the first admin: the one-time setup link's token in the body is the"
                               " credential, and only while nobody can log in"),
    ("GET", r"/api/v1/sso", "how one logs in here, which the login page asks before anyone is logged in"),
    ("GET", r"/api/v1/sso/login", "single sign-on's start: it sends the browser to the identity provider"),
    ("GET", r"/api/v1/sso/callback", "single sign-on's way back: the sign-in's single-use state, bound to the browser"
                                     " that started it, is the credential"),
    ("POST", r"/api/v1/push/actions/\{token\}", "a push notification's buttons: the single-use token is the credential"),
    (None, r"/", "the dashboard's entry, a redirect to its login page or its incidents"),
    (None, r"/ui(/.*)?", "the dashboard's pages: their data comes from the API, with the session"),
    (None, r"/static/.*", "the dashboard's scripts and styles"),
    (None, r"/sw\.js", "the dashboard's service worker, a script like those under /static"),
]

RESPONDER = {  # responders act on incidents, and on overrides that put themselves on call
    ("POST", "/api/v1/incidents/{incident_id}/acknowledge"),
    ("POST", "/api/v1/incidents/{incident_id}/resolve"),
    ("POST", "/api/v1/incidents/{incident_id}/escalate"),
    ("POST", "/api/v1/incidents/{incident_id}/snooze"),
    ("POST", "/api/v1/incidents/{incident_id}/reassign"),
    ("POST", "/api/v1/incidents/{incident_id}/notes"),
    ("POST", "/api/v1/schedules/{schedule_id}/overrides"),
    ("DELETE", "/api/v1/schedules/{schedule_id}/overrides/{override_id}"),
    ("POST", "/api/v1/push/subscriptions"),  # the caller's own browser, as their contact method
    ("DELETE", "/api/v1/push/subscriptions"),
}
OWN_RESPONDER = {  # a responder's own contact methods and notification rules ({user_id} is theirs)
    ("PUT", "/api/v1/users/{user_id}/slack"),
    ("DELETE", "/api/v1/users/{user_id}/slack"),
    ("POST", "/api/v1/users/{user_id}/contact-methods"),
    ("PATCH", "/api/v1/users/{user_id}/contact-methods/{method_id}"),
    ("DELETE", "/api/v1/users/{user_id}/contact-methods/{method_id}"),
    ("POST", "/api/v1/users/{user_id}/contact-methods/{method_id}/verification"),
    ("POST", "/api/v1/users/{user_id}/contact-methods/{method_id}/verify"),
    ("POST", "/api/v1/users/{user_id}/notification-rules"),
    ("DELETE", "/api/v1/users/{user_id}/notification-rules/{rule_id}"),
    ("PUT", "/api/v1/users/{user_id}/shift-notices"),
}
OWN_ANY_ROLE = {  # every user's own password and personal tokens
    ("PUT", "/api/v1/users/{user_id}/password"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{token_id}"),
}
SESSION = {("GET", "/api/v1/session"), ("DELETE", "/api/v1/session")}  # the cookie, not a token
ADMIN_READS = {  # reads that show credentials: routing keys, heartbeat ping URLs
    ("GET", "/api/v1/config/export"),
    ("GET", "/api/v1/services/{service_id}/integrations"),
    ("GET", "/api/v1/services/{service_id}/heartbeats"),
    ("GET", "/api/v1/heartbeats/{heartbeat_id}"),
    ("GET", "/api/v1/demo-phone"),  # the demo people's inboxes, which only the demo admin answers from
}
ANY_TEAM_ADMIN_READS = {  # reads for admins, global or of any team (who read their teams' part)
    ("GET", "/api/v1/audit"),
}
READS_BY_POST = {  # reads that take a body: any role
    ("POST", "/api/v1/rules/test"),  # what the rules would do with a sample; nothing is stored
}
ROLES = ("viewer", "responder", "admin")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    integer_params: frozenset[str]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def needs(self) -> str:
        if self.key in RESPONDER or self.key in OWN_RESPONDER:
            return "responder"
        if self.key in ADMIN_READS or self.key in ANY_TEAM_ADMIN_READS:
            return "admin"
        if self.method == "GET" or self.key in OWN_ANY_ROLE or self.key in SESSION or self.key in READS_BY_POST:
            return "viewer"
        return "admin"

    @property
    def own(self) -> bool:
        return self.key in OWN_RESPONDER or self.key in OWN_ANY_ROLE


def app_routes() -> Iterator[Route]:
    """Every (method, path) the app serves, from the app object itself."""
    from fastapi.routing import iter_route_contexts

    from tocsin.serve.app import api

    for context in iter_route_contexts(api.routes):
        route = context.original_route
        integers = frozenset(name for name, kind in _hints(getattr(route, "endpoint", None)).items() if kind is int)
        for method in sorted(context.methods or {"GET"}):
            if method != "HEAD":  # answered like GET
                yield Route(method, context.path, integers)


def _hints(endpoint: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(endpoint) if endpoint else {}
    except Exception:  # noqa: BLE001 - unresolvable hints: treat every id as a UUID
        return {}


def public_reason(route: Route) -> str | None:
    for method, pattern, reason in PUBLIC:
        if (method is None or method == route.method) and re.fullmatch(pattern, route.path):
            return reason
    return None


ALL = sorted(set(app_routes()), key=str)
PROTECTED = [route for route in ALL if public_reason(route) is None]
ABOVE_VIEWER = [route for route in PROTECTED if route.needs != "viewer"]


def test_the_rule_names_only_routes_that_exist():
    served = {route.key for route in ALL}
    named = RESPONDER | OWN_RESPONDER | OWN_ANY_ROLE | SESSION | ADMIN_READS | ANY_TEAM_ADMIN_READS | READS_BY_POST
    assert named <= served, f"not served: {sorted(named - served)}"
    for method, pattern, reason in PUBLIC:
        assert any(public_reason(r) == reason for r in ALL), f"no route is public as {pattern!r}"
    assert len(PROTECTED) > 60


# -- who is calling --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    user: dict[str, Any]
    login: Login
    token: str


@pytest.fixture(scope="module")
def people(api: httpx.Client, tocsin: Any) -> dict[str, Person]:
    """A viewer, a responder and an admin, each logged in and with a personal token."""
    out = {}
    for role in ROLES:
        user = make_user(api, role)
        login = logged_in(tocsin.base_url, user)
        out[role] = Person(user, login, personal_token(tocsin.base_url, login))
    return out


def concrete(route: Route, own_user_id: str | None) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name == "user_id" and own_user_id:
            return own_user_id
        if name in route.integer_params:
            return "999999999"
        return "k" * 32 if name == "key" else str(uuid.uuid4())

    return re.sub(r"\{([^}]+)\}", value, route.path)


def call(client: httpx.Client, route: Route, headers: dict[str, str], own_user_id: str | None = None) -> httpx.Response:
    """The route with made-up ids and an empty JSON body; a stream (SSE) is not waited for."""
    body = {"json": {}} if route.method in ("POST", "PUT", "PATCH") else {}
    with client.stream(route.method, concrete(route, own_user_id), headers=headers, **body) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
    return response


def as_person(tocsin: Any, route: Route, person: Person) -> tuple[dict[str, str], str | None]:
    """Headers for `person` on `route` (the session cookie where only a session will do; a
    new session, so that logging out ends only that one) and the {user_id} to use."""
    if route.key in SESSION:
        return logged_in(tocsin.base_url, person.user).headers(), None
    return {"Authorization": f"Bearer {person.token}"}, person.user["id"] if route.own else None


# -- the matrix ------------------------------------------------------------------------------------

@pytest.mark.parametrize("route", PROTECTED, ids=str)
def test_without_credentials_is_401(anonymous, route):
    response = call(anonymous, route, {})
    assert response.status_code == 401, f"{route}: {response.status_code} {response.text[:300]}"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("route", ABOVE_VIEWER, ids=str)
def test_the_role_just_below_is_403(anonymous, tocsin, people, route):
    below = ROLES[ROLES.index(route.needs) - 1]
    headers, own = as_person(tocsin, route, people[below])
    response = call(anonymous, route, headers, own)
    assert response.status_code == 403, f"{route} as {below}: {response.status_code} {response.text[:300]}"
    assert route.needs in response.json()["message"]


@pytest.mark.parametrize("route", PROTECTED, ids=str)
def test_the_role_needed_is_not_refused(anonymous, tocsin, people, route):
    headers, own = as_person(tocsin, route, people[route.needs])
    response = call(anonymous, route, headers, own)
    assert response.status_code not in (401, 403), \
        f"{route} as {route.needs}: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, f"{route}: {response.status_code} {response.text[:300]}"


# -- what is one's own ----------------------------------------------------------------------------

def test_responders_change_only_their_own_contact_methods(api, anonymous, people):
    me, other = people["responder"], make_user(api, "responder", password=None)
    mine = {"Authorization": f"Bearer {me.token}"}
    sms = {"kind": "sms", "address": "+14155550123"}
    refused(anonymous.post(f"/api/v1/users/{other['id']}/contact-methods", json=sms, headers=mine), 403,
            other["id"], "their own")
    created = anonymous.post(f"/api/v1/users/{me.user['id']}/contact-methods", json=sms, headers=mine)
    assert created.status_code == 201, created.text
    method = created.json()
    # An address is proven with a code, not vouched for, unless by an admin.
    path = f"/api/v1/users/{me.user['id']}/contact-methods/{method['id']}"
    refused(anonymous.patch(path, json={"verified": True}, headers=mine), 403, "verification")
    refused(anonymous.post(f"/api/v1/users/{me.user['id']}/contact-methods", json={**sms, "verified": True},
                           headers=mine), 403, "admin")
    assert api.patch(path, json={"verified": True}).json()["verified"] is True
    assert anonymous.patch(path, json={"label": "work phone"}, headers=mine).json()["label"] == "work phone"
    # Anyone reads anyone's; the viewer changes nothing, not even their own.
    viewer = {"Authorization": f"Bearer {people['viewer'].token}"}
    assert anonymous.get(f"/api/v1/users/{me.user['id']}/contact-methods", headers=viewer).status_code == 200
    refused(anonymous.post(f"/api/v1/users/{people['viewer'].user['id']}/contact-methods", json=sms,
                           headers=viewer), 403, "responder")
    assert anonymous.delete(path, headers=mine).status_code == 204


def test_responders_cover_only_for_themselves(api, anonymous, people):
    me, other = people["responder"], make_user(api, "responder", password=None)
    mine = {"Authorization": f"Bearer {me.token}"}
    schedule = api.post("/api/v1/schedules", json={"name": "primary", "time_zone": "UTC", "layers": []}).json()
    start = datetime.now(timezone.utc) + timedelta(days=1)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=8)).isoformat()}
    path = f"/api/v1/schedules/{schedule['id']}/overrides"
    refused(anonymous.post(path, json={"user_id": other["id"], **window}, headers=mine), 403, other["id"])
    covering = anonymous.post(path, json={"user_id": me.user["id"], **window}, headers=mine)
    assert covering.status_code == 201, covering.text
    theirs = api.post(path, json={"user_id": other["id"], **window}).json()
    refused(anonymous.delete(f"{path}/{theirs['id']}", headers=mine), 403, theirs["id"])
    assert anonymous.delete(f"{path}/{covering.json()['id']}", headers=mine).status_code == 204
    refused(anonymous.put(f"/api/v1/schedules/{schedule['id']}", headers=mine,
                          json={"name": "mine now", "time_zone": "UTC", "layers": []}), 403, "admin")


def test_routing_keys_are_for_admins_only(api, anonymous, people, new_service):
    service = new_service()
    for role in ("viewer", "responder"):
        headers = {"Authorization": f"Bearer {people[role].token}"}
        assert anonymous.get(f"/api/v1/services/{service.id}", headers=headers).status_code == 200
        refused(anonymous.get(f"/api/v1/services/{service.id}/integrations", headers=headers), 403, "admin")
    admin = {"Authorization": f"Bearer {people['admin'].token}"}
    listed = anonymous.get(f"/api/v1/services/{service.id}/integrations", headers=admin)
    assert [i["key"] for i in listed.json()["integrations"]] == [service.key]


# -- the admin token and other bearers -------------------------------------------------------------

def test_a_bearer_that_is_no_token_of_ours_is_403(anonymous):
    refused(anonymous.get("/api/v1/incidents", headers={"Authorization": "Bearer nope"}), 403, "not allowed")


def test_an_unknown_personal_token_is_401(anonymous):
    refused(anonymous.get("/api/v1/incidents", headers={"Authorization": "Bearer tcs_" + "x" * 43}), 401,
            "unknown or revoked")


def test_ingestion_needs_no_token_but_a_routing_key(anonymous):
    response = anonymous.post("/v2/enqueue", json={"routing_key": "x" * 32, "event_action": "trigger",
                                                    "payload": {"summary": "s", "source": "s", "severity": "info"}})
    assert response.status_code == 400


@pytest.mark.parametrize("path", [f"/api/v1/schedules/{uuid.uuid4()}/oncall.ics",
                                  f"/api/v1/users/{uuid.uuid4()}/oncall.ics"])
def test_calendar_feeds_open_with_their_token_not_the_admin_bearer(api, path):
    assert api.get(path).status_code == 401
    assert api.get(path, params={"token": "nope"}).status_code == 404


# -- teams: own team and another team ---------------------------------------------------------------

# Path parameters that name what a team owns (user_id names a member on the team's own routes;
# under /users/{user_id}, a rule_id is a person's notification rule, which is their own).
OWNED_PARAMS = {"service_id", "schedule_id", "policy_id", "integration_id", "heartbeat_id", "rule_id",
                "incident_id", "team_id"}
GLOBAL_ONLY = {("DELETE", "/api/v1/teams/{team_id}")}  # making and deleting teams: global admins


def _creates(team: Team) -> dict[tuple[str, str], dict[str, Any]]:
    """Bodies making an object in `team` (the team is in the body, not the path)."""
    owned, tid = team.owned, team.id
    return {
        ("POST", "/api/v1/services"): {"name": "made by a member", "team_id": tid},
        ("POST", "/api/v1/schedules"): {"name": "made by a member", "time_zone": "UTC", "layers": [], "team_id": tid},
        ("POST", "/api/v1/escalation-policies"): {"name": "made by a member", "team_id": tid, "levels": [
            {"delay_minutes": 5, "targets": [{"type": "user", "id": team.bystander["id"]}]}]},
        ("POST", "/api/v1/integrations"): {"type": "router", "name": "made by a member", "format": "generic",
                                           "catch_all": {"drop": True}, "team_id": tid},
        ("POST", "/api/v1/rules"): {"kind": "service", "service_id": owned["service_id"], "name": "made by a member"},
        ("POST", "/api/v1/rules/order"): {"kind": "service", "service_id": owned["service_id"],
                                          "ids": [owned["rule_id"]]},
    }


TEAM_CREATES = set(_creates(Team("", "", {}, {"id": ""}, {"service_id": "", "rule_id": ""})))


def team_needs(route: Route) -> str | None:
    """The role needed in the team owning the route's object; None when no team role will do."""
    if route.key in TEAM_CREATES or route.key in ANY_TEAM_ADMIN_READS:
        return "admin"
    if route.key in GLOBAL_ONLY or route.path.startswith("/api/v1/users/"):
        return None
    if not OWNED_PARAMS & set(re.findall(r"\{(\w+)", route.path)):
        return None
    return route.needs


TEAM_ROUTES = [route for route in ABOVE_VIEWER if team_needs(route) is not None]


def test_every_kind_of_owned_object_has_team_routes():
    served = {route.key for route in TEAM_ROUTES}
    assert TEAM_CREATES <= served
    for param in OWNED_PARAMS:
        assert any(f"{{{param}}}" in path for _, path in served), param


@pytest.fixture(scope="module")
def teams(api: httpx.Client, tocsin: Any, admin_token: str) -> dict[str, Team]:
    """Team A, with one of everything a team owns, and team B, each with a member of each role."""
    own = make_team(api, tocsin.base_url, "A " + uuid.uuid4().hex[:6])
    other = make_team(api, tocsin.base_url, "B " + uuid.uuid4().hex[:6])
    furnish(api, tocsin.base_url, admin_token, own, covering=own.members["responder"].user["id"])
    return {"own": own, "other": other}


def in_team(route: Route, team: Team, own_user_id: str) -> str:
    """The route's path naming `team`'s objects (a router's id under /integrations, the service
    integration's under /services; the member's own id on a user's own routes)."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name == "integration_id":
            name = "router_id" if route.path.startswith("/api/v1/integrations") else "service_integration_id"
        if route.path.startswith("/api/v1/users/"):
            return own_user_id if name == "user_id" else str(uuid.uuid4())
        if name in team.owned:
            return team.owned[name]
        return "999999999" if name in route.integer_params else str(uuid.uuid4())

    return re.sub(r"\{([^}]+)\}", value, route.path)


def call_in_team(client: httpx.Client, route: Route, team: Team, member: Any) -> httpx.Response:
    body = _creates(team).get(route.key, {}) if route.method in ("POST", "PUT", "PATCH") else None
    path = in_team(route, team, member.user["id"])
    return client.request(route.method, path, headers=member.bearer, **({"json": body} if body is not None else {}))


@pytest.mark.parametrize("route", ABOVE_VIEWER, ids=str)
@pytest.mark.parametrize("whose", ["own", "other"])
def test_team_members_are_refused_what_their_role_in_the_owning_team_does_not_allow(anonymous, teams, route, whose):
    needs, owner = team_needs(route), teams["own"]
    for role in TEAM_ROLES:
        if whose == "own" and needs is not None and ROLES.index(role) >= ROLES.index(needs):
            continue  # allowed: the next test
        if route.key in ANY_TEAM_ADMIN_READS and role == "admin":
            continue  # an admin of any team reads, their own team's part
        member = teams[whose].members[role]
        response = call_in_team(anonymous, route, owner, member)
        assert response.status_code == 403, \
            f"{route} as {role} of the {whose} team: {response.status_code} {response.text[:300]}"
        assert (needs or route.needs) in response.json()["message"]


@pytest.mark.parametrize("route", TEAM_ROUTES, ids=str)
def test_team_members_with_the_role_needed_in_the_owning_team_are_not_refused(
    api, anonymous, tocsin, admin_token, teams, route
):
    # Objects of their own for each call: an allowed call may delete what it names.
    team = teams["own"]
    fresh = furnish(api, tocsin.base_url, admin_token, Team(team.id, team.name + " " + uuid.uuid4().hex[:4],
                                                            team.members, team.bystander),
                    covering=team.members["responder"].user["id"])
    member = team.members[team_needs(route) or "admin"]
    response = call_in_team(anonymous, route, fresh, member)
    assert response.status_code not in (401, 403), f"{route}: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, f"{route}: {response.status_code} {response.text[:300]}"
