"""What every source format shares: reading the body, finding the integration
by its key (a router integration's too, on the routes of its format), the integration's rate
limit, and handing alerts to the shards through the routing rules (serve/ingest/ruling.py).

Each format answers refusals in its own shape (PagerDuty's, Opsgenie's, Tocsin's), so the
helpers raise `Refusal` and the format renders it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from tocsin.actors.batcher import BatchFailed
from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import ServiceInput
from tocsin.actors.domain.incident import Outcome
from tocsin.actors.routing_keys import MalformedKey, TooManyUnknownKeys
from tocsin.actors.rulebook import router_format
from tocsin.actors.store.services import ROUTING_KEY_ALPHABET, ROUTING_KEY_LENGTH, IntegrationKey
from tocsin.serve.errors import RETRY_AFTER_S, json_response
from tocsin.serve.ingest.ruling import ROUTER, RulesUnavailable, submit_ruled
from tocsin.serve.runtime import GatewayRuntime


class Refusal(Exception):
    """An answer other than 2xx: the status, a message, and what exactly was wrong."""

    def __init__(self, status: int, message: str, errors: list[str], headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.errors, self.headers = status, message, errors, headers

    def response(self) -> Response:
        """Tocsin's own shape, for the formats that have none of their own."""
        return json_response(self.status, {"error": _reason(self.status), "message": self.message,
                                           "errors": self.errors}, self.headers)


NOT_DURABLE = Refusal(503, "The alert could not be made durable; retry", ["unavailable"],
                      {"Retry-After": str(RETRY_AFTER_S)})


class NotStored(Refusal):
    """Inputs the shards refused, the database refusing a value they hold; the request's
    other inputs are durable. `problems`: (where, what), where being the field at fault,
    after the input's position ("[2] labels.instance") when the request had several."""

    def __init__(self, problems: list[tuple[str, str]], refused: int, total: int) -> None:
        errors = [f"{where}: {what}" if where else what for where, what in problems]
        scope = f"{refused} of {total} alerts not stored (the others are)" if total > 1 else "Not stored"
        super().__init__(400, f"{scope}: {'; '.join(errors[:5])}", errors)
        self.problems = problems


def not_stored(replies: Sequence[Reply]) -> NotStored | None:
    """A refusal naming each input the shards answered `invalid`, by its fields; None when
    there is none."""
    problems: list[tuple[str, str]] = []
    refused = [(position, reply) for position, reply in enumerate(replies) if reply.outcome == Outcome.INVALID.value]
    for position, reply in refused:
        prefix = f"[{position}]" if len(replies) > 1 else ""
        what = reply.note or "the database refused it"
        problems += [(f"{prefix} {field}".strip(), what) for field in reply.fields] or [(prefix, what)]
    return NotStored(problems, len(refused), len(replies)) if refused else None


class IntegrationConfig(BaseModel):
    """Options every integration may have; each type's config model extends it."""

    model_config = ConfigDict(extra="forbid")
    rate_limit_per_s: float | None = Field(None, gt=0, description="this integration's own limit (events/s)")
    rate_limit_burst: int | None = Field(None, ge=1)


async def read_body(request: Request, content_types: tuple[str, ...] = ("application/json",)) -> bytes:
    """The body, refused when its type is not one of `content_types`. Its size is kept
    within the route's limit before the route is called (serve/body_limit.py)."""
    content_type = request.headers.get("content-type", "")
    if content_types and content_type.split(";")[0].strip().lower() not in content_types:
        raise Refusal(415, f"Content-Type must be {' or '.join(content_types)}",
                      [f"unsupported Content-Type {content_type or '(none)'!r}"])
    return await request.body()


def too_large(max_bytes: int) -> Refusal:
    """The refusal of a body over `max_bytes`."""
    return Refusal(413, f"Request body too large: at most {max_bytes} bytes here",
                   [f"the body is over {max_bytes} bytes"])


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Refusal(400, "The body is not valid JSON", ["the body is not valid JSON"]) from None


async def integration_for(
    key: str, request: Request, runtime: GatewayRuntime, types: tuple[str, ...], what: str = "key"
) -> IntegrationKey:
    """The live integration with this key, of one of these types or a router taking one of
    them (as `as_source` gives it), within its rate limit."""
    if not key:
        raise Refusal(401, f"no integration has this {what}", [f"{what}: unknown"])
    integration = runtime.keys.known(key) or await find_integration(key, request, runtime, what)
    if integration is None:
        raise Refusal(404, f"no integration has this {what}", [f"{what}: unknown"])
    if integration.revoked:
        raise Refusal(403, f"this integration {what} has been revoked", [f"{what}: revoked"])
    if source_type(integration) not in types:
        raise Refusal(400, f"this {what} belongs to {described(integration)}, not {' or '.join(types)}",
                      [f"{what}: wrong integration type"])
    check_rate(integration, runtime)
    return as_source(integration)


