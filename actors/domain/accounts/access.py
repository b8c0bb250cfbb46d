"""Who may do what: three roles in order, held globally and in teams, and the caller a
request acts as. Pure.

Roles. Viewers read everything; responders also act on incidents and on what is their own
(their contact methods, notification rules, and the overrides that put them on call); admins
manage everything else. Secrets that belong to a person (webhook URLs, calendar tokens) are
shown to that person and to admins only.

Teams. A team owns services, schedules, escalation policies and router integrations; the
routing rules of a service or a router are its owner's, so its team's; the inhibit rules,
users, teams themselves, channels and notifications belong to no team. A user holds a global
role (users.role) and, in each team they belong to, a team role (team_members.role). On an
object of team T a caller acts with the higher of their global role and their role in T
(`Caller.role_in`); on an object of no team, with their global role alone. So a global admin
manages everything, a team admin manages what T owns and nothing else, a team responder acts
on T's incidents, and the global roles keep their meaning. Objects made before teams have
no team: the global admins' alone to change, as before.

The permission check is `refusal(caller, action, team_id, what)`: None when the caller may
do `action` (READ, RESPOND, MANAGE) on an object of `team_id` (None: of no team), else why
not, in words naming the role that is needed. Every route that changes or acts on something
owned calls it (through serve/api/ownership.py). Creating an object in team T is MANAGE on
T; moving one from T to U is MANAGE on both (`move_refusal`); managing a team's members or
name is MANAGE on that team; making or deleting teams is MANAGE on no team (global admins).

Personal API tokens may be limited to one team and a role there at or below their owner's
(`token_limit_refusal` when made, `narrowed` each time it is used, so a token never outlives
its owner's own role): such a token acts as a caller whose global role is viewer and whose
one team role is the lesser of the token's and the owner's present role in that team; it
makes no tokens (one unlimited would undo the limit).

Incidents belong to their service's team. Everyone sees every incident by default
(`Visibility.ALL`); an organisation may choose `Visibility.TEAM`, with which a caller who is
no global admin sees, lists, follows live and acts on only the incidents of their teams'
services (`sees_incidents_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import total_ordering


@total_ordering
class Role(Enum):
    """Ordered: viewer < responder < admin. The value is what users.role stores."""

    VIEWER = "viewer"
    RESPONDER = "responder"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS.index(self.value)

    def __lt__(self, other: object) -> bool:
        # Defined by rank, never by the values' spelling (alphabetically admin comes first).
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank < other.rank


_RANKS = ("viewer", "responder", "admin")


class Action(Enum):
    """What a caller would do to an object; each needs a role on the object's team."""

    READ = "read"  # see it
    RESPOND = "respond"  # act on an incident, cover a shift for oneself
    MANAGE = "manage"  # create, change, delete, move; a team's members

    @property
    def needs(self) -> Role:
        return _NEEDS[self]


_NEEDS = {Action.READ: Role.VIEWER, Action.RESPOND: Role.RESPONDER, Action.MANAGE: Role.ADMIN}


class Visibility(Enum):
    """Who sees an incident: everyone, or (for all but global admins) its team only."""

    ALL = "all"
    TEAM = "team"


@dataclass(frozen=True, slots=True)
class Caller:
    """Whoever a request acts for, once its credentials check out."""

    user_id: str | None  # None for the admin token, which is nobody's
    name: str  # what the incident log records as the actor
    role: Role  # the global role
    via: str  # "session" | "token" | "admin-token"
    teams: Mapping[str, Role] = field(default_factory=dict)  # team id -> role in that team
    limited_to: str | None = None  # the team of a token limited to one
    token_id: str | None = None  # the personal token the request came with, if it did

    def has(self, role: Role) -> bool:
        """Whether the global role is at least `role`."""
        return self.role >= role

    def role_in(self, team_id: str | None) -> Role:
        """The role this caller acts with on what `team_id` owns (None: what no team owns)."""
        team_role = self.teams.get(team_id) if team_id is not None else None
        return self.role if team_role is None else max(self.role, team_role)

    def may(self, action: Action, team_id: str | None) -> bool:
        return self.role_in(team_id) >= action.needs

    def teams_where(self, role: Role) -> frozenset[str]:
        """The teams this caller holds at least `role` in, by team role alone."""
        return frozenset(team for team, held in self.teams.items() if held >= role)

    def may_somewhere(self, action: Action) -> bool:
        """Whether some object, of no team or of one of the caller's, allows `action`: a
        caller for whom this is false is refused before anything is looked up."""
        return self.has(action.needs) or bool(self.teams_where(action.needs))

    def is_user(self, user_id: object) -> bool:
        return self.user_id is not None and self.user_id == str(user_id)

    def may_see_secrets_of(self, user_id: object) -> bool:
        """Whether this caller sees the secrets in what belongs to `user_id` (a webhook URL,
        a calendar feed's token): an admin anyone's, every other role only their own."""
        return self.has(Role.ADMIN) or self.is_user(user_id)

    def may_change_own(self, user_id: object) -> bool:
        """Whether this caller may change what belongs to `user_id`: an admin anyone's, a
        responder their own."""
        return self.has(Role.ADMIN) or (self.has(Role.RESPONDER) and self.is_user(user_id))


def refusal(caller: Caller, action: Action, team_id: str | None, what: str) -> str | None:
    """None when `caller` may do `action` on `what`, an object of `team_id` (None: of no
    team); otherwise why not, naming the role needed and the one held."""
    if caller.may(action, team_id):
        return None
    needed, held = action.needs.value, caller.role_in(team_id).value
    if team_id is None:
        return f"this needs the {needed} role; {caller.name} has the {held} role ({what} belongs to no team)"
    return (f"this needs the {needed} role in team {team_id}, which {what} belongs to, or globally;"
            f" {caller.name} has the {held} role there")


def move_refusal(caller: Caller, from_team: str | None, to_team: str | None, what: str) -> str | None:
    """None when `caller` may give `what` from `from_team` to `to_team`: admin of both."""
    if from_team == to_team:
        return refusal(caller, Action.MANAGE, from_team, what)
    return (refusal(caller, Action.MANAGE, from_team, what)
            or refusal(caller, Action.MANAGE, to_team, f"{what}'s new team"))


def token_limit_refusal(owner: Caller, team_id: str, role: Role) -> str | None:
    """None when `owner` may make a token limited to `role` in `team_id`: no higher than
    the role they act with there."""
    held = owner.role_in(team_id)
    if role <= held:
        return None
    return f"a token limited to team {team_id} may have at most {owner.name}'s role there, {held.value}, not {role.value}"


def narrowed(owner: Caller, team_id: str, role: Role) -> Caller:
    """The caller a token limited to `role` in `team_id` acts as: a viewer elsewhere, and
    in that team the lesser of `role` and the owner's present role there."""
    return replace(owner, role=Role.VIEWER, teams={team_id: min(role, owner.role_in(team_id))}, limited_to=team_id)


def sees_incidents_of(caller: Caller, team_id: str | None, visibility: Visibility) -> bool:
    """Whether `caller` sees the incidents of a service of `team_id` (None: of no team)."""
    if visibility is Visibility.ALL or caller.has(Role.ADMIN):
        return True
    return team_id is not None and team_id in caller.teams


def visible_teams(caller: Caller, visibility: Visibility) -> frozenset[str] | None:
    """The teams whose incidents `caller` sees; None when they see every incident."""
    if visibility is Visibility.ALL or caller.has(Role.ADMIN):
        return None
    return frozenset(caller.teams)

