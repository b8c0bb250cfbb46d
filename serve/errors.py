"""Error answers: every refusal says what is wrong; an outage says when to come back."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tocsin.actors.batcher import BatchFailed
from tocsin.actors.store.database import DATA_ERRORS, UNAVAILABLE

log = logging.getLogger(__name__)

RETRY_AFTER_S = 2

T = TypeVar("T")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def describe(errors: Sequence[Any]) -> list[str]:
    """Pydantic errors as short sentences naming the field: "payload.severity: Input should be …"."""
    out = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        out.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return out


def invalid(*problems: tuple[str, str]) -> RequestValidationError:
    """A 422 shaped like pydantic's, for what only the database can check: (field, message) pairs."""
    return RequestValidationError([{"loc": ("body", field), "msg": message} for field, message in problems])


def found(row: T | None, what: str) -> T:
    """`row`, or a 404 saying there is "no <what>"."""
    if row is None:
        raise StarletteHTTPException(404, f"no {what}")
    return row


def deleted(done: bool, what: str) -> Response:
    """204 when the row was deleted, else a 404 saying there is "no <what>"."""
    if not done:
        raise StarletteHTTPException(404, f"no {what}")
    return Response(status_code=204)


@contextmanager
def answering(error: type[BaseException], answer: Exception) -> Iterator[None]:
    """Answer `answer` when the block raises `error`: a constraint the database keeps."""
    try:
        yield
    except error as exc:
        raise answer from exc


def unusable(exc: Exception) -> str:
    """What to tell the sender of a value that raised one of DATA_ERRORS."""
    return f"the request holds a value that cannot be used: {exc}"


def unavailable(message: str) -> Response:
    return json_response(503, {"error": "unavailable", "message": message}, {"Retry-After": str(RETRY_AFTER_S)})


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    @app.exception_handler(ValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError | ValidationError) -> Response:
        errors = describe(exc.errors())
        return json_response(422, {"error": "invalid request", "message": "; ".join(errors), "errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers) if exc.headers else None
        return json_response(exc.status_code, {"error": _reason(exc.status_code), "message": str(exc.detail)}, headers)

    @app.exception_handler(BatchFailed)
    async def not_durable(request: Request, exc: BatchFailed) -> Response:
        return unavailable("the change could not be made durable just now; retry")

    async def unusable_value(request: Request, exc: Exception) -> Response:
        return json_response(400, {"error": "bad request", "message": unusable(exc)})

    async def database_down(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %r", exc)
        return unavailable("the database is unavailable; retry")

    # Starlette picks the handler of the nearest class in the error's MRO: a refused value,
    # although one of UNAVAILABLE too, answers 400.
    for error in UNAVAILABLE:
        app.add_exception_handler(error, database_down)
    for error in DATA_ERRORS:
        app.add_exception_handler(error, unusable_value)


def _reason(status: int) -> str:
    return {
        400: "bad request", 401: "unauthorized", 403: "forbidden", 404: "not found",
        405: "method not allowed", 409: "conflict", 410: "gone", 413: "payload too large",
        415: "unsupported media type", 429: "too many requests",
    }.get(status, "error")
