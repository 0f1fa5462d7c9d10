"""Connectors and deliveries over HTTP (admin; a partner or venue manages its own venues' connectors)."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import schemas as s
from connectors import services
from hub import audit, exports
from hub.api.params import (
    DEFAULT_PAGE,
    NO_STORE,
    ClockDep,
    CursorParam,
    IdFilter,
    KeyringDep,
    LimitParam,
    PathId,
    Principal,
    Session,
)
from hub.auth import allow
from hub.clock import Clock
from hub.schema import Page
from hub.scope import Scope

MANAGERS = allow("admin", "partner", "venue")


async def _audit(
    session: AsyncSession,
    principal: Scope,
    clock: Clock,
    action: str,
    connector_id: uuid.UUID,
    data: msgspec.Struct | None = None,
) -> None:
    """A connector change in the audit log: which fields were given (never their values: secrets)."""
    details = {"fields": audit.fields_given(data)} if data is not None else {}
    await audit.record(session, principal, action, "connector", connector_id, at=clock.now(), details=details)


StatusFilter = Annotated[str | None, QueryParameter(pattern="^(pending|retrying|delivered|dead)$")]


class ConnectorController(Controller):
    path = "/v1/connectors"
    tags = ["connectors"]
    guards = [MANAGERS]

    @post("/", summary="Create a connector; its signing secret is shown once", cache_control=NO_STORE)
    async def create(
        self,
        db_session: Session,
        keyring: KeyringDep,
        principal: Principal,
        state: State,
        clock: ClockDep,
        data: JSONBody[s.ConnectorCreate],
    ) -> s.ConnectorCreated:
        created = await services.create(db_session, keyring, principal, data, state.check_url)
        await _audit(db_session, principal, clock, "connector.create", created.id, data)
        return created

    @get("/", summary="Connectors with their health")
    async def list_connectors(
        self,
        db_session: Session,
        principal: Principal,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
        venue_id: IdFilter = None,
    ) -> Page[s.ConnectorRead]:
        return await services.list_connectors(
            db_session, principal, limit=limit, cursor=cursor, owner_venue_id=venue_id
        )

    @get("/{connector_id:uuid}", summary="A connector: state, health (latency, errors, queue, token expiry)")
    async def get_connector(
        self, db_session: Session, principal: Principal, connector_id: PathId
    ) -> s.ConnectorRead:
        connector = await services.load(db_session, principal, connector_id)
        return services.connector_read(connector, await services.health(db_session, connector))

    @patch("/{connector_id:uuid}", summary="Change a connector; status active/paused pauses or resumes it")
    async def update(
        self,
        db_session: Session,
        keyring: KeyringDep,
        principal: Principal,
        state: State,
        clock: ClockDep,
        connector_id: PathId,
        data: JSONBody[s.ConnectorUpdate],
    ) -> s.ConnectorRead:
        updated = await services.update_connector(
            db_session, keyring, principal, connector_id, data, state.check_url
        )
        await _audit(db_session, principal, clock, "connector.update", connector_id, data)
        return updated

    @delete("/{connector_id:uuid}", summary="Disable a connector (its delivery log stays)")
    async def disable(
        self, db_session: Session, principal: Principal, clock: ClockDep, connector_id: PathId
    ) -> None:
        await services.disable(db_session, principal, connector_id)
        await _audit(db_session, principal, clock, "connector.disable", connector_id)

    @post(
        "/{connector_id:uuid}/signing-secret/rotate",
        status_code=200,
        cache_control=NO_STORE,
        summary="A new signing secret (shown once); the old one keeps signing for 24 hours",
    )
    async def rotate(
        self,
        db_session: Session,
        keyring: KeyringDep,
        principal: Principal,
        clock: ClockDep,
        connector_id: PathId,
    ) -> s.SigningSecretRotated:
        rotated = await services.rotate_signing_secret(
            db_session, keyring, principal, connector_id, clock.now()
        )
        await _audit(db_session, principal, clock, "connector.rotate_signing_secret", connector_id)
        return rotated

    @post(
        "/{connector_id:uuid}/replay",
        status_code=202,
        summary="Deliver again: dead ones, or all since a time",
    )
    async def replay(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        connector_id: PathId,
        data: JSONBody[s.ReplayRequest],
    ) -> s.ReplayAccepted:
        count = await services.replay(db_session, principal, connector_id, data, clock.now())
        details = {**msgspec.to_builtins(data), "count": count}
        await audit.record(
            db_session,
            principal,
            "connector.replay",
            "connector",
            connector_id,
            at=clock.now(),
            details=details,
        )
        return s.ReplayAccepted(count=count)


class DeliveryController(Controller):
    path = "/v1/deliveries"
    tags = ["connectors"]
    guards = [MANAGERS]

    @get(
        "/",
        summary="The delivery log; also CSV/XLSX",
        response_class=exports.table(exports.columns_of(s.DeliveryRead), name="deliveries"),
    )
    async def list_deliveries(
        self,
        db_session: Session,
        principal: Principal,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
        connector_id: IdFilter = None,
        status: StatusFilter = None,
        export_format: exports.FormatParam = None,
    ) -> Page[s.DeliveryRead]:
        return await services.list_deliveries(
            db_session, principal, limit=limit, cursor=cursor, connector_id=connector_id, status=status
        )

    @get("/{delivery_id:uuid}", summary="A delivery with every attempt")
    async def get_delivery(
        self, db_session: Session, principal: Principal, delivery_id: PathId
    ) -> s.DeliveryDetail:
        return await services.get_delivery(db_session, principal, delivery_id)

    @post("/{delivery_id:uuid}/retry", status_code=202, summary="Try a delivery again now")
    async def retry(
        self, db_session: Session, principal: Principal, clock: ClockDep, delivery_id: PathId
    ) -> s.RetryAccepted:
        accepted = await services.retry(db_session, principal, delivery_id, clock.now())
        await audit.record(db_session, principal, "delivery.retry", "delivery", delivery_id, at=clock.now())
        return accepted


CONTROLLERS = [ConnectorController, DeliveryController]
