"""Venue and program statistics over the daily rollups, scoped to the asking key.

Every query is bounded by one venue or one program and at most MAX_DAYS local dates, so it reads a
range of the rollups' primary key or of their (program_id, local_date) index, never the visits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import ForbiddenError, InvalidInputError, NotFoundError
from hub.scope import Scope
from hub.stats import schemas as s
from hub.stats.models import NO_TIER, StatsDaily, StatsDailyGuest
from hub.stats.rollups import local_date
from partners import visibility
from partners.models import Partner, Program, Tier, Venue
from partners.rules import div_half_up

K_ANONYMITY = 5  # a venue or district is listed only when at least this many distinct guests came
MAX_DAYS = 366
DEFAULT_DAYS = 30
OTHER = "other"


class StatsVenueNotFoundError(NotFoundError):
    default_message = "No such venue for this key."


class StatsProgramNotFoundError(NotFoundError):
    default_message = "No such program for this key."


def date_range(date_from: dt.date | None, date_to: dt.date | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """Inclusive local dates; by default the last DEFAULT_DAYS days up to today, never over MAX_DAYS."""
    end = date_to or (
        today if date_from is None else min(today, date_from + dt.timedelta(days=DEFAULT_DAYS - 1))
    )
    start = date_from or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidInputError("'from' is after 'to'.", field="from")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInputError(f"At most {MAX_DAYS} days at a time.", field="to", max_days=MAX_DAYS)
    return start, end


@dataclass
class Sums:
    visits: int = 0
    checked: int = 0
    receipts: int = 0
    check_minor: int = 0
    refunds_minor: int = 0
    discount_minor: int = 0
    refunded_discount_minor: int = 0
    items: int = 0

    def add(self, row: Any) -> None:
        self.visits += int(row.visits)
        self.checked += int(row.checked)
        self.receipts += int(row.receipts)
        self.check_minor += int(row.check_sum_minor)
        self.refunds_minor += int(row.refunds_minor)
        self.discount_minor += int(row.discount_sum_minor)
        self.refunded_discount_minor += int(row.refunded_discount_minor)
        self.items += int(row.items)

    @property
    def net_check_minor(self) -> int:
        return self.check_minor - self.refunds_minor

    @property
    def net_discount_minor(self) -> int:
        return self.discount_minor - self.refunded_discount_minor

    @property
    def awaiting_check(self) -> int:
        """Verified visits whose receipt has not come (cancelled ones are not counted at all)."""
        return self.visits - self.checked

    @property
    def average_check_minor(self) -> int:
        return div_half_up(max(self.net_check_minor, 0), self.receipts) if self.receipts else 0

    def figures(self, unique_guests: int) -> dict[str, int]:
        return {
            "visits": self.visits,
            "unique_guests": unique_guests,
            "receipts": self.receipts,
            "visits_awaiting_check": self.awaiting_check,
            "check_sum_minor": self.net_check_minor,
            "average_check_minor": self.average_check_minor,
            "discount_sum_minor": self.net_discount_minor,
        }


_SUM_COLUMNS = (
    func.sum(StatsDaily.visits).label("visits"),
    func.sum(StatsDaily.checked).label("checked"),
    func.sum(StatsDaily.receipts).label("receipts"),
    func.sum(StatsDaily.check_sum_minor).label("check_sum_minor"),
    func.sum(StatsDaily.refunds_minor).label("refunds_minor"),
    func.sum(StatsDaily.discount_sum_minor).label("discount_sum_minor"),
    func.sum(StatsDaily.refunded_discount_minor).label("refunded_discount_minor"),
    func.sum(StatsDaily.items).label("items"),
)


async def sums_by(
    session: AsyncSession, where: list[ColumnElement[bool]], *keys: Any, join_venue: bool = False
) -> dict[Any, Sums]:
    """Rollup sums grouped by `keys` (one key: its value; several: a tuple)."""
    query: Select[Any] = select(*keys, *_SUM_COLUMNS).where(*where).group_by(*keys)
    if join_venue:
        query = query.join(Venue, Venue.id == StatsDaily.venue_id)
    out: dict[Any, Sums] = defaultdict(Sums)
    for row in await session.execute(query):
        key = row[0] if len(keys) == 1 else tuple(row[: len(keys)])
        out[key].add(row)
    return out


async def guests_by(
    session: AsyncSession, where: list[ColumnElement[bool]], *keys: Any, join_venue: bool = False
) -> dict[Any, int]:
    """Distinct guests grouped by `keys` (no keys: the one total under key None)."""
    query: Select[Any] = select(*keys, func.count(func.distinct(StatsDailyGuest.member_id))).where(*where)
    if keys:
        query = query.group_by(*keys)
    if join_venue:
        query = query.join(Venue, Venue.id == StatsDailyGuest.venue_id)
    out: dict[Any, int] = {}
    for row in await session.execute(query):
        key = None if not keys else row[0] if len(keys) == 1 else tuple(row[: len(keys)])
        out[key] = int(row[-1])
    return out


def _total(groups: Iterable[Sums]) -> Sums:
    total = Sums()
    for part in groups:
        for name in Sums.__dataclass_fields__:
            setattr(total, name, getattr(total, name) + getattr(part, name))
    return total


# ---- venue statistics ----


async def _program_filter(
    session: AsyncSession, who: Scope, program_id: uuid.UUID | None
) -> set[uuid.UUID] | None:
    """The programs whose numbers this key may see at a venue: None means all of them."""
    if who.role == "concierge":
        if program_id is not None and program_id not in who.program_ids:
            raise ForbiddenError("This key sees only its own programs' numbers.", field="program_id")
        return {program_id} if program_id is not None else set(who.program_ids)
    return {program_id} if program_id is not None else None


async def venue_stats(
    session: AsyncSession,
    who: Scope,
    venue_id: uuid.UUID,
    *,
    now: dt.datetime,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    program_id: uuid.UUID | None = None,
) -> s.VenueStats:
    """A venue's numbers, every program's, in full for the venue, its partner and an admin; a concierge
    gets only its own programs' part, k-anonymised."""
    venue = await session.scalar(select(Venue).where(Venue.id == venue_id, visibility.venues(who)))
    if venue is None:
        raise StatsVenueNotFoundError()
    start, end = date_range(date_from, date_to, local_date(now, venue.timezone))
    programs = await _program_filter(session, who, program_id)
    daily = [StatsDaily.venue_id == venue.id, StatsDaily.local_date.between(start, end)]
    guests = [StatsDailyGuest.venue_id == venue.id, StatsDailyGuest.local_date.between(start, end)]
    if programs is not None:
        daily.append(StatsDaily.program_id.in_(programs))
        guests.append(StatsDailyGuest.program_id.in_(programs))
    cells = await sums_by(session, daily, StatsDaily.program_id, StatsDaily.tier_code, StatsDaily.local_date)
    by_tier, by_program, by_day = _regroup(cells)
    unique = (await guests_by(session, guests)).get(None, 0)
    tier_guests = await guests_by(session, guests, StatsDailyGuest.program_id, StatsDailyGuest.tier_code)
    program_guests = await guests_by(session, guests, StatsDailyGuest.program_id)
    day_guests = await guests_by(session, guests, StatsDailyGuest.local_date)
    known = {p.id: p for p in await session.scalars(select(Program).where(Program.id.in_(by_program)))}
    currencies = {p.currency for p in known.values()}
    total = _total(by_program.values())
    answer = s.VenueStats(
        venue_id=venue.id,
        date_from=start,
        date_to=end,
        currency=currencies.pop() if len(currencies) == 1 else None,
        **total.figures(unique),
        by_tier=await _tier_rows(session, by_tier, tier_guests, known),
        by_program=[
            s.ProgramFigures(
                program_id=pid,
                program_name=known[pid].name,
                kind=known[pid].kind,
                currency=known[pid].currency,
                **sums.figures(program_guests.get(pid, 0)),
            )
            for pid, sums in sorted(by_program.items(), key=lambda item: known[item[0]].name)
        ],
        by_day=[
            s.DayFigures(date=day, **sums.figures(day_guests.get(day, 0)))
            for day, sums in sorted(by_day.items())
        ],
        k_anonymity=None,
        suppressed=[],
    )
    return anonymised(answer, K_ANONYMITY) if who.role == "concierge" else answer


