"""Referrals: booking, reading (expiry computed on read), cancelling, and fulfilment by a verified visit.

The caller commits: the request for the HTTP routes, the guest flow's transaction for fulfilment.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.outbox import EventContext, enqueue
from hub.concierge import windows
from hub.concierge.errors import (
    MemberUnknownError,
    ProgramUnknownError,
    ReferralNotBookedError,
    ReferralNotFoundError,
    VenueUnknownError,
)
from hub.concierge.models import Referral
from hub.concierge.schemas import ReferralCreate, ReferralRead, VenueBrief
from hub.errors import ForbiddenError, InvalidInputError
from hub.flow.models import Receipt
from hub.schema import Page, decode_cursor, page_of
from hub.scope import Scope
from partners.members import normalize_card_number
from partners.models import Member, Offer, Program, Venue


def visible(scope: Scope) -> ColumnElement[bool]:
    """Which referrals a key sees: the admin all, a concierge its programs', nobody else any."""
    if scope.role == "admin":
        return true()
    if scope.role == "concierge":
        return Referral.program_id.in_(scope.program_ids)
    return false()


def require_aware(value: dt.datetime | None, field: str) -> None:
    if value is not None and value.tzinfo is None:
        raise InvalidInputError(
            f"{field} needs a time zone offset, e.g. 2026-11-20T20:00:00+03:00.", field=field
        )


# ---- booking ----


async def create_referral(
    session: AsyncSession, scope: Scope, data: ReferralCreate, now: dt.datetime
) -> ReferralRead:
    """Check everything first, then write one row: a refused booking writes nothing."""
    require_aware(data.expected_at, "expected_at")
    program = await _program_for(session, scope, data.program_id)
    member = await _member_for(session, program, data)
    venue = await _venue_for(session, program, data.venue_id)
    window = windows.window_of(data.expected_at)
    if window.closes_at < now:
        raise InvalidInputError(
            "expected_at is so far in the past that its window has closed.",
            field="expected_at",
            window_closes_at=window.closes_at.isoformat(),
        )
    referral = Referral(
        program_id=program.id,
        member_id=member.id,
        venue_id=venue.id,
        expected_at=data.expected_at,
        window_opens_at=window.opens_at,
        window_closes_at=window.closes_at,
        party_size=data.party_size,
        note=data.note,
        status="booked",
        created_by_key_id=scope.key_id,
        created_at=now,
        updated_at=now,
    )
    session.add(referral)
    await session.flush()
    return await get_referral(session, scope, referral.id, now)


async def _program_for(session: AsyncSession, scope: Scope, program_id: uuid.UUID) -> Program:
    if scope.role == "concierge" and program_id not in scope.program_ids:
        raise ForbiddenError("This key does not serve that program.")
    program = await session.get(Program, program_id)
    if program is None:
        raise ProgramUnknownError(field="program_id")
    if program.kind != "coalition":
        raise ProgramUnknownError(
            "Referrals are for coalition programs (a venue's own program has no PIN visit to fulfil them).",
            field="program_id",
        )
    return program


async def _member_for(session: AsyncSession, program: Program, data: ReferralCreate) -> Member:
    if (data.member_id is None) == (data.card_number is None):
        raise InvalidInputError(
            "Name the member by member_id or by card_number (one of them).", field="member_id"
        )
    if data.member_id is not None:
        field, condition = "member_id", Member.id == data.member_id
    else:
        assert data.card_number is not None  # noqa: S101  # one of the two, checked above
        field, condition = "card_number", Member.card_number == normalize_card_number(data.card_number)
    member = await session.scalar(select(Member).where(Member.program_id == program.id, condition))
    if member is None:
        raise MemberUnknownError(field=field)
    return member


def serves(program_id: uuid.UUID) -> ColumnElement[bool]:
    """A Venue condition: the program has an active offer there (at the venue, its partner, or everywhere)."""
    return (
        select(Offer.id)
        .where(
            Offer.program_id == program_id,
            Offer.is_active.is_(True),
            or_(
                Offer.venue_id == Venue.id,
                Offer.partner_id == Venue.partner_id,
                and_(Offer.venue_id.is_(None), Offer.partner_id.is_(None)),
            ),
        )
        .exists()
    )


