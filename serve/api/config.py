"""Configuration as code: `POST /api/v1/config/plan`, `POST /api/v1/config/apply`, `GET /api/v1/config/export`.

For global admins only (the file may name any object, users' roles included); the schema, for
any role. A document with
errors is refused whole: 422 with `errors`, every problem as "path in the file: what is wrong". An apply plans and
writes in one transaction, under a lock that makes concurrent applies take turns: it changes
all it planned or nothing. The document itself is actors/domain/config/document.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tocsin.actors.domain.accounts.access import Caller
from tocsin.actors.domain.config.check import check
from tocsin.actors.domain.config.document import Document, document_data
from tocsin.actors.domain.config.plan import Plan, plan
from tocsin.actors.store.config_apply import apply
from tocsin.actors.store.config_read import read_document
from tocsin.serve.api.auth import authenticate, require_admin
from tocsin.serve.api.models import address_problem
from tocsin.serve.errors import invalid
from tocsin.serve.runtime import GatewayRuntime, get_runtime

DOCUMENT: TypeAdapter[Document] = TypeAdapter(Document)

router = APIRouter(prefix="/api/v1/config", tags=["Configuration as code"])


def document_schema() -> dict[str, Any]:
    """The JSON Schema of the configuration file, for editors."""
    schema: dict[str, Any] = DOCUMENT.json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "Tocsin configuration"}


class ConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: dict[str, Any] = Field(description="The configuration file's content, as JSON")
    prune: bool = Field(False, description="Delete the objects the document leaves out")


class FieldChangeOut(BaseModel):
    path: str
    old: Any = Field(description="null when the value is added; keys show as (secret)")
    new: Any = Field(description="null when the value is removed")


class ChangeOut(BaseModel):
    action: str = Field(description="create, update or delete")
    kind: str
    name: str
    fields: list[FieldChangeOut]


class PlanOut(BaseModel):
    changes: list[ChangeOut]
    create: int
    update: int
    delete: int


class ExportOut(BaseModel):
    document: dict[str, Any]


def _path(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def parsed(data: Any) -> Document:
    """The document, or a 422 listing every problem of its shape with its path."""
    try:
        document = DOCUMENT.validate_python(data)
    except ValidationError as exc:
        raise invalid(*[(_path(e["loc"]), e["msg"]) for e in exc.errors()]) from None
    return document


def _addresses(document: Document) -> list[tuple[str, str]]:
    return [(f"users[{i}].contact_methods[{j}].address", problem)
            for i, user in enumerate(document.users) for j, method in enumerate(user.contact_methods or ())
            if (problem := address_problem(method.kind, method.address))]


async def _planned(conn: asyncpg.Connection, body: ConfigIn, caller: Caller) -> tuple[Document, Plan]:
    desired = parsed(body.document)
    current = await read_document(conn)
    problems = [(p.path, p.message) for p in check(desired, current, body.prune)] + _addresses(desired)
    if problems:
        raise invalid(*problems)
    spared = await conn.fetchval("SELECT lower(email) FROM users WHERE id = $1::uuid", caller.user_id) \
        if caller.user_id else None
    return desired, plan(desired, current, body.prune, spared=[spared] if spared else [])


def _shown(result: Plan) -> dict[str, Any]:
    return {
        "changes": [{"action": c.action, "kind": c.kind, "name": c.name,
                     "fields": [{"path": f.path, "old": f.old, "new": f.new} for f in c.fields]}
                    for c in result.changes],
        **{action: result.count(action) for action in ("create", "update", "delete")},
    }


@router.post("/plan", response_model=PlanOut)
async def plan_config(body: ConfigIn, runtime: GatewayRuntime = Depends(get_runtime),
                      caller: Caller = Depends(require_admin)) -> dict[str, Any]:
    """What applying the document would create, change and delete, field by field; changes nothing."""
    async with runtime.database.connection() as conn:
        _, result = await _planned(conn, body, caller)
    return _shown(result)


@router.post("/apply", response_model=PlanOut)
async def apply_config(body: ConfigIn, runtime: GatewayRuntime = Depends(get_runtime),
                       caller: Caller = Depends(require_admin)) -> dict[str, Any]:
    """Apply the document in one transaction (all or nothing); the answer is the plan it carried out."""
    async with runtime.database.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('tocsin config apply'))")
        desired, result = await _planned(conn, body, caller)
        try:
            touched = await apply(conn, desired, result, caller.name)
        except asyncpg.UniqueViolationError as exc:
            raise HTTPException(409, f"the document clashes with the deployment: {exc.detail or exc}") from None
    runtime.forget_keys(*touched)
    return _shown(result)


@router.get("/export", response_model=ExportOut)
async def export_config(runtime: GatewayRuntime = Depends(get_runtime),
                        caller: Caller = Depends(require_admin)) -> dict[str, Any]:
    """The deployment's configuration as a document, keys included (they are secrets: keep it so)."""
    async with runtime.database.connection() as conn:
        document = await read_document(conn)
    return {"document": document_data(document)}


@router.get("/schema", dependencies=[Depends(authenticate)])
async def config_schema() -> dict[str, Any]:
    """The JSON Schema of the configuration file."""
    return document_schema()
