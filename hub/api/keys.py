"""API keys: create (shown once), list, revoke."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import audit
from hub.api.params import (
    DEFAULT_PAGE,
    NO_STORE,
    ClockDep,
    CursorParam,
    LimitParam,
    PathId,
    Principal,
    Session,
)
from hub.auth import ApiKey, allow, create_key
from hub.errors import InvalidInputError, NotFoundError, with_article
from hub.schema import InputStruct, Name, OutputStruct, Page, decode_cursor, page_of
from hub.scope import Role
from partners.models import Partner, Program, Terminal, Venue


class KeyScope(InputStruct):
    program_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] | None = None
    partner_id: uuid.UUID | None = None
    venue_id: uuid.UUID | None = None
    terminal_id: uuid.UUID | None = None


class KeyCreate(InputStruct):
    role: Role
    name: Name
    scope: KeyScope = msgspec.field(default_factory=KeyScope)


class KeyScopeRead(OutputStruct):
    program_ids: list[uuid.UUID]
    partner_id: uuid.UUID | None
    venue_id: uuid.UUID | None
    terminal_id: uuid.UUID | None


class KeyRead(OutputStruct):
    id: uuid.UUID
    role: str
    name: str
    key_prefix: str
    scope: KeyScopeRead
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class KeyCreated(OutputStruct):
    id: uuid.UUID
    role: str
    name: str
    scope: KeyScopeRead
    api_key: str


def key_read(row: ApiKey) -> KeyRead:
    return KeyRead(
        id=row.id,
        role=row.role,
        name=row.name,
        key_prefix=row.key_prefix,
        scope=_scope_read(row),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _scope_read(row: ApiKey) -> KeyScopeRead:
    return KeyScopeRead(
        program_ids=[uuid.UUID(p) for p in row.program_ids],
        partner_id=row.partner_id,
        venue_id=row.venue_id,
        terminal_id=row.terminal_id,
    )


_SCOPE_FIELD: dict[str, str | None] = {
    "admin": None,
    "concierge": "program_ids",
    "partner": "partner_id",
    "venue": "venue_id",
    "terminal": "terminal_id",
}


async def validate_scope(session: AsyncSession, role: Role, scope: KeyScope) -> dict[str, Any]:
    """Each role takes exactly its own scope field, naming objects that exist."""
    needed = _SCOPE_FIELD[role]
    given = [
        name for name in ("program_ids", "partner_id", "venue_id", "terminal_id") if getattr(scope, name)
    ]
    extra = [name for name in given if name != needed]
    if extra:
        raise InvalidInputError(
            f"{with_article(role).capitalize()} key takes no {', '.join(extra)}.", field=f"scope.{extra[0]}"
        )
    if needed is not None and needed not in given:
        raise InvalidInputError(
            f"{with_article(role).capitalize()} key needs scope.{needed}.", field=f"scope.{needed}"
        )
    if role == "concierge":
        ids = sorted(set(scope.program_ids or []))
        found = set(await session.scalars(select(Program.id).where(Program.id.in_(ids))))
        if missing := [str(i) for i in ids if i not in found]:
            raise InvalidInputError(f"No such program: {', '.join(missing)}.", field="scope.program_ids")
        return {"program_ids": ids}
    if role == "partner" and await session.get(Partner, scope.partner_id) is None:
        raise InvalidInputError("No such partner.", field="scope.partner_id")
    if role == "venue" and await session.get(Venue, scope.venue_id) is None:
        raise InvalidInputError("No such venue.", field="scope.venue_id")
    if role == "terminal":
        terminal = await session.get(Terminal, scope.terminal_id)
        if terminal is None or terminal.disabled_at is not None:
            raise InvalidInputError("No such active terminal.", field="scope.terminal_id")
        return {"terminal_id": terminal.id, "venue_id": terminal.venue_id}
    return {"partner_id": scope.partner_id, "venue_id": scope.venue_id}


class KeyController(Controller):
    path = "/v1/keys"
    tags = ["keys"]
    guards = [allow("admin")]

    @post("/", summary="Create an API key (the key is shown once)", cache_control=NO_STORE)
    async def create(
        self, db_session: Session, principal: Principal, clock: ClockDep, data: JSONBody[KeyCreate]
    ) -> KeyCreated:
        fields = await validate_scope(db_session, data.role, data.scope)
        row, api_key = await create_key(db_session, role=data.role, name=data.name, **fields)
        scope = {name: str(value) for name, value in fields.items() if name != "program_ids"}
        details = {"role": row.role, "prefix": row.key_prefix, **scope}
        await audit.record(
            db_session, principal, "key.create", "api_key", row.id, at=clock.now(), details=details
        )
        return KeyCreated(id=row.id, role=row.role, name=row.name, scope=_scope_read(row), api_key=api_key)

    @get("/", summary="List API keys (never the keys themselves)")
    async def list_keys(
        self, db_session: Session, limit: LimitParam = DEFAULT_PAGE, cursor: CursorParam = None
    ) -> Page[KeyRead]:
        query = select(ApiKey).order_by(ApiKey.id).limit(limit + 1)
        if (after := decode_cursor(cursor)) is not None:
            query = query.where(ApiKey.id > after)
        rows = list(await db_session.scalars(query))
        return page_of([key_read(r) for r in rows], [r.id for r in rows], limit)

    @delete("/{key_id:uuid}", summary="Revoke an API key; it stops working at once")
    async def revoke(
        self, db_session: Session, principal: Principal, clock: ClockDep, key_id: PathId
    ) -> None:
        row = await db_session.get(ApiKey, key_id)
        if row is None:
            raise NotFoundError("No such API key.")
        if row.revoked_at is None:
            row.revoked_at = clock.now()
            details = {"role": row.role, "prefix": row.key_prefix}
            await audit.record(
                db_session, principal, "key.revoke", "api_key", row.id, at=clock.now(), details=details
            )
