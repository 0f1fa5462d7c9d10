"""GET /metrics: Prometheus text; open when HUB_METRICS_PUBLIC=1 or in development, else an admin key."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST

from hub.auth import authenticate, bearer_token
from hub.config import Settings
from hub.db import Database
from hub.errors import ForbiddenError, UnauthenticatedError
from hub.telemetry import scrape


async def require_admin(state: State, authorization: str | None) -> None:
    token = bearer_token(authorization)
    if token is None:
        raise UnauthenticatedError("/metrics needs an admin key here (or HUB_METRICS_PUBLIC=1).")
    database: Database = state.database
    async with database.reader() as session:
        scope = await authenticate(session, token, state.bootstrap_admin_hash)
    if scope is None:
        raise UnauthenticatedError("This API key is unknown or revoked.")
    if not scope.is_admin:
        raise ForbiddenError("Only an admin key reads /metrics.")


@get("/metrics", exclude_from_auth=True, include_in_schema=False, media_type=CONTENT_TYPE_LATEST)
async def prometheus_metrics(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    settings: Settings = state.settings
    if settings.is_production and not settings.metrics_public:
        await require_admin(state, request.headers.get("authorization"))
    return Response(await scrape(state.database, state.clock), media_type=CONTENT_TYPE_LATEST)
