"""Web Push: the VAPID public key browsers subscribe with, subscriptions as contact methods,
and the actions a push notification's buttons take.

- `GET /api/v1/push/vapid-public-key`: the `applicationServerKey` for PushManager.subscribe.
- `POST /api/v1/push/subscriptions`: the signed-in person's browser subscription (the
  PushSubscription's JSON) becomes their verified `webpush` contact method; the same one
  again updates it. `DELETE` with the endpoint removes it.
- `POST /api/v1/push/actions/{token}`: Acknowledge or Resolve from the notification, with no
  session: the token (actors/domain/push_actions.py) is the credential, single-use, and acts
  as the person the notification was sent to, through the incident's shard.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from tocsin.actors.batcher import BatchFailed
from tocsin.actors.domain import push_actions, replies
from tocsin.actors.domain.audit import Actor
from tocsin.actors.domain.events import Command, IncidentCommand
from tocsin.actors.providers import vapid
from tocsin.actors.store import push as store
from tocsin.actors.store import users
from tocsin.serve.api.auth import Caller, require_responder, require_viewer
from tocsin.serve.api.destinations import refuse_internal
from tocsin.serve.api.models import ContactMethodOut, PushActionOut, PushKeyOut, PushSubscriptionIn, PushUnsubscribeIn
from tocsin.serve.auditing import Declared, declare
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/push", tags=["Web Push"])

NOT_CONFIGURED = "web push is not configured: set TOCSIN_VAPID_PRIVATE_KEY (tocsin up generates one)"
_COMMANDS = uuid.UUID("6f1d3f0e-3b55-4f7a-9a53-6d0f0c7c2b11")  # command ids of push actions, by their use
_COMMAND_OF = {push_actions.Action.ACKNOWLEDGE: Command.ACKNOWLEDGE, push_actions.Action.RESOLVE: Command.RESOLVE}


@functools.lru_cache(maxsize=4)
def _keys(private: str) -> tuple[str, bytes]:
    return vapid.public_key(vapid.private_key(private)), vapid.action_key(private)


def _vapid(runtime: GatewayRuntime) -> tuple[str, bytes]:
    """The public key and the action-token key; 503 when web push is not configured."""
    secret = runtime.settings.vapid_private_key
    if secret is None:
        raise HTTPException(503, NOT_CONFIGURED)
    return _keys(secret.get_secret_value())


@router.get("/vapid-public-key", response_model=PushKeyOut)
async def vapid_public_key(_: Caller = Depends(require_viewer),
                           runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, str]:
    """The key a browser subscribes with (`applicationServerKey`), base64url."""
    return {"public_key": _vapid(runtime)[0]}


@router.post("/subscriptions", status_code=201, response_model=ContactMethodOut,
             responses={200: {"description": "This browser was subscribed already: its keys are updated"}})
async def subscribe(body: PushSubscriptionIn, response: Response, caller: Caller = Depends(require_responder),
                    runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    """This browser's push subscription becomes the caller's `webpush` contact method,
    verified (only this browser holds it); add notification rules with it as with any method."""
    _vapid(runtime)
    if caller.user_id is None:
        raise HTTPException(409, f"{caller.name} is no user: log in as the person to be paged to subscribe")
    await refuse_internal("webpush", body.endpoint, runtime.settings, caller)
    cap = runtime.settings.contact_methods_per_user
    async with runtime.database.connection() as conn, conn.transaction():
        count = await users.count_contact_methods(conn, str(caller.user_id))
        if count is None:
            raise HTTPException(404, f"no user with id {caller.user_id}")
        if count >= cap and not await store.subscribed(conn, str(caller.user_id), body.endpoint):
            raise HTTPException(409, f"{caller.name} already has {count} contact methods, the most a user may"
                                     f" have ({cap}): delete one before subscribing this browser")
        method, created = await store.subscribe(conn, str(caller.user_id), body.endpoint, body.keys.p256dh,
                                                body.keys.auth, body.label)
    response.status_code = 201 if created else 200
    return method


@router.delete("/subscriptions", status_code=204)
async def unsubscribe(body: PushUnsubscribeIn, caller: Caller = Depends(require_responder),
                      runtime: GatewayRuntime = Depends(get_runtime)) -> Response:
    """Remove the caller's contact method for this subscription, and its notification rules."""
    async with runtime.database.connection() as conn:
        done = caller.user_id is not None and await store.unsubscribe(conn, str(caller.user_id), body.endpoint)
    if not done:
        raise HTTPException(404, f"{caller.name} has no push subscription with this endpoint")
    return Response(status_code=204)


@router.post("/actions/{token}", response_model=PushActionOut,
             responses={404: {"description": "Not an action token of this Tocsin"},
                        409: {"description": "The token was used already"},
                        410: {"description": "The token expired: its incident is resolved, or it is too old"}})
async def act(token: str, request: Request, runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    """Acknowledge or resolve the incident of a push notification, as the person it was sent to.
    No session: the token is the credential, and works once."""
    read = push_actions.read(_vapid(runtime)[1], token) if len(token) <= 128 else None
    if read is None:
        raise HTTPException(404, "not an action token of this Tocsin")
    notification_id, action = read
    use = push_actions.use_id(notification_id, action)
    async with runtime.database.connection() as conn:
        target = await store.action_target(conn, notification_id)
        if target is None:
            raise HTTPException(404, "the notification of this action token no longer exists")
        refusal = push_actions.refusal(target.incident_status, target.sent_at, runtime.now())
        if refusal is not None:
            raise HTTPException(410, f"this action token no longer works: {refusal}")
        if not await store.claim_action(conn, use, runtime.now()):
            raise HTTPException(409, "this action token was used already")
    command = _COMMAND_OF[action]
    submitted = IncidentCommand(
        command_id=str(uuid.uuid5(_COMMANDS, use)), service_id=target.service_id, incident_id=target.incident_id,
        action=command, actor=f"push:{target.user_name}", received_at=runtime.now())
    try:
        reply = await runtime.shards.submit(submitted)
    except BatchFailed:
        async with runtime.database.connection() as conn:
            await store.release_action(conn, use)  # not recorded: the same token may be tried again
        raise
    declare(request, Declared(Actor(target.user_id, target.user_name, "push"), "incident", (str(target.incident_id),),
                              command.value))
    said = replies.outcome_text(command, target.incident_id, reply.outcome, reply.status, reply.note)
    return {"incident_id": target.incident_id, "action": action.value, "outcome": reply.outcome,
            "status": reply.status, "message": said}
