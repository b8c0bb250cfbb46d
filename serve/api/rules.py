"""Routing rules: a service's rules, a router integration's routes and the inhibit rules, each
an ordered set; any role reads them, admins change them: a service's rules and a router's
routes are its team's, changed by that team's admins and global admins; the inhibit rules,
which hold back alerts of every team, by global admins only.

A rule is checked when it is saved by compiling its whole set with it in place (the core,
actors/domain/rules), so every problem of the rule, and of the set it makes (RE2 refusing the
set of a field's patterns), is answered at once: a 422 naming each with its path inside the
rule ("conditions.all[1].op: …"). A router rule must send to a service that exists. Every
saved version is kept, a deletion included.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Query, Response
from fastapi.exceptions import RequestValidationError

from tocsin.actors.domain.accounts.access import Action, Caller
from tocsin.actors.domain.rules import RuleErrors, compile_inhibit_rules, compile_service_rules
from tocsin.actors.rulebook import compile_router
from tocsin.actors.store import rules as store
from tocsin.actors.store import services as service_store
from tocsin.actors.store.database import Database
from tocsin.actors.store.rules import Kind
from tocsin.serve.api.auth import admin_somewhere_to_change
from tocsin.serve.api.ownership import guard, permit
from tocsin.serve.api.rule_models import (
    SPEC_PARTS,
    RuleFields,
    RuleIn,
    RuleList,
    RuleOrderIn,
    RuleOut,
    RuleSetIn,
    RuleVersionList,
)
from tocsin.serve.errors import found, invalid
from tocsin.serve.runtime import GatewayRuntime, get_database, get_runtime

router = APIRouter(prefix="/api/v1/rules", tags=["Routing rules"],
                   dependencies=[Depends(admin_somewhere_to_change), Depends(guard("rule", "rule_id"))])

WHERE = "rules"  # where the core names a set's rules in its problems: rules[2].conditions…


@router.get("", response_model=RuleList)
async def list_rules(
    kind: Kind,
    service_id: uuid.UUID | None = Query(None, description="kind service: the service"),
    integration_id: uuid.UUID | None = Query(None, description="kind router: the router integration"),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """One set's rules, in order; a router's catch-all with them."""
    async with runtime.database.connection() as conn:
        owner, integration = await _set_of(conn, RuleSetIn(kind=kind, service_id=service_id,
                                                           integration_id=integration_id), query=True)
        return await _listed(conn, kind, owner, integration, runtime)


@router.post("", status_code=201, response_model=RuleOut)
async def create_rule(body: RuleIn, runtime: GatewayRuntime = Depends(get_runtime),
                      caller: Caller = Depends(admin_somewhere_to_change)) -> dict[str, Any]:
    """Appended to its set, or put at `position` (the rules from there on move down one)."""
    rule_id = str(uuid.uuid4())
    spec = body.spec(rule_id)
    async with runtime.database.connection() as conn, conn.transaction():
        owner, integration = await _set_of(conn, body, caller=caller)
        await store.lock_set(conn, body.kind, owner)
        specs = [rule["spec"] for rule in await store.list_rules(conn, body.kind, owner)]
        position = len(specs) if body.position is None else min(body.position, len(specs))
        specs.insert(position, spec)
        await _check(conn, body.kind, specs, position, integration)
        rule = await store.insert_rule(conn, rule_id, body.kind, owner, position, spec, caller.name)
    return _out(rule)


@router.get("/{rule_id}", response_model=RuleOut)
async def get_rule(rule_id: uuid.UUID, runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    async with runtime.database.connection() as conn:
        rule = found(await store.get_rule(conn, str(rule_id)), f"rule with id {rule_id}")
        counts = await store.match_counts(conn, [rule["id"]], runtime.now())
    return _out(rule, counts)


@router.put("/{rule_id}", response_model=RuleOut)
async def replace_rule(rule_id: uuid.UUID, body: RuleFields, runtime: GatewayRuntime = Depends(get_runtime),
                       caller: Caller = Depends(admin_somewhere_to_change)) -> dict[str, Any]:
    """A new version of the rule (its set and id stay); moved when `position` is given."""
    spec = body.spec(str(rule_id))
    async with runtime.database.connection() as conn, conn.transaction():
        rule = await _locked_rule(conn, str(rule_id))
        kind, owner = rule["kind"], store.owner_of(rule)
        specs = [other["spec"] for other in await store.list_rules(conn, kind, owner) if other["id"] != rule["id"]]
        position = rule["position"] if body.position is None else min(body.position, len(specs))
        specs.insert(position, spec)
        integration = await service_store.get_router_integration(conn, owner) if kind == "router" and owner \
            else None
        await _check(conn, kind, specs, position, integration)
        moved_to = None if body.position is None else position
        replaced = found(await store.replace_rule(conn, rule["id"], spec, caller.name, moved_to),
                         f"rule with id {rule_id}")
        counts = await store.match_counts(conn, [rule["id"]], runtime.now())
    return _out(replaced, counts)


@router.delete("/{rule_id}", status_code=204)
async def delete_rule(rule_id: uuid.UUID, db: Database = Depends(get_database),
                      caller: Caller = Depends(admin_somewhere_to_change)) -> Response:
    """Deleted, its last version kept as a deleted one; the rules after it move up one."""
    async with db.connection() as conn, conn.transaction():
        rule = await _locked_rule(conn, str(rule_id))
        await store.delete_rule(conn, rule, caller.name)
    return Response(status_code=204)


@router.post("/order", response_model=RuleList)
async def order_rules(body: RuleOrderIn, runtime: GatewayRuntime = Depends(get_runtime),
                      caller: Caller = Depends(admin_somewhere_to_change)) -> dict[str, Any]:
    """Put a set's rules in the order of `ids`, which names each of them once."""
    ids = [str(rule_id) for rule_id in body.ids]
    async with runtime.database.connection() as conn:
        async with conn.transaction():
            owner, integration = await _set_of(conn, body, caller=caller)
            await store.lock_set(conn, body.kind, owner)
            _check_order(ids, [rule["id"] for rule in await store.list_rules(conn, body.kind, owner)])
            await store.set_order(conn, ids)
        return await _listed(conn, body.kind, owner, integration, runtime)


