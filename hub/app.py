"""create_app(settings) → the Litestar application."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.stores.memory import MemoryStore

from connectors.loyalty import DelegatedLoyaltySource
from connectors.outbox.dispatcher import Dispatcher
from connectors.runtime import build_destinations, build_runtime
from hub import plugin, query, web
from hub.api import (
    audit,
    connectors,
    dev,
    flow,
    keys,
    metrics,
    referrals,
    registry,
    settlements,
    stats,
    system,
)
from hub.apidoc import render_plugins
from hub.auth import allow, hash_key
from hub.authfail import AuthFailures
from hub.bootstrap import resolve_keyring
from hub.clock import Clock, SystemClock
from hub.config import Settings
from hub.crypto import Keyring
from hub.db import Database
from hub.flow.service import FlowLimits, FlowService
from hub.http import EgressPolicy, check_url, create_http_session
from hub.idempotency import IdempotencyMiddleware
from hub.jsondepth import JsonDepthMiddleware
from hub.proxy import ProxyHeadersMiddleware
from hub.ratelimit import Leases, RateLimitMiddleware
from hub.telemetry import TelemetryMiddleware
from pin.service import SendBudgets
from pin.sms import SmsGateway
from pin.sms.factory import gateway_from_url

API_VERSION = "1.0.0"
PUBLIC_PATHS = ["^/healthz$", "^/readyz$", "^/schema", "^/dev/sms$", *web.PUBLIC_PATHS]


def openapi_config(*, production: bool = False) -> OpenAPIConfig:
    """In production the documents are served to admin keys only (the router's guard)."""
    router = Router("/schema", route_handlers=[], guards=[allow("admin")]) if production else None
    return OpenAPIConfig(
        openapi_router=router,
        title="Coalition Hub API",
        version=API_VERSION,
        description=(
            "Recognise a card, verify the guest by SMS PIN, apply the partner discount, fan out to CRMs."
        ),
        path="/schema",
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer", description="a hub API key")
            }
        ),
        security=[{"apiKey": []}],
        use_handler_docstrings=False,
        render_plugins=render_plugins(),
    )


def flow_limits(settings: Settings) -> FlowLimits:
    budgets = SendBudgets(
        venue_per_hour=settings.sms_per_venue_hour,
        venue_per_day=settings.sms_per_venue_day,
        program_per_hour=settings.sms_per_program_hour,
        program_per_day=settings.sms_per_program_day,
        hub_per_hour=settings.sms_per_hub_hour,
        hub_per_day=settings.sms_per_hub_day,
    )
    return FlowLimits(unrecognized_scans_per_10min=settings.unrecognized_scans_per_10min, sms_budgets=budgets)


async def start(
    app: Litestar,
    settings: Settings,
    *,
    database: Database | None = None,
    keyring: Keyring | None = None,
    clock: Clock | None = None,
    gateway: SmsGateway | None = None,
) -> None:
    """Put the process's shared parts on app.state (run by the lifespan, or directly by tests)."""
    app.state.owns_database = database is None
    app.state.database = database or Database(settings.database_url)
    app.state.keyring = keyring or resolve_keyring(settings)
    app.state.clock = clock or SystemClock()
    app.state.settings = settings
    app.state.bootstrap_admin_hash = hash_key(settings.admin_key) if settings.admin_key else None
    app.state.rate_leases = Leases()
    app.state.auth_failures = AuthFailures(settings.auth_failures_per_minute)
    policy = EgressPolicy.from_settings(settings)

    async def check(url: str) -> None:
        await check_url(url, policy)

    app.state.check_url = check
    app.state.http = create_http_session(policy)
    runtime = build_runtime(app.state.database, app.state.keyring, app.state.clock, app.state.http)
    app.state.dispatcher = Dispatcher(
        app.state.database, app.state.keyring, app.state.clock, build_destinations(runtime)
    )
    app.state.dispatch_stop = asyncio.Event()
    app.state.dispatch_task = None
    if settings.dispatcher == "embedded":
        app.state.dispatch_task = asyncio.create_task(app.state.dispatcher.run(app.state.dispatch_stop))
    app.state.owns_gateway = gateway is None
    app.state.flow = FlowService(
        app.state.database,
        app.state.keyring,
        app.state.clock,
        gateway or gateway_from_url(settings.sms_url),
        loyalty=DelegatedLoyaltySource(app.state.database, app.state.keyring, runtime),
        limits=flow_limits(settings),
    )
    app.state.web_imports = web.ImportJobs(app.state.database, app.state.keyring, app.state.clock)


async def stop(app: Litestar) -> None:
    await app.state.web_imports.close()
    app.state.dispatch_stop.set()
    if app.state.dispatch_task is not None:
        await app.state.dispatch_task  # finishes in-flight attempts
    await app.state.http.close()
    if app.state.owns_gateway:
        await app.state.flow.gateway.close()
    if app.state.owns_database:
        await app.state.database.dispose()


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    keyring: Keyring | None = None,
    clock: Clock | None = None,
    gateway: SmsGateway | None = None,
) -> Litestar:
    """Build the app; tests pass their own database, keyring and frozen clock."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await start(app, settings, database=database, keyring=keyring, clock=clock, gateway=gateway)
        try:
            yield
        finally:
            await stop(app)

    app = Litestar(
        route_handlers=[
            system.healthz,
            system.readyz,
            metrics.prometheus_metrics,
            dev.sms_inbox,
            keys.KeyController,
            *registry.CONTROLLERS,
            *flow.CONTROLLERS,
            *connectors.CONTROLLERS,
            *referrals.CONTROLLERS,
            *stats.CONTROLLERS,
            *settlements.CONTROLLERS,
            *audit.CONTROLLERS,
            web.router(),
        ],
        lifespan=[lifespan],
        dependencies={
            "db_session": Provide(plugin.provide_session),
            "keyring": Provide(plugin.provide_keyring, sync_to_thread=False),
            "clock": Provide(plugin.provide_clock, sync_to_thread=False),
            "principal": Provide(plugin.provide_scope, sync_to_thread=False),
            "database": Provide(plugin.provide_database, sync_to_thread=False),
            "flow": Provide(plugin.provide_flow, sync_to_thread=False),
        },
        middleware=[
            DefineMiddleware(
                ProxyHeadersMiddleware,
                trusted=tuple(ipaddress.ip_network(n) for n in settings.trusted_proxies),
                hsts=settings.is_production,
            ),
            TelemetryMiddleware,
            JsonDepthMiddleware(settings.max_json_depth),
            DefineMiddleware(
                web.KeyOrSessionMiddleware,
                exclude=[p for p in PUBLIC_PATHS if not (settings.is_production and p == "^/schema")],
            ),
            RateLimitMiddleware(),
            IdempotencyMiddleware(),
        ],
        logging_config=None,  # hub.logs configures the root logger: JSON lines, secrets redacted
        exception_handlers=plugin.EXCEPTION_HANDLERS,
        openapi_config=openapi_config(production=settings.is_production),
        request_max_body_size=settings.max_body_bytes,
        stores={"memory": MemoryStore()},
        before_request=query.refuse_unknown,
        debug=False,
    )
    query.declare(app)
    return app
