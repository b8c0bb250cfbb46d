"""The permission check of teams (actors/domain/accounts/access.py), over every team role,
the caller's own team, another team and no team, and every action."""

from __future__ import annotations

import itertools

import pytest

from tocsin.actors.domain.accounts.access import (
    Action,
    Caller,
    Role,
    Visibility,
    move_refusal,
    narrowed,
    refusal,
    sees_incidents_of,
    token_limit_refusal,
    visible_teams,
)

OWN, OTHER = "7f1c5b1e-0000-4000-8000-000000000001", "7f1c5b1e-0000-4000-8000-000000000002"
ROLES = (Role.VIEWER, Role.RESPONDER, Role.ADMIN)


def member(team_role: Role, global_role: Role = Role.VIEWER) -> Caller:
    return Caller("5d9ab0b4-5f0e-4d8e-9a4c-3f1f0e2b7c11", "Mia", global_role, "session", {OWN: team_role})


# (team role, whose object, action) -> allowed, for a member whose global role is viewer.
TABLE = {
    (role, whose, action): (role >= action.needs if whose == "own" else action is Action.READ)
    for role, whose, action in itertools.product(ROLES, ("own", "other", "none"), Action)
}


@pytest.mark.parametrize(("role", "whose", "action"), sorted(TABLE, key=str), ids=str)
def test_a_member_may_what_their_role_in_the_owning_team_allows(role, whose, action):
    team = {"own": OWN, "other": OTHER, "none": None}[whose]
    caller = member(role)
    assert caller.may(action, team) is TABLE[role, whose, action]
    reason = refusal(caller, action, team, "service checkout")
    assert (reason is None) is TABLE[role, whose, action]
    if reason:
        assert action.needs.value in reason and "service checkout" in reason


@pytest.mark.parametrize(("global_role", "team_role"), itertools.product(ROLES, ROLES))
def test_the_higher_of_the_global_and_the_team_role_counts_and_no_team_takes_the_global_one(global_role, team_role):
    caller = member(team_role, global_role)
    assert caller.role_in(OWN) == max(global_role, team_role)
    assert caller.role_in(OTHER) == global_role == caller.role_in(None)


def test_a_global_admin_manages_everything_and_nobody_else_what_no_team_owns():
    admin = Caller(None, "admin", Role.ADMIN, "admin-token")
    assert all(admin.may(action, team) for action in Action for team in (OWN, OTHER, None))
    assert refusal(member(Role.ADMIN), Action.MANAGE, None, "the inhibit rules") is not None


def test_moving_needs_admin_of_both_teams():
    both = Caller("u", "Bo", Role.VIEWER, "session", {OWN: Role.ADMIN, OTHER: Role.ADMIN})
    assert move_refusal(both, OWN, OTHER, "service s") is None
    assert move_refusal(member(Role.ADMIN), OWN, OWN, "service s") is None
    to_other = move_refusal(member(Role.ADMIN), OWN, OTHER, "service s")
    assert to_other and OTHER in to_other and "admin" in to_other
    assert move_refusal(member(Role.ADMIN), OWN, None, "service s")  # no team: global admins'
    assert move_refusal(member(Role.RESPONDER), OWN, OWN, "service s")


def test_who_is_refused_before_anything_is_looked_up():
    assert member(Role.ADMIN).may_somewhere(Action.MANAGE)
    assert not member(Role.RESPONDER).may_somewhere(Action.MANAGE)
    assert member(Role.RESPONDER).may_somewhere(Action.RESPOND)
    assert Caller("u", "G", Role.RESPONDER, "token").may_somewhere(Action.RESPOND)


@pytest.mark.parametrize(("owner_role", "asked", "allowed"), [
    (Role.ADMIN, Role.ADMIN, True), (Role.ADMIN, Role.VIEWER, True), (Role.RESPONDER, Role.RESPONDER, True),
    (Role.RESPONDER, Role.ADMIN, False), (Role.VIEWER, Role.RESPONDER, False),
])
def test_a_token_is_limited_to_at_most_its_owners_role_in_the_team(owner_role, asked, allowed):
    assert (token_limit_refusal(member(owner_role), OWN, asked) is None) is allowed
    assert token_limit_refusal(member(owner_role), OTHER, Role.RESPONDER) is not None  # not a member there


def test_a_limited_token_acts_as_a_viewer_elsewhere_and_never_above_its_owner_now():
    owner = Caller("u", "Ola", Role.ADMIN, "token", {OWN: Role.RESPONDER})
    token = narrowed(owner, OWN, Role.RESPONDER)
    assert token.role is Role.VIEWER and token.limited_to == OWN and token.user_id == "u"
    assert token.may(Action.RESPOND, OWN) and not token.may(Action.MANAGE, OWN)
    assert not token.may(Action.RESPOND, OTHER) and not token.may(Action.MANAGE, None)
    demoted = Caller("u", "Ola", Role.VIEWER, "token", {OWN: Role.VIEWER})  # the owner lost their roles since
    assert not narrowed(demoted, OWN, Role.RESPONDER).may(Action.RESPOND, OWN)


def test_incidents_are_everyones_unless_the_organisation_keeps_them_to_their_team():
    mia, admin = member(Role.VIEWER), Caller(None, "admin", Role.ADMIN, "admin-token")
    responder = Caller("r", "Rui", Role.RESPONDER, "session")
    for team in (OWN, OTHER, None):
        assert sees_incidents_of(mia, team, Visibility.ALL) and sees_incidents_of(admin, team, Visibility.TEAM)
    assert sees_incidents_of(mia, OWN, Visibility.TEAM)
    assert not sees_incidents_of(mia, OTHER, Visibility.TEAM) and not sees_incidents_of(mia, None, Visibility.TEAM)
    assert not sees_incidents_of(responder, OWN, Visibility.TEAM)
    assert visible_teams(mia, Visibility.ALL) is None and visible_teams(admin, Visibility.TEAM) is None
    assert visible_teams(mia, Visibility.TEAM) == {OWN} and visible_teams(responder, Visibility.TEAM) == frozenset()


def test_the_visibility_setting_reads_from_the_environment(monkeypatch):
    from tocsin.actors.settings import Settings

    assert Settings().incident_visibility is Visibility.ALL
    monkeypatch.setenv("TOCSIN_INCIDENT_VISIBILITY", "team")
    assert Settings.from_env().incident_visibility is Visibility.TEAM