@router.get("/{rule_id}/versions", response_model=RuleVersionList)
async def rule_versions(rule_id: uuid.UUID, db: Database = Depends(get_database)) -> dict[str, Any]:
    """Every saved version, a deleted rule's too."""
    async with db.connection() as conn:
        versions = await store.versions(conn, str(rule_id))
    return {"versions": found(versions or None, f"rule with id {rule_id}")}


# -- the set a rule belongs to ---------------------------------------------------------------------

async def _set_of(conn: asyncpg.Connection, chosen: RuleSetIn, query: bool = False, caller: Caller | None = None
                  ) -> tuple[str | None, dict[str, Any] | None]:
    """The owner of the set `chosen` names, once it exists (404 otherwise), and the router
    integration when it is a router's; 422 when the owner given does not fit the kind. With
    `caller`, 403 unless they may change the set (manage its team)."""
    named = {"service_id": chosen.service_id, "integration_id": chosen.integration_id}
    needed = {"service": "service_id", "router": "integration_id", "inhibit": None}[chosen.kind]
    wrong = [(name, f"is not for {chosen.kind} rules") for name, value in named.items()
             if value is not None and name != needed]
    if needed is not None and named[needed] is None:
        wrong.append((needed, f"is required for {chosen.kind} rules"))
    if wrong:
        raise _invalid_query(wrong) if query else invalid(*wrong)
    owner, integration, team = None, None, None
    if chosen.kind == "service":
        service = found(await service_store.get_service(conn, str(chosen.service_id)),
                        f"service with id {chosen.service_id}")
        owner, team = str(chosen.service_id), service["team_id"]
    elif chosen.kind == "router":
        integration = found(await service_store.get_router_integration(conn, str(chosen.integration_id)),
                            f"router integration with id {chosen.integration_id}")
        owner, team = str(chosen.integration_id), integration["team_id"]
    if caller is not None:
        permit(caller, Action.MANAGE, team, f"the {chosen.kind} rules" + (f" of {owner}" if owner else ""))
    return owner, integration


