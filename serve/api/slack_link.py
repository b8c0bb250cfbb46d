"""Which Slack user acts as a Tocsin user: pressing a page's buttons in Slack, or typing
`/tocsin`, is that user's doing (serve/webhooks/slack.py).

A user links their own account, or an admin links anyone's. A Slack user id names one Tocsin
user at most (409 otherwise). Anyone who can press buttons in the Slack workspace where pages
are posted can act as the user their Slack id is linked to, within that user's role: so the
link is a user's own to make, and is shown on the user (GET /api/v1/users/{user_id}).
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Response

from tocsin.actors.store import chat
from tocsin.actors.store.database import Database
from tocsin.serve.api.auth import own_to_change
from tocsin.serve.api.models import SlackLinkIn, SlackLinkOut
from tocsin.serve.errors import answering
from tocsin.serve.runtime import get_database

router = APIRouter(prefix="/api/v1/users/{user_id}", tags=["Users"], dependencies=[Depends(own_to_change)])


@router.put("/slack", response_model=SlackLinkOut)
async def link_slack(user_id: uuid.UUID, body: SlackLinkIn, db: Database = Depends(get_database)) -> dict[str, Any]:
    """Link this user to a Slack user: their presses of a page's buttons act as this user."""
    taken = HTTPException(409, f"another Tocsin user is linked to the Slack user {body.slack_user_id}")
    async with db.connection() as conn:
        with answering(asyncpg.UniqueViolationError, taken):
            if not await chat.link_slack_user(conn, str(user_id), body.slack_user_id):
                raise HTTPException(404, f"no user with id {user_id}")
    return {"user_id": str(user_id), "slack_user_id": body.slack_user_id}


@router.delete("/slack", status_code=204)
async def unlink_slack(user_id: uuid.UUID, db: Database = Depends(get_database)) -> Response:
    """Unlink this user from Slack: presses from their Slack user are answered with how to link."""
    async with db.connection() as conn:
        if not await chat.link_slack_user(conn, str(user_id), None):
            raise HTTPException(404, f"no user with id {user_id}")
    return Response(status_code=204)
