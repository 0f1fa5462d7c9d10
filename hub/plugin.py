"""Wiring: error rendering, dependency providers, the database and keyring lifespan."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.clock import Clock
from hub.crypto import Keyring
from hub.db import Database
from hub.errors import HubError
from hub.flow.service import FlowService
from hub.scope import Scope

log = logging.getLogger("hub.http")


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str
    details: dict[str, Any]


class ErrorEnvelope(msgspec.Struct, frozen=True):
    error: ErrorBody


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorEnvelope]:
    return Response(
        ErrorEnvelope(error=ErrorBody(code=code, message=message, details=details or {})),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def handle_hub_error(_request: Request[Any, Any, Any], exc: HubError) -> Response[ErrorEnvelope]:
    if exc.status_code >= 500:
        log.error("request failed: %s", exc.code, exc_info=exc)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers())


_PATH_IN_MESSAGE = re.compile(r" - at `\$(?P<path>[^`]*)`")


def _field_errors(extra: Any) -> list[dict[str, str]]:
    """Litestar's validation extras → [{field, message, source}], with the body path msgspec gives."""
    errors: list[dict[str, str]] = []
    for item in extra if isinstance(extra, list) else []:
        message = str(item.get("message", "invalid value"))
        field = str(item.get("key", ""))
        match = _PATH_IN_MESSAGE.search(message)
        if match:
            message = message[: match.start()]
            field = match.group("path").lstrip(".") or field
        if field == "data":
            field = "body"
            if message == "'data'":  # Litestar's KeyError text when there is no body at all
                message = "a JSON body is required"
        errors.append({"field": field, "message": message, "source": str(item.get("source", "body"))})
    return errors


_STATUS_CODES = {
    400: ("validation_failed", 422),
    401: ("unauthenticated", 401),
    403: ("forbidden", 403),
    404: ("not_found", 404),
    405: ("method_not_allowed", 405),
    413: ("payload_too_large", 413),
    415: ("unsupported_media_type", 415),
    429: ("rate_limited", 429),
}


def handle_http_exception(_request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorEnvelope]:
    if isinstance(exc, ValidationException) or exc.status_code == 400:
        errors = _field_errors(exc.extra)
        if errors:
            first = errors[0]
            message = f"{first['field'] or 'the request'}: {first['message']}"
            return error_response(
                422, "validation_failed", message, {"field": first["field"], "errors": errors}
            )
        detail = exc.detail or "The request is not valid"
        malformed = isinstance(exc.__cause__, SerializationException)  # msgspec could not decode the body
        if malformed or "JSON" in detail or "decode" in detail.lower() or "Malformed" in detail:
            detail = "The body is not valid JSON."
        return error_response(422, "validation_failed", detail, {"field": "body"})
    code, status = _STATUS_CODES.get(exc.status_code, ("internal", exc.status_code))
    if status >= 500:
        log.error("request failed with HTTP %s", status, exc_info=exc)
        return error_response(status, "internal", "Something went wrong on our side; try again.")
    message = {
        404: "Nothing here: check the path and the id.",
        405: "This path does not take that method.",
        413: "The request body is too large.",
    }.get(status, exc.detail)
    return error_response(status, code, message, headers=dict(exc.headers or {}))


def handle_database_down(_request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    log.error("database unavailable: %s", type(exc).__name__)
    return error_response(
        503,
        "database_unavailable",
        "The database is not reachable right now; try again shortly.",
        headers={"Retry-After": "2"},
    )


# SQLSTATE classes that mean "the server cannot take this now": connection exception, insufficient
# resources, operator intervention (shutting down, starting up: asyncpg's CannotConnectNowError)
_UNAVAILABLE_SQLSTATES = ("08", "53", "57")


def _database_unreachable(exc: Exception) -> bool:
    if isinstance(exc, (OperationalError, PoolTimeoutError, OSError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    return _sqlstate(exc)[:2] in _UNAVAILABLE_SQLSTATES


def _sqlstate(exc: DBAPIError) -> str:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else ""


def handle_unexpected(_request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    if _database_unreachable(exc):
        return handle_database_down(_request, exc)
    if isinstance(exc, DBAPIError) and _sqlstate(exc).startswith("22"):
        # SQLSTATE class 22, data exception: a value the input checks let through (a NUL character in
        # text, a number past BIGINT) that the database refuses; the client's input, not our failure
        log.warning("a value was refused by the database: SQLSTATE %s", _sqlstate(exc))
        return error_response(
            422,
            "validation_failed",
            "A value in the request cannot be stored (a NUL character in text, or a number out of range).",
            {"field": "body"},
        )
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "internal", HubError.default_message)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    HubError: handle_hub_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


# ---- dependency providers ----


async def provide_session(state: State) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed before the response is sent, rolled back on any error."""
    database: Database = state.database
    async with database.transaction() as session:
        yield session


def provide_keyring(state: State) -> Keyring:
    keyring: Keyring = state.keyring
    return keyring


def provide_clock(state: State) -> Clock:
    clock: Clock = state.clock
    return clock


def provide_database(state: State) -> Database:
    database: Database = state.database
    return database


def provide_flow(state: State) -> FlowService:
    flow: FlowService = state.flow
    return flow


def provide_scope(request: Request[Scope, Any, Any]) -> Scope:
    return request.user