def anonymised(answer: s.VenueStats, k: int) -> s.VenueStats:
    """The coalition's view of one venue: the days and tiers of fewer than k distinct guests are left
    out, and the answer says how many of each were (the totals and programs stay)."""
    days = [row for row in answer.by_day if row.unique_guests >= k]
    tiers = [row for row in answer.by_tier if row.unique_guests >= k]
    suppressed = [
        s.Suppressed(table=table, rows=hidden)
        for table, hidden in (
            ("by_day", len(answer.by_day) - len(days)),
            ("by_tier", len(answer.by_tier) - len(tiers)),
        )
        if hidden
    ]
    return msgspec.structs.replace(answer, by_day=days, by_tier=tiers, k_anonymity=k, suppressed=suppressed)


TierKey = tuple[uuid.UUID, str]  # (program_id, tier_code): two programs' "gold" are two tiers


async def _tier_rows(
    session: AsyncSession,
    by_tier: dict[TierKey, Sums],
    tier_guests: dict[Any, int],
    programs: dict[uuid.UUID, Program],
) -> list[s.TierFigures]:
    """One row per (program, tier), named as the program names the tier, by program name then code."""
    found = await session.execute(
        select(Tier.program_id, Tier.code, Tier.name).where(Tier.program_id.in_({p for p, _ in by_tier}))
    )
    names = {(program_id, code): name for program_id, code, name in found}
    return [
        s.TierFigures(
            program_id=program_id,
            program_name=programs[program_id].name,
            tier_code=tier or None,
            tier_name=names.get((program_id, tier)),
            **sums.figures(tier_guests.get((program_id, tier), 0)),
        )
        for (program_id, tier), sums in sorted(
            by_tier.items(), key=lambda item: (programs[item[0][0]].name, item[0][1])
        )
    ]