async def _venue_for(session: AsyncSession, program: Program, venue_id: uuid.UUID) -> Venue:
    venue = await session.scalar(select(Venue).where(Venue.id == venue_id, serves(program.id)))
    if venue is None:
        raise VenueUnknownError(field="venue_id")
    return venue


# ---- reading ----


def _read_query(scope: Scope) -> Select[Referral, str, str, str, str, int, int, int, str]:
    return (
        select(
            Referral,
            Member.card_number,
            Venue.name,
            Venue.district,
            Venue.timezone,
            Receipt.subtotal_minor,
            Receipt.discount_minor,
            Receipt.total_minor,
            Receipt.currency,
        )
        .join(Member, Member.id == Referral.member_id)
        .join(Venue, Venue.id == Referral.venue_id)
        .outerjoin(Receipt, Receipt.visit_id == Referral.visit_id)
        .where(visible(scope))
    )


def _read(row: Any, now: dt.datetime) -> ReferralRead:
    referral: Referral = row[0]
    card_number, venue_name, district, timezone, subtotal, discount, total, currency = row[1:]
    return ReferralRead(
        id=referral.id,
        program_id=referral.program_id,
        member_id=referral.member_id,
        card_number=card_number,
        venue_id=referral.venue_id,
        venue=VenueBrief(id=referral.venue_id, name=venue_name, district=district, timezone=timezone),
        expected_at=referral.expected_at,
        window_opens_at=referral.window_opens_at,
        window_closes_at=referral.window_closes_at,
        party_size=referral.party_size,
        note=referral.note,
        status=windows.shown_status(referral.status, referral.window_closes_at, now),
        visit_id=referral.visit_id,
        visited_at=referral.visited_at,
        check_sum_minor=subtotal,
        discount_minor=discount,
        total_minor=total,
        currency=currency,
        created_at=referral.created_at,
        cancelled_at=referral.cancelled_at,
    )


async def get_referral(
    session: AsyncSession, scope: Scope, referral_id: uuid.UUID, now: dt.datetime
) -> ReferralRead:
    row = (await session.execute(_read_query(scope).where(Referral.id == referral_id))).first()
    if row is None:
        raise ReferralNotFoundError()
    return _read(row, now)


def status_condition(status: str, now: dt.datetime) -> ColumnElement[bool]:
    """The stored columns behind a shown status (expired = booked with its window closed)."""
    if status == "booked":
        return and_(Referral.status == "booked", Referral.window_closes_at >= now)
    if status == "expired":
        return and_(Referral.status == "booked", Referral.window_closes_at < now)
    return Referral.status == status


async def list_referrals(
    session: AsyncSession,
    scope: Scope,
    now: dt.datetime,
    *,
    limit: int,
    cursor: str | None,
    status: str | None = None,
    venue_id: uuid.UUID | None = None,
    program_id: uuid.UUID | None = None,
    expected_from: dt.datetime | None = None,
    expected_to: dt.datetime | None = None,
) -> Page[ReferralRead]:
    """Oldest booking first; from/to bound expected_at (from inclusive, to exclusive)."""
    require_aware(expected_from, "from")
    require_aware(expected_to, "to")
    if expected_from is not None and expected_to is not None and expected_from > expected_to:
        raise InvalidInputError("'from' is after 'to'.", field="from")
    query = _read_query(scope)
    if status is not None:
        query = query.where(status_condition(status, now))
    if venue_id is not None:
        query = query.where(Referral.venue_id == venue_id)
    if program_id is not None:
        query = query.where(Referral.program_id == program_id)
    if expected_from is not None:
        query = query.where(Referral.expected_at >= expected_from)
    if expected_to is not None:
        query = query.where(Referral.expected_at < expected_to)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(Referral.id > after)
    rows = (await session.execute(query.order_by(Referral.id).limit(limit + 1))).all()
    return page_of([_read(r, now) for r in rows], [r[0].id for r in rows], limit)


