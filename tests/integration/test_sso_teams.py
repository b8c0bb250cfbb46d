"""Single sign-on keeps team memberships from the groups a provider sends: in the teams its
group map names, a user's memberships become what their groups grant at each sign-in; other
memberships stay as admins gave them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tocsin.actors.domain.accounts.access import Role
from tocsin.actors.domain.accounts.single_sign_on import parse_group_map
from tocsin.actors.store import sso, teams


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


async def test_groups_set_the_memberships_of_the_teams_the_map_names_and_leave_the_others(conn):
    suffix = uuid.uuid4().hex[:8]
    payments = await teams.create_team(conn, f"Payments-{suffix}")
    platform = await teams.create_team(conn, f"platform-{suffix}")
    other = await teams.create_team(conn, f"other-{suffix}")
    user_id = str(uuid.uuid4())
    await conn.execute("INSERT INTO users (id, name, email, role, calendar_token) VALUES ($1, 'Sam', $2, 'viewer', $3)",
                       user_id, f"sam-{suffix}@example.com", uuid.uuid4().hex)
    await teams.set_member(conn, other["id"], user_id, "admin")  # given by an admin, not by groups
    mapping = parse_group_map(
        f'{{"pay": {{"team": "payments-{suffix}", "role": "responder"}},'
        f' "sre": [{{"role": "responder"}}, {{"team": "Platform-{suffix}", "role": "admin"}}],'
        f' "gone": {{"team": "no-such-team-{suffix}", "role": "viewer"}}}}')

    await sso.apply_group_claims(conn, user_id, ["pay", "gone"], mapping)
    first = await teams.roles_of(conn, user_id)
    await sso.apply_group_claims(conn, user_id, ["sre"], mapping)
    second = await teams.roles_of(conn, user_id)

    assert first == {payments["id"]: "responder", other["id"]: "admin"}
    assert second == {platform["id"]: "admin", other["id"]: "admin"}
    assert await conn.fetchval("SELECT role FROM users WHERE id = $1::uuid", user_id) == Role.RESPONDER.value