def _regroup(
    cells: dict[Any, Sums],
) -> tuple[dict[TierKey, Sums], dict[uuid.UUID, Sums], dict[dt.date, Sums]]:
    by_tier: dict[TierKey, Sums] = defaultdict(Sums)
    by_program: dict[uuid.UUID, Sums] = defaultdict(Sums)
    by_day: dict[dt.date, Sums] = defaultdict(Sums)
    for (program_id, tier_code, day), sums in cells.items():
        groups: tuple[tuple[dict[Any, Sums], Any], ...] = (
            (by_tier, (program_id, tier_code)),
            (by_program, program_id),
            (by_day, day),
        )
        for group, key in groups:
            group[key] = _total([group[key], sums])
    return by_tier, by_program, by_day


# ---- program statistics ----


async def visible_program(session: AsyncSession, who: Scope, program_id: uuid.UUID) -> Program:
    """A program whose statistics this key may read: admin, or the program's concierge."""
    program = await session.scalar(select(Program).where(Program.id == program_id, visibility.programs(who)))
    if program is None or who.role not in ("admin", "concierge"):
        raise StatsProgramNotFoundError()
    return program


async def program_stats(
    session: AsyncSession,
    who: Scope,
    program_id: uuid.UUID,
    *,
    now: dt.datetime,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    k: int = K_ANONYMITY,
) -> s.ProgramStats:
    """A program's numbers across venues: venues, partners and districts listed only where ≥ k distinct
    guests came (the rest as one "other" row, itself shown only from k guests on)."""
    program = await visible_program(session, who, program_id)
    start, end = date_range(date_from, date_to, now.date())
    daily = [StatsDaily.program_id == program.id, StatsDaily.local_date.between(start, end)]
    guests = [StatsDailyGuest.program_id == program.id, StatsDailyGuest.local_date.between(start, end)]
    per_venue = await sums_by(session, daily, StatsDaily.venue_id)
    venue_guests = await guests_by(session, guests, StatsDailyGuest.venue_id)
    venues = {v.id: v for v in await session.scalars(select(Venue).where(Venue.id.in_(per_venue)))}
    total = _total(per_venue.values())
    unique = (await guests_by(session, guests)).get(None, 0)
    return s.ProgramStats(
        program_id=program.id,
        currency=program.currency,
        date_from=start,
        date_to=end,
        k_anonymity=k,
        **total.figures(unique),
        top_venues=await _top_venues(session, guests, per_venue, venue_guests, venues, k),
        by_partner=await _by_partner(session, guests, per_venue, venues, k),
        by_district=await _by_district(session, guests, per_venue, venues, k),
        referrals=await referral_figures(session, program.id, start, end),
    )


async def _top_venues(
    session: AsyncSession,
    guests: list[ColumnElement[bool]],
    per_venue: dict[uuid.UUID, Sums],
    venue_guests: dict[uuid.UUID, int],
    venues: dict[uuid.UUID, Venue],
    k: int,
) -> list[s.VenueRow]:
    shown = [vid for vid in per_venue if venue_guests.get(vid, 0) >= k]
    shown.sort(key=lambda vid: (-per_venue[vid].visits, -per_venue[vid].net_check_minor, venues[vid].name))
    rows = [
        s.VenueRow(
            venue_id=vid,
            venue_name=venues[vid].name,
            partner_id=venues[vid].partner_id,
            visits=per_venue[vid].visits,
            unique_guests=venue_guests[vid],
            check_sum_minor=per_venue[vid].net_check_minor,
        )
        for vid in shown
    ]
    hidden = [vid for vid in per_venue if vid not in set(shown)]
    other = await _other(session, guests, per_venue, hidden, k)
    if other is not None:
        rows.append(s.VenueRow(venue_id=None, venue_name=OTHER, partner_id=None, **other))
    return rows