# ---- cancelling ----


async def cancel_referral(
    session: AsyncSession, scope: Scope, referral_id: uuid.UUID, now: dt.datetime
) -> ReferralRead:
    # locked, so a visit verified at this moment either fulfils it first or finds it cancelled
    referral = await session.scalar(
        select(Referral).where(Referral.id == referral_id, visible(scope)).with_for_update()
    )
    if referral is None:
        raise ReferralNotFoundError()
    shown = windows.shown_status(referral.status, referral.window_closes_at, now)
    if shown != "booked":
        raise ReferralNotBookedError(
            f"This referral is {shown}; only a booked one can be cancelled.", status=shown
        )
    referral.status, referral.cancelled_at, referral.updated_at = "cancelled", now, now
    await session.flush()
    return await get_referral(session, scope, referral.id, now)


# ---- fulfilment (called by the guest flow in its transaction) ----


async def fulfil_referral(
    session: AsyncSession,
    *,
    member_id: uuid.UUID,
    venue_id: uuid.UUID,
    visit_id: uuid.UUID,
    verified_at: dt.datetime,
) -> uuid.UUID | None:
    """Mark the member's booked referral at this venue whose window holds the visit as visited; its id,
    or None when the visit fulfils none. The caller writes visit.verified, then announce_visited()."""
    # FOR UPDATE: two visits verified at once cannot both take the same referral (PostgreSQL re-checks
    # status after the wait; SQLite serialises writers)
    rows = await session.scalars(
        select(Referral)
        .where(
            Referral.member_id == member_id,
            Referral.venue_id == venue_id,
            Referral.status == "booked",
            Referral.window_opens_at <= verified_at,
            Referral.window_closes_at >= verified_at,
        )
        .with_for_update()
    )
    candidates = {r.id: r for r in rows}
    chosen = windows.choose(
        (
            windows.Candidate(
                referral_id=r.id,
                expected_at=r.expected_at,
                window=windows.Window(opens_at=r.window_opens_at, closes_at=r.window_closes_at),
            )
            for r in candidates.values()
        ),
        verified_at,
    )
    if chosen is None:
        return None
    referral = candidates[chosen]
    referral.status, referral.visit_id = "visited", visit_id
    referral.visited_at, referral.updated_at = verified_at, verified_at
    await session.flush()
    return referral.id


async def release_referral(session: AsyncSession, visit_id: uuid.UUID, at: dt.datetime) -> uuid.UUID | None:
    """A cancelled visit fulfils nothing: its referral is booked again (expired once its window has
    closed, fulfilled by a later visit within it); the referral's id, or None when it fulfilled none."""
    referral = await session.scalar(select(Referral).where(Referral.visit_id == visit_id).with_for_update())
    if referral is None:
        return None
    referral.status, referral.visit_id, referral.visited_at = "booked", None, None
    referral.updated_at = at
    await session.flush()
    return referral.id


async def announce_visited(session: AsyncSession, referral_id: uuid.UUID, at: dt.datetime) -> None:
    """The referral.visited event, written after visit.verified so a CRM gets them in that order."""
    referral = await session.get_one(Referral, referral_id)
    program = await session.get_one(Program, referral.program_id)
    venue = await session.get_one(Venue, referral.venue_id)
    await enqueue(
        session,
        event_type="referral.visited",
        context=EventContext(
            program_id=program.id,
            program_name=program.name,
            venue_id=venue.id,
            venue_name=venue.name,
            partner_id=venue.partner_id,
        ),
        occurred_at=at,
        member_id=referral.member_id,
        data={
            "referral_id": str(referral.id),
            "visit_id": str(referral.visit_id),
            "member": {"id": str(referral.member_id)},
            "expected_at": _iso(referral.expected_at),
            "verified_at": _iso(at),
        },
    )


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
