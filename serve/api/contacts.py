"""How to reach a user (contact methods) and when to use each (notification rules)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Response

from tocsin.actors.domain.masking import SECRET_KINDS, masked
from tocsin.actors.store import users as store
from tocsin.actors.store.database import Database
from tocsin.serve.api.auth import Caller, Role, own_to_change
from tocsin.serve.api.destinations import refuse_internal
from tocsin.serve.api.models import (
    ContactMethodIn,
    ContactMethodList,
    ContactMethodOut,
    ContactMethodPatch,
    NotificationRuleIn,
    NotificationRuleList,
    NotificationRuleOut,
    address_problem,
    changes_of,
)
from tocsin.serve.errors import answering, deleted, found, invalid
from tocsin.serve.runtime import GatewayRuntime, get_database, get_runtime

# Responders manage their own contact methods and rules; admins anyone's.
router = APIRouter(prefix="/api/v1/users/{user_id}", tags=["Users"], dependencies=[Depends(own_to_change)])


@router.post("/contact-methods", status_code=201, response_model=ContactMethodOut)
async def create_contact_method(
    user_id: uuid.UUID, body: ContactMethodIn, caller: Caller = Depends(own_to_change),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """A user has at most `contact_methods_per_user` (20) contact methods: past them, 409."""
    _may_mark_verified(caller, body.verified)
    await refuse_internal(body.kind, body.address, runtime.settings, caller)
    cap = runtime.settings.contact_methods_per_user
    async with runtime.database.connection() as conn, conn.transaction():
        count = found(await store.count_contact_methods(conn, str(user_id)), f"user with id {user_id}")
        if count >= cap:
            raise HTTPException(409, f"user {user_id} already has {count} contact methods, the most a user may"
                                     f" have ({cap}): delete one before adding another")
        return await store.create_contact_method(conn, str(user_id), **body.model_dump())


@router.get("/contact-methods", response_model=ContactMethodList)
async def list_contact_methods(
    user_id: uuid.UUID, caller: Caller = Depends(own_to_change), db: Database = Depends(get_database)
) -> dict[str, Any]:
    """Any role sees how a colleague is reached; a slack, webhook, teams or push address only masked."""
    async with db.connection() as conn:
        await _user_exists(conn, user_id)
        methods = await store.list_contact_methods(conn, str(user_id))
    return {"contact_methods": [shown_to(caller, method) for method in methods]}


@router.patch("/contact-methods/{method_id}", response_model=ContactMethodOut)
async def update_contact_method(
    user_id: uuid.UUID, method_id: uuid.UUID, body: ContactMethodPatch, caller: Caller = Depends(own_to_change),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Change the label, address or verified flag. A new address is unverified unless the
    same request says otherwise, and a code sent to the old one no longer verifies it."""
    _may_mark_verified(caller, body.verified)
    changes = changes_of(body)
    moved = False
    async with runtime.database.connection() as conn:
        method = found(await store.get_contact_method(conn, str(user_id), str(method_id)),
                       method_name(user_id, method_id))
    if "address" in changes:
        _check_address(method["kind"], changes["address"])
        # Resolving may take a while: no database connection is held meanwhile.
        await refuse_internal(method["kind"], changes["address"], runtime.settings, caller)
        moved = changes["address"] != method["address"]
        if moved:
            changes.setdefault("verified", False)
    async with runtime.database.connection() as conn:
        row = await store.update_contact_method(conn, str(user_id), str(method_id), changes, forget_code=moved)
    return found(row, method_name(user_id, method_id))


@router.delete("/contact-methods/{method_id}", status_code=204)
async def delete_contact_method(
    user_id: uuid.UUID, method_id: uuid.UUID, db: Database = Depends(get_database)
) -> Response:
    """Delete the contact method and the notification rules that use it."""
    async with db.connection() as conn:
        done = await store.delete_contact_method(conn, str(user_id), str(method_id))
    return deleted(done, method_name(user_id, method_id))


@router.post("/notification-rules", status_code=201, response_model=NotificationRuleOut)
async def create_rule(
    user_id: uuid.UUID, body: NotificationRuleIn, db: Database = Depends(get_database)
) -> dict[str, Any]:
    duplicate = HTTPException(409, f"the user already has a {body.urgency}-urgency rule for contact method"
                                   f" {body.contact_method_id} after {body.delay_minutes} minutes")
    async with db.connection() as conn:
        await _user_exists(conn, user_id)
        with answering(asyncpg.UniqueViolationError, duplicate):
            row = await store.create_rule(conn, str(user_id), str(body.contact_method_id), body.urgency,
                                          body.delay_minutes)
    if row is None:
        raise invalid(("contact_method_id", f"user {user_id} has no contact method {body.contact_method_id}"))
    return row


@router.get("/notification-rules", response_model=NotificationRuleList)
async def list_rules(user_id: uuid.UUID, db: Database = Depends(get_database)) -> dict[str, Any]:
    """The user's rules, high urgency first, then by delay."""
    async with db.connection() as conn:
        await _user_exists(conn, user_id)
        return {"notification_rules": await store.list_rules(conn, str(user_id))}


@router.delete("/notification-rules/{rule_id}", status_code=204)
async def delete_rule(
    user_id: uuid.UUID, rule_id: uuid.UUID, db: Database = Depends(get_database)
) -> Response:
    async with db.connection() as conn:
        return deleted(await store.delete_rule(conn, str(user_id), str(rule_id)),
                       f"notification rule {rule_id} for user {user_id}")


async def _user_exists(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    found(await store.get_user(conn, str(user_id)), f"user with id {user_id}")


def method_name(user_id: uuid.UUID, method_id: uuid.UUID) -> str:
    return f"contact method {method_id} for user {user_id}"


def _may_mark_verified(caller: Caller, verified: bool | None) -> None:
    """Only an admin vouches for an address; anyone else proves it with a code. Otherwise a
    responder could have another person's phone paged in their name."""
    if verified and not caller.has(Role.ADMIN):
        raise HTTPException(403, "only an admin may mark a contact method verified; send a code with"
                                 " POST …/contact-methods/{id}/verification and type it back with …/verify")


def shown_to(caller: Caller, method: dict[str, Any]) -> dict[str, Any]:
    """The method as `caller` may see it: an address that is a credential in full to its owner
    and admins, masked for anyone else."""
    if method["kind"] not in SECRET_KINDS or caller.may_see_secrets_of(method["user_id"]):
        return method
    return {**method, "address": masked(method["kind"], method["address"])}


def _check_address(kind: str, address: str) -> None:
    problem = address_problem(kind, address)
    if problem:
        raise invalid(("address", problem))