async def _other(
    session: AsyncSession,
    guests: list[ColumnElement[bool]],
    per_venue: dict[uuid.UUID, Sums],
    hidden: list[uuid.UUID],
    k: int,
) -> dict[str, int] | None:
    """The suppressed groups as one row, itself shown only when it has ≥ k distinct guests."""
    if not hidden:
        return None
    count = (await guests_by(session, [*guests, StatsDailyGuest.venue_id.in_(hidden)])).get(None, 0)
    if count < k:
        return None
    sums = _total(per_venue[vid] for vid in hidden)
    return {"visits": sums.visits, "unique_guests": count, "check_sum_minor": sums.net_check_minor}


async def _by_partner(
    session: AsyncSession,
    guests: list[ColumnElement[bool]],
    per_venue: dict[uuid.UUID, Sums],
    venues: dict[uuid.UUID, Venue],
    k: int,
) -> list[s.PartnerRow]:
    """Partners with at least k distinct guests, then the others as one row (itself shown from k on)."""
    partner_guests = await guests_by(session, guests, Venue.partner_id, join_venue=True)
    grouped = _group(per_venue, lambda vid: venues[vid].partner_id)
    shown = {pid for pid in grouped if partner_guests.get(pid, 0) >= k}
    found = await session.execute(select(Partner.id, Partner.name).where(Partner.id.in_(shown)))
    names = {partner_id: name for partner_id, name in found}
    rows = sorted(
        (
            s.PartnerRow(
                partner_id=pid,
                partner_name=names[pid],
                visits=grouped[pid].visits,
                unique_guests=partner_guests[pid],
                check_sum_minor=grouped[pid].net_check_minor,
            )
            for pid in shown
        ),
        key=lambda row: (-row.visits, row.partner_name),
    )
    hidden = [vid for vid in per_venue if venues[vid].partner_id not in shown]
    other = await _other(session, guests, per_venue, hidden, k)
    if other is not None:
        rows.append(s.PartnerRow(partner_id=None, partner_name=OTHER, **other))
    return rows


async def _by_district(
    session: AsyncSession,
    guests: list[ColumnElement[bool]],
    per_venue: dict[uuid.UUID, Sums],
    venues: dict[uuid.UUID, Venue],
    k: int,
) -> list[s.DistrictRow]:
    district_guests = await guests_by(session, guests, Venue.city, Venue.district, join_venue=True)
    grouped = _group(per_venue, lambda vid: (venues[vid].city, venues[vid].district))
    shown = {key for key in grouped if district_guests.get(key, 0) >= k}
    rows = sorted(
        (
            s.DistrictRow(
                city=city,
                district=district,
                visits=grouped[(city, district)].visits,
                unique_guests=district_guests[(city, district)],
                check_sum_minor=grouped[(city, district)].net_check_minor,
            )
            for city, district in shown
        ),
        key=lambda row: (-row.visits, row.city or "", row.district),
    )
    hidden = [vid for vid in per_venue if (venues[vid].city, venues[vid].district) not in shown]
    other = await _other(session, guests, per_venue, hidden, k)
    if other is not None:
        rows.append(s.DistrictRow(city=None, district=OTHER, **other))
    return rows


def _group(per_venue: dict[uuid.UUID, Sums], key_of: Any) -> dict[Any, Sums]:
    grouped: dict[Hashable, Sums] = defaultdict(Sums)
    for vid, sums in per_venue.items():
        key = key_of(vid)
        grouped[key] = _total([grouped[key], sums])
    return grouped


async def referral_figures(
    session: AsyncSession, program_id: uuid.UUID, start: dt.date, end: dt.date
) -> s.ReferralFigures:
    """Referrals of the program expected within the dates (UTC days): booked (not cancelled), visited."""
    from hub.concierge.models import Referral

    since = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    rows = await session.execute(
        select(Referral.status, func.count())
        .where(Referral.program_id == program_id, Referral.expected_at >= since, Referral.expected_at < until)
        .group_by(Referral.status)
    )
    counts = {status: int(n) for status, n in rows}
    booked = sum(n for status, n in counts.items() if status != "cancelled")
    visited = counts.get("visited", 0)
    return s.ReferralFigures(
        booked=booked, visited=visited, conversion=round(visited / booked, 4) if booked else 0.0
    )


__all__ = ["K_ANONYMITY", "NO_TIER", "date_range", "program_stats", "venue_stats"]
