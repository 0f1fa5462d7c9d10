"""Liveness and readiness probes."""

from __future__ import annotations

from litestar import get
from litestar.datastructures import State

from hub.db import Database
from hub.errors import ServiceUnavailableError
from hub.schema import OutputStruct


class Health(OutputStruct):
    status: str


@get("/healthz", tags=["system"], summary="The process is up", exclude_from_auth=True)
async def healthz() -> Health:
    return Health(status="ok")


class DatabaseUnavailableError(ServiceUnavailableError):
    code = "database_unavailable"
    default_message = "The database is not reachable right now."


@get("/readyz", tags=["system"], summary="The database is reachable", exclude_from_auth=True)
async def readyz(state: State) -> Health:
    database: Database = state.database
    try:
        await database.ping()
    except Exception as exc:  # any failure to reach the database means not ready
        raise DatabaseUnavailableError() from exc
    return Health(status="ready")
