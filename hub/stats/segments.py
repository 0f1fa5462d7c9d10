"""RFM segments of a program's members: recomputed into rfm_scores on demand, served from there."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.flow.models import Receipt, Visit
from hub.schema import decode_cursor, page_of
from hub.scope import Scope
from hub.stats import rfm
from hub.stats import schemas as s
from hub.stats.models import RfmRun, RfmScore
from hub.stats.rollups import CANCELLED, insert_rows
from hub.stats.service import visible_program
from partners.models import Member

DEFAULT_WINDOW_DAYS = 365


async def refresh(
    session: AsyncSession, who: Scope, program_id: uuid.UUID, *, now: dt.datetime, window_days: int
) -> None:
    """Score every member with a verified visit in the window (cancelled ones do not count): recency from
    the last visit, frequency the visits, monetary their receipts net of refunds."""
    program = await visible_program(session, who, program_id)
    rows = await _activity(session, program.id, now - dt.timedelta(days=window_days), now)
    recency = [max((now - _aware(last)).days, 0) for _, last, _, _, _ in rows]
    r_scores = rfm.quintiles(recency, higher_is_better=False)
    f_scores = rfm.quintiles([int(n) for _, _, n, _, _ in rows])
    m_scores = rfm.quintiles([int(m) for _, _, _, m, _ in rows])
    scores: list[dict[str, Any]] = [
        {
            "program_id": program.id,
            "member_id": member_id,
            "tier_code": tier_code,
            "recency_days": recency[i],
            "frequency": int(count),
            "monetary_minor": int(money),
            "r_score": r_scores[i],
            "f_score": f_scores[i],
            "m_score": m_scores[i],
            "segment": rfm.segment_of(r_scores[i], f_scores[i]),
        }
        for i, (member_id, _, count, money, tier_code) in enumerate(rows)
    ]
    await session.execute(delete(RfmScore).where(RfmScore.program_id == program.id))
    await session.execute(delete(RfmRun).where(RfmRun.program_id == program.id))
    await insert_rows(session, RfmScore, scores)
    session.add(
        RfmRun(
            program_id=program.id,
            computed_at=now,
            as_of=now.date(),
            window_days=window_days,
            members=len(scores),
        )
    )
    await session.flush()


async def _activity(
    session: AsyncSession, program_id: uuid.UUID, since: dt.datetime, until: dt.datetime
) -> list[Any]:
    """(member, last visit, visits, net spend, tier) of each member verified in (since, until]."""
    query = (
        select(
            Visit.member_id,
            func.max(Visit.verified_at),
            func.count(Visit.id),
            func.coalesce(func.sum(Receipt.total_minor - Receipt.refunded_minor), 0),
            Member.tier_code,
        )
        .join(Member, Member.id == Visit.member_id)
        .outerjoin(Receipt, Receipt.visit_id == Visit.id)
        .where(
            Visit.program_id == program_id,
            Visit.verified_at > since,
            Visit.verified_at <= until,
            Visit.status != CANCELLED,
        )
        .group_by(Visit.member_id, Member.tier_code)
    )
    return list(await session.execute(query))


def _aware(at: Any) -> dt.datetime:
    """max() over a UtcDateTime column skips the type's result processing on SQLite."""
    value = dt.datetime.fromisoformat(at) if isinstance(at, str) else at
    assert isinstance(value, dt.datetime)  # noqa: S101  # the column holds datetimes
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


async def segments(
    session: AsyncSession,
    who: Scope,
    program_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None = None,
    segment: str | None = None,
) -> s.Segments:
    """The last computation: counts per segment and a page of members with their scores."""
    program = await visible_program(session, who, program_id)
    run = await session.get(RfmRun, program.id)
    grouped = await session.execute(
        select(RfmScore.segment, func.count())
        .where(RfmScore.program_id == program.id)
        .group_by(RfmScore.segment)
    )
    counts = {name: int(n) for name, n in grouped}
    query = (
        select(RfmScore)
        .where(RfmScore.program_id == program.id)
        .order_by(RfmScore.member_id)
        .limit(limit + 1)
    )
    if segment is not None:
        query = query.where(RfmScore.segment == segment)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(RfmScore.member_id > after)
    found = list(await session.scalars(query))
    items = [
        s.MemberScore(
            member_id=row.member_id,
            tier_code=row.tier_code,
            recency_days=row.recency_days,
            frequency=row.frequency,
            monetary_minor=row.monetary_minor,
            r_score=row.r_score,
            f_score=row.f_score,
            m_score=row.m_score,
            segment=row.segment,
        )
        for row in found
    ]
    return s.Segments(
        program_id=program.id,
        computed_at=run.computed_at if run else None,
        as_of=run.as_of if run else None,
        window_days=run.window_days if run else DEFAULT_WINDOW_DAYS,
        scored_members=run.members if run else 0,
        segments=[s.SegmentCount(segment=name, members=int(counts.get(name, 0))) for name in rfm.SEGMENTS],
        members=page_of(items, [row.member_id for row in found], limit),
    )