def source_type(integration: IntegrationKey) -> str:
    """The format of what the integration's source sends: its type, or a router's format."""
    return router_format(integration.config) if integration.type == ROUTER else integration.type


def described(integration: IntegrationKey) -> str:
    """The integration's kind in a refusal: "a generic integration", "a router integration taking pagerduty"."""
    if integration.type == ROUTER:
        return f"a router integration taking {source_type(integration)}"
    return f"a {integration.type} integration"


def as_source(integration: IntegrationKey) -> IntegrationKey:
    """The integration as its format reads what it sends: a router's options are its format
    and catch-all, which its routes hold (actors/rulebook.py), so its alerts are read with the
    format's default options."""
    return replace(integration, config={}) if integration.type == ROUTER and integration.config else integration


async def find_integration(key: str, request: Request, runtime: GatewayRuntime, what: str = "key"
                           ) -> IntegrationKey | None:
    """The key's integration, None when nobody has it (actors/routing_keys.py). A malformed key is a
    404 as an unknown one is, saying why; too many unknown keys from the client's address,
    429 with Retry-After. Both without a lookup."""
    try:
        return await find_key(key, request, runtime)
    except MalformedKey:
        raise Refusal(404, not_a_key(what), [f"{what}: malformed"]) from None
    except TooManyUnknownKeys as exc:
        raise too_many_unknown_keys(what, exc.retry_after_s) from None


async def find_key(key: str, request: Request, runtime: GatewayRuntime) -> IntegrationKey | None:
    """`KeyGate.find` for this request's client: raises MalformedKey and TooManyUnknownKeys.
    Callers try `runtime.keys.known(key)` first, which costs less than this call."""
    return await runtime.key_gate.find(key, lambda: runtime.client_address(request))


def not_a_key(what: str) -> str:
    return f"this is not an integration {what}: a {what} is {ROUTING_KEY_LENGTH} characters of {ROUTING_KEY_ALPHABET}"


def too_many_unknown_keys(what: str, retry_after_s: int) -> Refusal:
    return Refusal(429, f"too many unknown {what}s from this address; retry in {retry_after_s} s",
                   [f"{what}: too many unknown keys"], {"Retry-After": str(retry_after_s)})


def check_rate(integration: IntegrationKey, runtime: GatewayRuntime) -> None:
    """Limited per integration, after the lookup: made-up keys get no bucket to grow on."""
    options = integration.config
    wait = runtime.limiter.take(integration.integration_id, options.get("rate_limit_per_s"),
                                options.get("rate_limit_burst"))
    if wait is not None:
        raise Refusal(429, "Rate limit reached for this integration", ["too many events"],
                      {"Retry-After": str(max(1, round(wait)))})


async def submit(runtime: GatewayRuntime, inputs: list[ServiceInput], integration: IntegrationKey,
                 payloads: Sequence[Mapping[str, Any]] | None = None) -> list[Reply]:
    """The inputs of one request from `integration`, through the routing rules, as one batch
    per shard; durable (an alert the rules dropped answered DROPPED), or a 503 Refusal, or
    NotStored naming the inputs the database refused (the others being durable). `payloads`:
    each alert event's payload as JSON values, when the format has them (`Ruling.ruled`)."""
    if not inputs:
        return []
    try:
        ruled = await runtime.ruling.ruled(inputs, integration, runtime.now(), payloads)
        replies = await submit_ruled(runtime.shards, ruled)
    except BatchFailed:
        raise NOT_DURABLE from None
    except RulesUnavailable as exc:
        raise Refusal(503, f"{exc}; retry", ["unavailable"], {"Retry-After": str(RETRY_AFTER_S)}) from None
    refused = not_stored(replies)
    if refused is not None:
        raise refused
    return replies


def _reason(status: int) -> str:
    return {400: "bad request", 401: "unauthorized", 403: "forbidden", 404: "not found", 413: "payload too large",
            415: "unsupported media type", 422: "invalid request", 429: "too many requests",
            503: "unavailable"}.get(status, "error")


def body_schema(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    """The `openapi_extra` that documents a route's JSON body by `model`. Ingestion reads its
    bodies itself, to answer in each source's own shape, so FastAPI cannot infer them."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": _inline(schema)}}}}


def _inline(schema: Any, defs: dict[str, Any] | None = None) -> Any:
    """The schema with its `$defs` written in place, so it stands alone in the OpenAPI page."""
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    defs = schema.get("$defs", defs) or {}
    if "$ref" in schema:
        return _inline(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    return {key: _inline(value, defs) for key, value in schema.items() if key != "$defs"}
