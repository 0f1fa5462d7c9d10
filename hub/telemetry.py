"""Per-request telemetry: the request id, a JSON log line and the request metrics; scraping /metrics."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web
from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import MiddlewareProtocol
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select

from connectors.models import Delivery
from hub import metrics
from hub.clock import Clock
from hub.db import Database
from hub.logs import REQUEST_ID, ROUTE, accepted_request_id, new_request_id
from hub.proxy import client_address

log = logging.getLogger("hub.request")
OPEN = ("pending", "retrying")
REQUEST_ID_HEADER = "x-request-id"


class TelemetryMiddleware(MiddlewareProtocol):
    """Outermost: sets the request id (accepted or new), answers it back, logs and counts the request."""

    def __init__(self, app: ASGIApp) -> None:
        # an exception handler inside this middleware, so an error raised by the middleware below it (the
        # API key check) is turned into its response here and its status is seen and counted
        from litestar._asgi.utils import wrap_in_exception_handler

        self.app = wrap_in_exception_handler(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = Headers.from_scope(scope).get(REQUEST_ID_HEADER)
        request_id = accepted_request_id(incoming) or new_request_id()
        route = scope.get("path_template") or "unmatched"
        id_token, route_token = REQUEST_ID.set(request_id), ROUTE.set(route)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope["method"], route, status, time.perf_counter() - started, client_address(scope))
            REQUEST_ID.reset(id_token)
            ROUTE.reset(route_token)

    @staticmethod
    def _record(method: str, route: str, status: int, seconds: float, client: str) -> None:
        metrics.REQUESTS.labels(route=route, method=method, status=str(status)).inc()
        metrics.REQUEST_SECONDS.labels(route=route, method=method).observe(seconds)
        extra: dict[str, Any] = {
            "method": method,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "client": client,
        }
        log.info("%s %s %s", method, route, status, extra=extra)


async def refresh_queue_gauges(database: Database, clock: Clock) -> None:
    """Open deliveries and the oldest one's age, in one query over the (status, next_attempt_at) index."""
    async with database.reader() as session:
        count, oldest = (
            await session.execute(
                select(func.count(), func.min(Delivery.created_at)).where(Delivery.status.in_(OPEN))
            )
        ).one()
    metrics.QUEUE_DEPTH.set(int(count))
    age = 0.0
    if oldest is not None:
        oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=clock.now().tzinfo)
        age = max(0.0, (clock.now() - oldest_at).total_seconds())
    metrics.QUEUE_OLDEST_SECONDS.set(age)


async def scrape(database: Database, clock: Clock) -> bytes:
    """The Prometheus text exposition of this process, with the queue gauges read just now."""
    try:
        await refresh_queue_gauges(database, clock)
    except Exception:  # the database may be down: the process's own counters are still worth a scrape
        log.warning("queue gauges not refreshed: the database did not answer")
    return generate_latest()


async def serve_metrics(database: Database, clock: Clock, host: str, port: int) -> web.AppRunner:
    """/metrics of a standalone dispatcher process on its own port (the caller cleans the runner up)."""

    async def handle(_request: web.Request) -> web.Response:
        body = await scrape(database, clock)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
