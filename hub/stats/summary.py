"""The coalition summary report (seed 001): cards issued and registered, visits, purchases, average
check, items per check, by day, week, month, venue or tier."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.scope import Scope
from hub.stats import schemas as s
from hub.stats.models import StatsDaily, StatsDailyGuest
from hub.stats.service import K_ANONYMITY, OTHER, Sums, date_range, guests_by, sums_by, visible_program
from partners.models import Member, Venue


def bucket(day: dt.date, group_by: str) -> tuple[str, str]:
    """(key, label) of a day's period: the ISO date, the ISO week's Monday, or the month."""
    if group_by == "week":
        monday = day - dt.timedelta(days=day.weekday())
        year, week, _ = day.isocalendar()
        return monday.isoformat(), f"{year}-W{week:02d}"
    if group_by == "month":
        return day.strftime("%Y-%m"), day.strftime("%Y-%m")
    return day.isoformat(), day.isoformat()


def _as_date(value: Any) -> dt.date:
    """func.date() gives a date on PostgreSQL and ISO text on SQLite."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _utc_day(session: AsyncSession, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


async def summary(
    session: AsyncSession,
    who: Scope,
    program_id: uuid.UUID,
    *,
    now: dt.datetime,
    group_by: s.GroupBy = "month",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> s.SummaryReport:
    """Cards issued = members created (UTC days); registered = members whose first verified visit in the
    program fell in the period; visits are verified visits; purchases are net of refunds and count
    receipts not refunded in full."""
    program = await visible_program(session, who, program_id)
    start, end = date_range(date_from, date_to, now.date())
    daily = [StatsDaily.program_id == program.id, StatsDaily.local_date.between(start, end)]
    labels: dict[str, str] = {}
    purchases: dict[str, Sums] = defaultdict(Sums)
    issued: dict[str, int] = defaultdict(int)
    registered: dict[str, int] = defaultdict(int)
    since = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    created = [Member.program_id == program.id, Member.created_at >= since, Member.created_at < until]
    first = (
        select(StatsDailyGuest.member_id, func.min(StatsDailyGuest.local_date).label("day"))
        .where(StatsDailyGuest.program_id == program.id)
        .group_by(StatsDailyGuest.member_id)
        .subquery()
    )
    in_range = first.c.day.between(start, end)
    if group_by in ("day", "week", "month"):
        for day, sums in (await sums_by(session, daily, StatsDaily.local_date)).items():
            key, labels[key] = bucket(day, group_by)
            purchases[key] = _plus(purchases[key], sums)
        utc_day = _utc_day(session, Member.created_at)
        for day, n in await session.execute(select(utc_day, func.count()).where(*created).group_by(utc_day)):
            key, labels[key] = bucket(_as_date(day), group_by)
            issued[key] += int(n)
        for day, n in await session.execute(
            select(first.c.day, func.count()).where(in_range).group_by(first.c.day)
        ):
            key, labels[key] = bucket(_as_date(day), group_by)
            registered[key] += int(n)
    elif group_by == "tier":
        for tier, sums in (await sums_by(session, daily, StatsDaily.tier_code)).items():
            purchases[tier] = sums
        for tier, n in await session.execute(
            select(Member.tier_code, func.count()).where(*created).group_by(Member.tier_code)
        ):
            issued[tier or ""] += int(n)
        joined = select(Member.tier_code, func.count()).join(first, first.c.member_id == Member.id)
        for tier, n in await session.execute(joined.where(in_range).group_by(Member.tier_code)):
            registered[tier or ""] += int(n)
        labels = {key: key or "no tier" for key in {*purchases, *issued, *registered}}
    else:
        guests = [StatsDailyGuest.program_id == program.id, StatsDailyGuest.local_date.between(start, end)]
        await _by_venue(session, program.id, daily, guests, first, in_range, purchases, registered, labels)
    total_registered = int(await session.scalar(select(func.count()).select_from(first).where(in_range)) or 0)
    total_issued = int(await session.scalar(select(func.count()).select_from(Member).where(*created)) or 0)
    total = _plus(Sums(), *purchases.values())
    return s.SummaryReport(
        program_id=program.id,
        currency=program.currency,
        date_from=start,
        date_to=end,
        group_by=group_by,
        k_anonymity=K_ANONYMITY,
        total=_row("total", "total", total, total_issued if group_by != "venue" else None, total_registered),
        rows=[
            _row(
                key,
                labels[key],
                purchases.get(key, Sums()),
                None if group_by == "venue" else issued.get(key, 0),
                registered.get(key, 0),
            )
            for key in sorted(labels)
        ],
    )


async def _by_venue(
    session: AsyncSession,
    program_id: uuid.UUID,
    daily: list[ColumnElement[bool]],
    guests: list[ColumnElement[bool]],
    first: Any,
    in_range: ColumnElement[bool],
    purchases: dict[str, Sums],
    registered: dict[str, int],
    labels: dict[str, str],
) -> None:
    """Per venue with at least K_ANONYMITY distinct guests: its visits and purchases, and the members whose
    first visit day was spent (also) there; the other venues as one "other" row, shown from k guests on."""
    per_venue = await sums_by(session, daily, StatsDaily.venue_id)
    venue_guests = await guests_by(session, guests, StatsDailyGuest.venue_id)
    shown = [vid for vid in per_venue if venue_guests.get(vid, 0) >= K_ANONYMITY]
    firsts = await _registered_by_venue(session, program_id, first, in_range)
    for venue_id in shown:
        purchases[str(venue_id)], registered[str(venue_id)] = per_venue[venue_id], firsts.get(venue_id, 0)
    for venue_id, name in await session.execute(select(Venue.id, Venue.name).where(Venue.id.in_(shown))):
        labels[str(venue_id)] = name
    hidden = [vid for vid in per_venue if vid not in set(shown)]
    among_hidden = await guests_by(session, [*guests, StatsDailyGuest.venue_id.in_(hidden)]) if hidden else {}
    if among_hidden.get(None, 0) >= K_ANONYMITY:
        purchases[OTHER] = _plus(Sums(), *(per_venue[vid] for vid in hidden))
        registered[OTHER] = await _registered_among(session, program_id, first, in_range, hidden)
        labels[OTHER] = OTHER


def _first_visits(program_id: uuid.UUID, first: Any, in_range: ColumnElement[bool]) -> Select[Any]:
    """Distinct members whose first visit day in the program (in the period) was spent at the venues
    the caller adds a condition or a grouping for."""
    return (
        select(func.count(func.distinct(StatsDailyGuest.member_id)))
        .join(
            first,
            (first.c.member_id == StatsDailyGuest.member_id) & (first.c.day == StatsDailyGuest.local_date),
        )
        .where(StatsDailyGuest.program_id == program_id, in_range)
    )


async def _registered_by_venue(
    session: AsyncSession, program_id: uuid.UUID, first: Any, in_range: ColumnElement[bool]
) -> dict[uuid.UUID, int]:
    query = _first_visits(program_id, first, in_range)
    grouped = query.add_columns(StatsDailyGuest.venue_id).group_by(StatsDailyGuest.venue_id)
    return {venue_id: int(n) for n, venue_id in await session.execute(grouped)}


async def _registered_among(
    session: AsyncSession,
    program_id: uuid.UUID,
    first: Any,
    in_range: ColumnElement[bool],
    venues: list[uuid.UUID],
) -> int:
    query = _first_visits(program_id, first, in_range).where(StatsDailyGuest.venue_id.in_(venues))
    return int(await session.scalar(query) or 0)


def _plus(first: Sums, *more: Sums) -> Sums:
    total = Sums(**vars(first))
    for part in more:
        for name, value in vars(part).items():
            setattr(total, name, getattr(total, name) + value)
    return total


def _row(key: str, label: str, sums: Sums, issued: int | None, registered: int) -> s.SummaryRow:
    return s.SummaryRow(
        key=key,
        label=label,
        cards_issued=issued,
        registered=registered,
        visits=sums.visits,
        visits_awaiting_check=sums.awaiting_check,
        purchase_sum_minor=sums.net_check_minor,
        purchase_count=sums.receipts,
        average_check_minor=sums.average_check_minor,
        items_per_check=round(sums.items / sums.receipts, 2) if sums.receipts else 0.0,
    )
