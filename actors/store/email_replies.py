"""The tokens of page e-mails' reply addresses (actors/domain/email_replies.py): given out when
a page e-mail is composed, looked up and used once when its reply comes back.

Only a token's hash is stored; the token itself goes out in the e-mail's Reply-To and nowhere else.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from tocsin.actors.domain.email_replies import TOKEN_LENGTH, token_hash

_TOKEN_BYTES = 16  # 128 bits: 26 characters of base32


def new_token() -> str:
    return base64.b32encode(secrets.token_bytes(_TOKEN_BYTES)).decode().rstrip("=").lower()[:TOKEN_LENGTH]


async def issue(conn: asyncpg.Connection, notification_ids: Sequence[int], now: datetime) -> dict[int, str]:
    """A new token for each of these notifications, stored (hashed) in one statement."""
    tokens = {notification_id: new_token() for notification_id in notification_ids}
    if tokens:
        await conn.execute(
            "INSERT INTO email_replies (token_hash, notification_id, created_at)"
            " SELECT h, n, $3 FROM unnest($1::text[], $2::bigint[]) AS t(h, n)",
            [token_hash(token) for token in tokens.values()], list(tokens), now)
    return tokens


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """What a reply address acts on, as whom, and whether it still may."""

    notification_id: int
    incident_id: int
    service_id: str
    user_name: str
    address: str | None  # the contact method's e-mail address; None when it was deleted
    incident_status: str | None  # None: the incident is gone
    issued_at: datetime
    used_at: datetime | None
    user_id: str


async def target(conn: asyncpg.Connection, hashed: str) -> ReplyTarget | None:
    """The notification of the token with this hash, or None when there is none."""
    row = await conn.fetchrow(
        "SELECT n.id, n.incident_id, n.service_id::text, u.name, cm.address, i.status, r.created_at, r.used_at,"
        " u.id::text"
        " FROM email_replies r JOIN notifications n ON n.id = r.notification_id"
        " JOIN users u ON u.id = n.user_id"
        " LEFT JOIN contact_methods cm ON cm.id = n.contact_method_id"
        " LEFT JOIN incidents i ON i.id = n.incident_id"
        " WHERE r.token_hash = $1", hashed)
    return None if row is None else ReplyTarget(*row.values())


async def claim(conn: asyncpg.Connection, hashed: str, at: datetime) -> bool:
    """Whether the token is used for the first time; from now on it is used, for every listener."""
    return bool(await conn.fetchval(
        "UPDATE email_replies SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL RETURNING true",
        hashed, at))


async def release(conn: asyncpg.Connection, hashed: str) -> None:
    """Make the token usable again: what it was used for did nothing."""
    await conn.execute("UPDATE email_replies SET used_at = NULL WHERE token_hash = $1", hashed)