def _invalid_query(problems: list[tuple[str, str]]) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", name), "msg": message} for name, message in problems])


async def _locked_rule(conn: asyncpg.Connection, rule_id: str) -> dict[str, Any]:
    """The rule, its set held until the transaction ends (404 when there is no such rule)."""
    rule = found(await store.get_rule(conn, rule_id), f"rule with id {rule_id}")
    await store.lock_set(conn, rule["kind"], store.owner_of(rule))
    return found(await store.get_rule(conn, rule_id), f"rule with id {rule_id}")  # as of the lock


async def _listed(conn: asyncpg.Connection, kind: Kind, owner: str | None, integration: Mapping[str, Any] | None,
                  runtime: GatewayRuntime) -> dict[str, Any]:
    rules = await store.list_rules(conn, kind, owner)
    counts = await store.match_counts(conn, [rule["id"] for rule in rules], runtime.now())
    return {"rules": [_out(rule, counts) for rule in rules],
            "catch_all": integration["config"].get("catch_all") if integration else None}


def _check_order(ids: Sequence[str], current: Sequence[str]) -> None:
    problems = [("ids", f"names {rule_id} twice") for rule_id in sorted({i for i in ids if ids.count(i) > 1})]
    problems += [("ids", f"names {rule_id}, which is no rule of this set") for rule_id in ids if rule_id not in current]
    problems += [("ids", f"leaves out {rule_id}") for rule_id in current if rule_id not in ids]
    if problems:
        raise invalid(*problems)


# -- checking a set ------------------------------------------------------------------------------------

async def _check(conn: asyncpg.Connection, kind: Kind, specs: list[dict[str, Any]], position: int,
                 integration: Mapping[str, Any] | None) -> None:
    """The set `specs` compiles (422 naming every problem, those of the rule at `position`
    by their path inside it), and a router rule there sends to a service that exists."""
    try:
        orjson.dumps(specs[position])
    except orjson.JSONEncodeError as exc:
        raise invalid(("", f"the rule cannot be stored: {exc}")) from None
    try:
        if kind == "service":
            compile_service_rules(specs, WHERE)
        elif kind == "router":
            compile_router(integration["id"] if integration else "", integration["config"] if integration else {},
                           specs)
        else:
            compile_inhibit_rules(specs, WHERE)
    except RuleErrors as exc:
        raise invalid(*((_within(problem.path, position), problem.message) for problem in exc.problems)) from None
    if kind == "router":
        await check_service(conn, specs[position]["route_to"], "route_to")


async def check_service(conn: asyncpg.Connection, service_id: str, where: str) -> None:
    """422 naming `where` unless `service_id` is the id of a service."""
    try:
        known = bool(await service_store.urgencies(conn, [str(uuid.UUID(service_id))]))
    except ValueError:
        known = False
    if not known:
        raise invalid((where, f"no service has the id {service_id}"))


def _within(path: str, position: int) -> str:
    """A problem's path inside the rule at `position` when it is that rule's; else as the core said."""
    rule = f"{WHERE}[{position}]"
    if path == rule:
        return ""
    return path.removeprefix(rule + ".") if path.startswith(rule + ".") else path


def _out(rule: Mapping[str, Any], counts: Mapping[str, tuple[int, int]] | None = None) -> dict[str, Any]:
    spec = rule["spec"]
    hour, day = (counts or {}).get(rule["id"], (0, 0))
    return {
        "id": rule["id"], "kind": rule["kind"], "service_id": rule["service_id"],
        "integration_id": rule["integration_id"], "position": rule["position"], "name": spec.get("name", ""),
        "enabled": spec.get("enabled", True), **{part: spec.get(part) for part in SPEC_PARTS},
        "version": rule["version"], "updated_at": rule["updated_at"], "updated_by": rule["updated_by"],
        "matches": {"last_hour": hour, "last_day": day},
    }
