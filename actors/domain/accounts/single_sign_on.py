"""Single sign-on: what an identity provider's group claims grant, and who a signed-in
identity is. Pure.

The operator maps group names to grants (TOCSIN_OIDC_GROUP_MAP, JSON):

    {"oncall-admins": {"role": "admin"},
     "payments-oncall": {"team": "payments", "role": "responder"},
     "sre": [{"role": "responder"}, {"team": "platform", "role": "admin"}]}

A grant without a team is a global role; one with a team is a role in that team (admin
there is the team admin). At every sign-in the groups the provider sends replace what
earlier ones granted: the user's global role becomes the highest role their groups grant
(or the default role when none does), and their team memberships become exactly those
their groups grant (the highest role per team).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tocsin.actors.domain.accounts.access import Role

PROVISIONING = ("create", "existing")  # create users at first sign-in, or admit only existing ones
LOCAL_PASSWORDS = ("on", "break-glass")  # everyone may log in with a password, or break-glass users only


@dataclass(frozen=True, slots=True)
class Grant:
    """A role, global (team None) or in one team."""

    role: Role
    team: str | None = None


GroupMap = Mapping[str, tuple[Grant, ...]]


@dataclass(frozen=True, slots=True)
class Grants:
    """What a user's groups grant: a global role (None: no group grants one) and a role per team."""

    role: Role | None
    teams: dict[str, Role] = field(default_factory=dict)


def parse_group_map(text: str) -> GroupMap:
    """The mapping from its JSON; ValueError saying what is wrong (the setting is refused
    at start, not found wrong at someone's sign-in). An empty text maps nothing."""
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the group map is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError('the group map is a JSON object: {"group": {"role": "admin"}, ...}')
    return {str(group): _grants(group, value) for group, value in document.items()}


def _grants(group: str, value: object) -> tuple[Grant, ...]:
    entries = value if isinstance(value, list) else [value]
    if not entries:
        raise ValueError(f"group {group!r} maps to nothing: give a grant or leave the group out")
    return tuple(_grant(group, entry) for entry in entries)


def _grant(group: str, entry: object) -> Grant:
    if not isinstance(entry, dict) or set(entry) - {"role", "team"} or "role" not in entry:
        raise ValueError(f'group {group!r}: each grant is {{"role": ...}} or {{"team": ..., "role": ...}}')
    role, team = entry["role"], entry.get("team")
    roles = [r.value for r in Role]
    if role not in roles:
        raise ValueError(f"group {group!r}: the role {role!r} is none of {', '.join(roles)}")
    if team is not None and (not isinstance(team, str) or not team.strip()):
        raise ValueError(f"group {group!r}: the team is a team's name")
    return Grant(Role(role), team.strip() if team is not None else None)


def grants_for(groups: Iterable[str], mapping: GroupMap) -> Grants:
    """What these groups grant together: the highest of each kind; unmapped groups grant nothing."""
    role: Role | None = None
    teams: dict[str, Role] = {}
    for group in groups:
        for grant in mapping.get(group, ()):
            if grant.team is None:
                role = grant.role if role is None else max(role, grant.role)
            else:
                teams[grant.team] = max(teams.get(grant.team, grant.role), grant.role)
    return Grants(role, teams)


def managed_teams(mapping: GroupMap) -> frozenset[str]:
    """The teams (by name, in lower case) whose memberships single sign-on keeps: those the
    mapping names. Memberships in any other team are the admins' to give, and left alone."""
    return frozenset(grant.team.lower() for grants in mapping.values() for grant in grants if grant.team)


def groups_of(claims: Mapping[str, object], claim: str) -> list[str]:
    """The groups in the claim named `claim`: a list of names (or one name); none when absent.
    Entries that are not text are not names of groups, and are left out."""
    value = claims.get(claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [entry for entry in value if isinstance(entry, str)]
    return []


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the provider says signed in: its issuer and subject identify them for good; the
    rest is what it tells of them, for a user created at first sign-in."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool | None
    name: str
    time_zone: str | None
    groups: tuple[str, ...]


def identity_of(claims: Mapping[str, object], groups_claim: str) -> Identity:
    """From the ID token's claims (already checked) merged with the userinfo's."""
    email = _text(claims.get("email"))
    verified = claims.get("email_verified")
    name = (_text(claims.get("name")) or _text(claims.get("preferred_username")) or email
            or str(claims["sub"]))
    return Identity(
        issuer=str(claims["iss"]),
        subject=str(claims["sub"]),
        email=email,
        email_verified=verified if isinstance(verified, bool) else None,
        name=name[:200],
        time_zone=_text(claims.get("zoneinfo")),
        groups=tuple(groups_of(claims, groups_claim)),
    )


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
