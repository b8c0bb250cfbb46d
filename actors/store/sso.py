"""Single sign-on in Postgres: the sign-ins under way at the identity provider, the users
they sign in (found by the provider's issuer and subject), and what their groups grant.

A sign-in's row is taken (deleted) by the first callback that names its state, so a
callback URL works once. Secrets are kept as digests where they are only compared (the
state, the browser's cookie); the nonce and the PKCE verifier are kept as given, as they are
sent on, and live only until the sign-in comes back or its few minutes are up.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from tocsin.actors.domain.accounts.access import Role
from tocsin.actors.domain.accounts.single_sign_on import GroupMap, Grants, Identity, grants_for, managed_teams
from tocsin.actors.store import teams as team_store
from tocsin.actors.store.rows import one
from tocsin.actors.store.users import new_calendar_token

log = logging.getLogger(__name__)

_USER = "id::text, name, email, role, break_glass, oidc_issuer, oidc_subject"


async def begin(
    conn: asyncpg.Connection, state_hash: str, browser_hash: str, nonce: str, code_verifier: str,
    next_page: str, now: datetime, expires_at: datetime,
) -> None:
    """Record a sign-in sent to the provider; sign-ins whose time is up go."""
    await conn.execute("DELETE FROM sso_sign_ins WHERE expires_at <= $1", now)
    await conn.execute(
        "INSERT INTO sso_sign_ins (state_hash, browser_hash, nonce, code_verifier, next_page, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        state_hash, browser_hash, nonce, code_verifier, next_page, now, expires_at,
    )


async def take(conn: asyncpg.Connection, state_hash: str, browser_hash: str) -> dict[str, Any] | None:
    """The sign-in with this state started by this browser, removed so that no other callback
    can use it; None when there is none (never started, already come back, or another
    browser's, which is left for its own browser)."""
    return one(await conn.fetchrow(
        "DELETE FROM sso_sign_ins WHERE state_hash = $1 AND browser_hash = $2"
        " RETURNING nonce, code_verifier, next_page, expires_at",
        state_hash, browser_hash,
    ))


async def pending(conn: asyncpg.Connection, state_hash: str) -> bool:
    """Whether a sign-in with this state is under way (in whichever browser)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM sso_sign_ins WHERE state_hash = $1)", state_hash))


async def find_by_subject(conn: asyncpg.Connection, issuer: str, subject: str) -> dict[str, Any] | None:
    return one(await conn.fetchrow(
        f"SELECT {_USER} FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2", issuer, subject
    ))


async def find_by_email(conn: asyncpg.Connection, email: str) -> dict[str, Any] | None:
    """Locked until the transaction ends, so that two first sign-ins link it once."""
    return one(await conn.fetchrow(
        f"SELECT {_USER} FROM users WHERE lower(email) = lower($1) FOR UPDATE", email.strip()
    ))


async def link(conn: asyncpg.Connection, user_id: str, issuer: str, subject: str) -> None:
    await conn.execute(
        "UPDATE users SET oidc_issuer = $2, oidc_subject = $3, updated_at = now() WHERE id = $1::uuid",
        user_id, issuer, subject,
    )


async def create(conn: asyncpg.Connection, identity: Identity, email: str, role: Role) -> dict[str, Any]:
    """A user for a first sign-in, linked to its identity and without a password. Raises
    asyncpg.UniqueViolationError when another user has this e-mail address or identity."""
    row = await conn.fetchrow(
        "INSERT INTO users (id, name, email, time_zone, role, calendar_token, oidc_issuer, oidc_subject)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_USER}",
        str(uuid.uuid4()), identity.name, email, identity.time_zone or "UTC", role.value, new_calendar_token(),
        identity.issuer, identity.subject,
    )
    return dict(row)


async def apply_group_claims(
    conn: asyncpg.Connection, user_id: str, groups: tuple[str, ...] | list[str], mapping: GroupMap,
    default_role: Role = Role.VIEWER,
) -> Grants:
    """Make the user's role what `groups` grant now (the default role when none grants one),
    replacing what earlier sign-ins granted; a break-glass user keeps the role they have.
    Written only when it changes: every write to users bumps the paging epoch.

    Team memberships: in the teams the mapping names, the user's become those the groups
    grant now (`_replace_team_memberships`); the grants are returned."""
    grants = grants_for(groups, mapping)
    role = grants.role or default_role
    await conn.execute(
        "UPDATE users SET role = $2, updated_at = now() WHERE id = $1::uuid AND NOT break_glass AND role <> $2",
        user_id, role.value,
    )
    await _replace_team_memberships(conn, user_id, grants.teams, managed_teams(mapping))
    return Grants(role, grants.teams)


async def _replace_team_memberships(conn: asyncpg.Connection, user_id: str, teams: dict[str, Role],
                                    managed: frozenset[str]) -> None:
    """The user's memberships in the teams the mapping names (`managed`, in lower case) become
    exactly `teams` (by name): granted ones set to their role, the others of those removed.
    Memberships in teams the mapping does not name are left as admins gave them. A team the
    mapping names that this Tocsin does not have is said in the log, never made silently."""
    if not managed:
        return
    rows = await conn.fetch("SELECT id::text, name FROM teams WHERE lower(name) = ANY($1::text[])",
                            [name.lower() for name in managed])
    ids = {row["name"].lower(): row["id"] for row in rows}
    missing = sorted(team for team in teams if team.lower() not in ids)
    if missing:
        log.warning("single sign-on: groups grant user %s roles in teams this Tocsin does not have: %s",
                    user_id, ", ".join(missing))
    granted = {ids[team.lower()]: role for team, role in teams.items() if team.lower() in ids}
    await conn.execute(
        "DELETE FROM team_members WHERE user_id = $1::uuid AND team_id = ANY($2::uuid[])"
        " AND NOT team_id = ANY($3::uuid[])", user_id, list(ids.values()), list(granted))
    for team_id, role in granted.items():
        await team_store.set_member(conn, team_id, user_id, role.value)

