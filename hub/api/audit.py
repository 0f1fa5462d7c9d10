"""GET /v1/audit: the audit log by time, in chain order (admin only)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import QueryParameter

from hub.api.params import DEFAULT_PAGE, ClockDep, CursorParam, LimitParam, Session
from hub.audit.models import AuditEntry
from hub.audit.service import entries_between
from hub.auth import allow
from hub.errors import InvalidInputError
from hub.schema import OutputStruct, Page

MAX_RANGE = dt.timedelta(days=93)
DEFAULT_RANGE = dt.timedelta(days=1)


class AuditEntryRead(OutputStruct):
    seq: int
    at: dt.datetime
    actor_role: str
    actor_key_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str | None
    details: dict[str, Any]
    request_id: str | None
    prev_hash: str
    hash: str


def entry_read(entry: AuditEntry) -> AuditEntryRead:
    return AuditEntryRead(
        seq=entry.seq,
        at=entry.at,
        actor_role=entry.actor_role,
        actor_key_id=entry.actor_key_id,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        details=entry.details,
        request_id=entry.request_id,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


def bounded_range(
    start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """[from, to): to defaults to now (inclusive), from to a day before; at most 93 days, zones required."""
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise InvalidInputError(
                f"{name} needs a time zone offset, e.g. 2026-11-20T00:00:00Z.", field=name
            )
    end = end or now + dt.timedelta(seconds=1)  # up to and including now
    start = start or end - DEFAULT_RANGE
    if start >= end:
        raise InvalidInputError("from must be before to.", field="from")
    if end - start > MAX_RANGE:
        raise InvalidInputError("The range is at most 93 days: ask for it in parts.", field="from")
    return start, end


def _after(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise InvalidInputError("The cursor is not one this API gave out.", field="cursor")
    return int(cursor)


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["audit"]
    guards = [allow("admin")]

    @get("/", summary="The audit log between two times (at most 93 days), in chain order")
    async def list_entries(
        self,
        db_session: Session,
        clock: ClockDep,
        start: Annotated[dt.datetime | None, QueryParameter(name="from", description="inclusive")] = None,
        end: Annotated[dt.datetime | None, QueryParameter(name="to", description="exclusive")] = None,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
    ) -> Page[AuditEntryRead]:
        start, end = bounded_range(start, end, clock.now())
        rows = await entries_between(db_session, start, end, limit=limit, after_seq=_after(cursor))
        has_more = len(rows) > limit
        rows = rows[:limit]
        return Page(items=[entry_read(r) for r in rows], next_cursor=str(rows[-1].seq) if has_more else None)


CONTROLLERS = [AuditController]
