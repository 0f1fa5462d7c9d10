"""A guest's history for the concierge: profile with totals and favourite venues, and the visits list."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.concierge.schemas import FavouriteVenue, MemberProfile, MemberTotals, MemberVisit, VenueBrief
from hub.flow.models import Receipt, Visit
from hub.schema import Page, decode_cursor, page_of
from hub.scope import Scope
from partners.members import load_member, member_read
from partners.models import Member, Program, Tier, Venue

FAVOURITES = 5
CANCELLED = "cancelled"  # a cancelled visit is listed (with its status) but counts in no total


async def member_profile(session: AsyncSession, scope: Scope, member_id: uuid.UUID) -> MemberProfile:
    member = await load_member(session, scope, member_id)
    program = await session.get_one(Program, member.program_id)
    tier_name = await session.scalar(
        select(Tier.name).where(Tier.program_id == member.program_id, Tier.code == member.tier_code)
    )
    base = member_read(member)
    return MemberProfile(
        **{f: getattr(base, f) for f in base.__struct_fields__},
        tier_name=tier_name,
        totals=await _totals(session, member, program.currency),
        favourite_venues=await _favourites(session, member.id),
    )


async def _totals(session: AsyncSession, member: Member, currency: str) -> MemberTotals:
    row = (
        await session.execute(
            select(
                func.count(Visit.id),
                func.max(Visit.verified_at),
                func.coalesce(func.sum(Receipt.subtotal_minor), 0),
                func.coalesce(func.sum(Receipt.discount_minor), 0),
                func.coalesce(func.sum(Receipt.refunded_minor), 0),
            )
            .select_from(Visit)
            .outerjoin(Receipt, Receipt.visit_id == Visit.id)
            .where(Visit.member_id == member.id, Visit.status != CANCELLED)
        )
    ).one()
    return MemberTotals(
        visits=int(row[0]),
        last_visit_at=row[1],
        check_sum_minor=int(row[2]),
        discount_sum_minor=int(row[3]),
        refunded_minor=int(row[4]),
        currency=currency,
    )


async def _favourites(session: AsyncSession, member_id: uuid.UUID) -> list[FavouriteVenue]:
    """The venues the member visits most (ties: the more recent, then by name)."""
    visits = func.count(Visit.id)
    last = func.max(Visit.verified_at)
    rows = await session.execute(
        select(Venue.id, Venue.name, Venue.district, Venue.city, visits, last)
        .join(Visit, Visit.venue_id == Venue.id)
        .where(Visit.member_id == member_id, Visit.status != CANCELLED)
        .group_by(Venue.id, Venue.name, Venue.district, Venue.city)
        .order_by(visits.desc(), last.desc(), Venue.name)
        .limit(FAVOURITES)
    )
    return [
        FavouriteVenue(id=r[0], name=r[1], district=r[2], city=r[3], visits=int(r[4]), last_visit_at=r[5])
        for r in rows
    ]


async def member_visits(
    session: AsyncSession, scope: Scope, member_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[MemberVisit]:
    """The member's visits at every venue, newest first, each with its receipt's money once posted."""
    member = await load_member(session, scope, member_id)
    query = (
        select(Visit, Venue.name, Venue.district, Venue.timezone, *RECEIPT_COLUMNS)
        .join(Venue, Venue.id == Visit.venue_id)
        .outerjoin(Receipt, Receipt.visit_id == Visit.id)
        .where(Visit.member_id == member.id)
    )
    before = decode_cursor(cursor)
    if before is not None:
        query = query.where(Visit.id < before)
    rows = (await session.execute(query.order_by(Visit.id.desc()).limit(limit + 1))).all()
    return page_of([_visit(r) for r in rows], [r[0].id for r in rows], limit)


# the receipt's money, not its lines: a long history should not load every check's items
RECEIPT_COLUMNS = (
    Receipt.id,
    Receipt.closed_at,
    Receipt.subtotal_minor,
    Receipt.discount_minor,
    Receipt.total_minor,
    Receipt.refunded_minor,
    Receipt.currency,
)


def _visit(row: Any) -> MemberVisit:
    visit: Visit = row[0]
    receipt_id, closed_at, subtotal, discount, total, refunded, currency = row[4:]
    return MemberVisit(
        id=visit.id,
        program_id=visit.program_id,
        venue=VenueBrief(id=visit.venue_id, name=row[1], district=row[2], timezone=row[3]),
        verified_at=visit.verified_at,
        status=visit.status,
        tier_code=visit.tier_code,
        receipt_id=receipt_id,
        closed_at=closed_at,
        check_sum_minor=subtotal,
        discount_minor=discount,
        total_minor=total,
        refunded_minor=refunded,
        currency=currency,
    )
