"""What teams own, checked route by route: the HTTP side of the permission check in
actors/domain/accounts/access.py.

A route that changes an owned object depends on `guard(kind, param)`: the object named by
the path parameter is looked up (404 when there is none), and the caller needs the role the
action asks for on its team (403 otherwise, naming the role). A global admin, who may do
anything anywhere, is let through without a lookup (the guard then gives no team). A caller who holds that role
nowhere, globally or in any team, is refused before anything is looked up. Creating names
its team in the body (`team_id`) and is checked by `permit` once the body is read; giving an
object another team, by `permit_move`. Incidents are their service's team's; with
TOCSIN_INCIDENT_VISIBILITY=team an incident the caller may not see is answered as absent.

`?team=mine|<team id>` on lists and the stream is read by `team_filter`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import asyncpg

from fastapi import Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError

from tocsin.actors.domain.accounts.access import (
    Action,
    Caller,
    Role,
    move_refusal,
    refusal,
    sees_incidents_of,
    visible_teams,
)
from tocsin.actors.domain.accounts.sessions import SAFE_METHODS
from tocsin.actors.store import teams as store
from tocsin.actors.store.database import Database
from tocsin.serve.api.auth import authenticate, demanding
from tocsin.serve.errors import invalid
from tocsin.serve.params import INT64_MAX
from tocsin.serve.runtime import GatewayRuntime, get_database, get_runtime

TEAM_QUERY = Query(None, max_length=64, description='"mine": only what the caller\'s teams own; a team id: only'
                                                    " what that team owns")


def permit(caller: Caller, action: Action, team_id: str | None, what: str) -> None:
    """403 unless `caller` may do `action` on `what`, of `team_id`."""
    reason = refusal(caller, action, team_id, what)
    if reason:
        raise HTTPException(403, reason)


def permit_create(caller: Caller, kind: str, team_id: str | None) -> None:
    """403 unless `caller` may make a `kind` in `team_id` (None: of no team, global admins only)."""
    permit(caller, Action.MANAGE, team_id, f"a new {kind}")


def permit_move(caller: Caller, from_team: str | None, to_team: str | None, what: str) -> None:
    """403 unless `caller` may give `what` from `from_team` to `to_team`."""
    reason = move_refusal(caller, from_team, to_team, what)
    if reason:
        raise HTTPException(403, reason)


def refuse_unless_own_in(caller: Caller, team_id: str | None, user_id: object, what: str) -> None:
    """403 unless `what`, which belongs to `user_id`, is the caller's own or they are an
    admin of `team_id` (the responder role there is checked by the route's guard)."""
    if not (caller.may(Action.MANAGE, team_id) or caller.is_user(user_id)):
        raise HTTPException(403, f"a {caller.role_in(team_id).value} may change only what is their own; {what} is"
                                 f" not {caller.name}'s")


def ahead(caller: Caller, action: Action) -> None:
    """403 at once for a caller who holds the role `action` needs nowhere."""
    if not caller.may_somewhere(action):
        demanding(caller, action.needs)


class _Guard:
    """A dependency checking `action` on the `kind` named by the path parameter `param`, for
    changes only unless `reads`; it gives the object's team (None: no team, or not checked).
    A class rather than a closure: Serve pickles the app, and a closure would lose the names
    its annotations use."""

    def __init__(self, kind: store.Owned, param: str, action: Action, reads: bool) -> None:
        self.kind, self.param, self.action, self.reads = kind, param, action, reads

    async def __call__(self, request: Request, caller: Caller = Depends(authenticate),
                       db: Database = Depends(get_database)) -> str | None:
        if not self.reads and request.method.upper() in SAFE_METHODS:
            return None
        if caller.has(Role.ADMIN):  # may anything on any team: the route answers for the rest
            return None
        ahead(caller, self.action)
        object_id = _uuid(request.path_params.get(self.param))
        if object_id is None:  # the route's own validation answers for it
            return None
        async with db.connection() as conn:
            exists, team = await store.owner_team(conn, self.kind, object_id)
        if not exists:
            raise HTTPException(404, f"no {self.kind} with id {object_id}")
        permit(caller, self.action, team, f"{self.kind} {object_id}")
        return team


class _IncidentGuard:
    """A dependency for routes of one incident: absent (404) when the caller may not see it,
    403 unless they may do `action` on its team; it gives the team."""

    def __init__(self, action: Action) -> None:
        self.action = action

    async def __call__(self, request: Request, caller: Caller = Depends(authenticate),
                       runtime: GatewayRuntime = Depends(get_runtime)) -> str | None:
        if caller.has(Role.ADMIN):  # sees and may anything: the route answers for the rest
            return None
        ahead(caller, self.action)
        incident_id = _int(request.path_params.get("incident_id"))
        if incident_id is None:
            return None
        async with runtime.database.connection() as conn:
            exists, team = await store.incident_team(conn, incident_id)
        if not exists or not sees_incidents_of(caller, team, runtime.settings.incident_visibility):
            raise HTTPException(404, f"no incident with id {incident_id}")
        permit(caller, self.action, team, f"incident {incident_id}")
        return team


@cache  # one dependency per kind of check, so FastAPI runs it once per request
def guard(kind: store.Owned, param: str, action: Action = Action.MANAGE, reads: bool = False) -> _Guard:
    """The check of `action` on the `kind` named by the path parameter `param` (see _Guard)."""
    return _Guard(kind, param, action, reads)


@cache
def incident_guard(action: Action) -> _IncidentGuard:
    return _IncidentGuard(action)


@contextmanager
def known_team(team_id: object) -> Iterator[None]:
    """422 naming team_id when the block stores a team that does not exist; any other
    foreign key's violation goes on."""
    try:
        yield
    except asyncpg.ForeignKeyViolationError as exc:
        if (exc.constraint_name or "").endswith("_team_id_fkey"):
            raise invalid(("team_id", f"no team with id {team_id}")) from exc
        raise


def team_filter(caller: Caller, team: str | None) -> frozenset[str] | None:
    """The teams `?team=` keeps: None for no filter, "mine" the caller's, else one team id."""
    if team is None:
        return None
    if team == "mine":
        return frozenset(caller.teams)
    team_id = _uuid(team)
    if team_id is None:
        raise RequestValidationError([{"loc": ("query", "team"), "msg": 'must be "mine" or a team id'}])
    return frozenset({team_id})


def incident_teams(caller: Caller, team: str | None, runtime: GatewayRuntime) -> frozenset[str] | None:
    """The teams whose incidents `caller` gets, with `?team=` and the visibility setting; None: all."""
    asked, seen = team_filter(caller, team), visible_teams(caller, runtime.settings.incident_visibility)
    if asked is None:
        return seen
    return asked if seen is None else asked & seen


def _uuid(text: object) -> str | None:
    try:
        return str(uuid.UUID(str(text)))
    except ValueError:
        return None


def _int(text: object) -> int | None:
    value = str(text)
    if not (value.isascii() and value.isdigit() and 0 < len(value) <= 19):
        return None
    return int(value) if 0 < int(value) <= INT64_MAX else None
