"""The audit log's pure part: what an entry holds, what of an object it may keep, and who
reads which entries.

An entry says who (`actor`: a user id, "admin" for the admin token, "system"), how they came
(`via`: session, token:<token id>, admin-token, setup-link, or the channel a page was
answered on: sms, voice, slack, push), from which address, what (an object's type, id,
name and owning team), the action, and the object before and after as the API shows it.

Before and after are kept as readers of the log may see them: a secret is never stored
whole. Contact addresses that are credentials are masked as for a colleague (masking.py);
routing keys, heartbeat keys and the URLs that carry them keep their last characters only;
hashes, tokens and passwords are dropped.

Readers: global admins read every entry; a team admin reads the entries of the teams they
administer, and no entry of no team (users, teams themselves, inhibit rules: global
admins' business); everyone else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tocsin.actors.domain.accounts.access import Caller, Role
from tocsin.actors.domain.masking import SECRET_KINDS, masked

SYSTEM = "system"

# Fields dropped from before/after: whoever reads them could act as their owner (a hash of a
# short code can be reversed by trying them all). So is anything named *_hash or *_token.
_DROPPED = frozenset({"token", "password", "secret", "auth", "p256dh", "push_auth", "push_p256dh"})
_DROPPED_ENDINGS = ("_hash", "_token", "_secret")
# Fields that are credentials but name which one: shown by their last characters.
_TAILED = frozenset({"key"})
# URLs with a credential in them: shown by their scheme and host.
_URLS = frozenset({"url", "calendar_url", "endpoint"})
_TAIL = 4


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: `id` is a user id, "admin" or "system"; `via` how they came."""

    id: str
    name: str
    via: str

    @classmethod
    def of(cls, caller: Caller) -> Actor:
        """The actor of an API request: a personal token is named by its id."""
        via = f"token:{caller.token_id}" if caller.via == "token" and caller.token_id else caller.via
        return cls(id=caller.user_id or caller.name, name=caller.name, via=via)


@dataclass(frozen=True, slots=True)
class Subject:
    """What an entry is about: an object's type, id, name and owning team (None: no team)."""

    object_type: str
    object_id: str | None
    name: str | None = None
    team_id: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    actor: Actor
    client_address: str | None
    subject: Subject
    action: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class Query:
    """Which entries a reader asks for; every field narrows, None leaves it open. `teams` is
    what the reader may see (None: everything), applied on top of `team`."""

    actor: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    team: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    teams: frozenset[str] | None = None


def readable_teams(caller: Caller) -> frozenset[str] | None:
    """The teams whose entries `caller` reads: None for every entry (a global admin), else the
    teams they administer (empty: they read none)."""
    if caller.has(Role.ADMIN):
        return None
    return caller.teams_where(Role.ADMIN)


def redacted(value: Any) -> Any:
    """`value` (an object as the API shows it) with its secrets masked or dropped, at any depth."""
    if isinstance(value, list):
        return [redacted(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for name, item in value.items():
        if name in _DROPPED or name.endswith(_DROPPED_ENDINGS):
            continue
        out[name] = _masked_field(name, item, value.get("kind"))
    return out


def _masked_field(name: str, item: Any, kind: Any) -> Any:
    if not isinstance(item, str):
        return redacted(item)
    if name == "address" and kind in SECRET_KINDS:
        return masked(str(kind), item)
    if name in _TAILED:
        return "…" + item[-_TAIL:] if len(item) >= 4 * _TAIL else "…"
    if name in _URLS:
        return masked("url", item)
    return item


def name_of(snapshot: Any) -> str | None:
    """What an object is called, for the entry's `object_name`: its name, e-mail or label."""
    if not isinstance(snapshot, dict):
        return None
    for field in ("name", "email", "label", "title", "address"):
        value = snapshot.get(field)
        if isinstance(value, str) and value:
            return value
    return None
