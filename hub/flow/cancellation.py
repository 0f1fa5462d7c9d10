"""Cancelling an open visit (no receipt yet): it stops counting, its referral is booked again, and the
connectors that got the visit are told, all in one transaction."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.outbox import EventContext, enqueue
from hub import audit
from hub.concierge import release_referral
from hub.errors import NotFoundError
from hub.flow import schemas as s
from hub.flow.errors import VisitClosedError
from hub.flow.models import Visit
from hub.scope import Scope
from hub.stats import rollups
from partners.models import Program, Venue


class CancelVisitNotFoundError(NotFoundError):
    default_message = "No such visit for this key."


def may_cancel(who: Scope, visit: Visit) -> bool:
    """A terminal or venue key of the visit's venue, its partner's key, or an admin."""
    if who.role == "admin":
        return True
    if who.role in ("terminal", "venue"):
        return who.venue_id == visit.venue_id
    return who.role == "partner" and who.partner_id == visit.partner_id


async def _open_visit(session: AsyncSession, who: Scope, visit_id: uuid.UUID) -> Visit:
    """The visit, row-locked (a receipt posted at this moment waits, then finds it cancelled)."""
    visit = await session.scalar(select(Visit).where(Visit.id == visit_id).with_for_update())
    if visit is None or not may_cancel(who, visit):
        raise CancelVisitNotFoundError()
    if visit.status != "open":
        raise VisitClosedError(
            f"This visit is {visit.status}: only an open visit without a receipt can be cancelled.",
            status=visit.status,
        )
    return visit


async def cancel_visit(
    session: AsyncSession, who: Scope, visit_id: uuid.UUID, data: s.VisitCancel, now: dt.datetime
) -> s.VisitCancelled:
    """Cancel an open visit: rollups, referral, the visit.cancelled event and the audit entry."""
    visit = await _open_visit(session, who, visit_id)
    visit.status, visit.cancelled_at, visit.cancel_reason = "cancelled", now, data.reason
    venue = await session.get_one(Venue, visit.venue_id)
    program = await session.get_one(Program, visit.program_id)
    await rollups.uncount_visit(session, visit, venue)
    referral_id = await release_referral(session, visit.id, now)
    await enqueue(
        session,
        event_type="visit.cancelled",
        context=EventContext(
            program_id=program.id,
            program_name=program.name,
            venue_id=venue.id,
            venue_name=venue.name,
            partner_id=venue.partner_id,
        ),
        occurred_at=now,
        member_id=visit.member_id,
        data={
            "visit_id": str(visit.id),
            "member": {"id": str(visit.member_id), "tier_code": visit.tier_code},
            "reason": data.reason,
            "referral_id": str(referral_id) if referral_id else None,
            "cancelled_at": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        },
    )
    details = {"program_id": str(program.id), "venue_id": str(venue.id)}
    if referral_id is not None:
        details["referral_id"] = str(referral_id)
    await audit.record(session, who, "visit.cancel", "visit", visit.id, at=now, details=details)
    return s.VisitCancelled(
        visit_id=visit.id, status="cancelled", reason=data.reason, cancelled_at=now, referral_id=referral_id
    )
