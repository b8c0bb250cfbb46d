"""What the OpenAPI document says an operation may answer besides its success.

FastAPI documents an operation's success and, for a validated body, a 422 in its own shape,
which Tocsin never answers. Every refusal Tocsin does answer is in Tocsin's own shape
(`{"error", "message", "errors"?}`, serve/errors.py) but on the routes of a source format
that answers in its source's shape (PagerDuty's on its Events API routes, Opsgenie's on its
Alert API routes), which the format declares (serve/ingest/formats.py). This fills in, for
every operation, the refusals it can meet, each in the shape of its route, so that a client
(or a fuzzer) reading the document knows every answer it may get: 400, 401, 403, 404, 409,
413, 415, 422, 429 and 503, the last two with Retry-After.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    """Tocsin's refusal: a short reason, a message that says what is wrong, and, where there
    are several problems, each of them."""

    error: str = Field(description="the status in words, e.g. `not found`")
    message: str
    errors: list[str] | None = None


class PagerDutyErrorOut(BaseModel):
    """A refusal on PagerDuty's Events API routes, in PagerDuty's shape."""

    status: str = Field(description="`invalid event` for 400, else `error`")
    message: str
    errors: list[str] = []


class OpsgenieErrorOut(BaseModel):
    """A refusal on Opsgenie's Alert API routes, in Opsgenie's shape: a 422 names each field."""

    message: str
    took: float
    requestId: str  # noqa: N815 - Opsgenie's name
    errors: dict[str, str] | None = None


Shapes = Sequence[tuple[str, type[BaseModel]]]
"""Path prefixes and the refusal shape of the routes under each; Tocsin's own elsewhere."""

_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                                "schema": {"type": "integer"}}}

# (status, what it means, which operations meet it)
_REFUSALS: list[tuple[int, str, str]] = [
    (400, "the request cannot be read, or names something that cannot exist", "all"),
    (401, "no valid credentials", "all"),
    (403, "credentials valid, but not for this", "all"),
    (404, "nothing has this id or key", "all"),
    (409, "refused by the state of what it changes", "changes"),
    (413, "the body is past this route's limit; it was not read", "all"),
    (415, "the body is not of a type this route reads", "changes"),
    (422, "a field is missing or wrong; the message names it", "all"),
    (429, "too many requests; see Retry-After", "all"),
    (503, "cannot be made durable just now (the database or a shard is away); see Retry-After", "all"),
]
_CHANGES = {"post", "put", "patch", "delete"}


def document_refusals(app: FastAPI, shapes: Shapes) -> None:
    """Have `app`'s OpenAPI document name every refusal of every operation, in its shape."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_refusals(build(), shapes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_refusals(document: dict[str, Any], shapes: Shapes) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    models: list[type[BaseModel]] = [ErrorOut, *(model for _, model in shapes)]
    for model in dict.fromkeys(models):
        schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for schema_name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, never answered
        schemas.pop(schema_name, None)
    for path, operations in document.get("paths", {}).items():
        shape = _shape_of(path, shapes)
        for method, operation in operations.items():
            if method in _CHANGES | {"get", "head", "options"}:
                _add_refusals(operation, shape, method in _CHANGES)
    return document


def _shape_of(path: str, shapes: Shapes) -> str:
    for prefix, model in shapes:
        if path == prefix or path.startswith(prefix + "/"):
            return model.__name__
    return ErrorOut.__name__


def _add_refusals(operation: dict[str, Any], shape: str, changes: bool) -> None:
    responses = operation.setdefault("responses", {})
    for status, description, which in _REFUSALS:
        if which == "changes" and not changes:
            continue
        documented = responses.get(str(status), {})
        answer: dict[str, Any] = {
            "description": documented.get("description") or description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{shape}"}}},
        }
        if status in (429, 503):
            answer["headers"] = _RETRY_AFTER
        responses[str(status)] = answer
