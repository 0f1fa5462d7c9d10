"""Keeping the daily rollups: one upsert per table for a verified visit, one for each receipt or refund, in
the caller's transaction, and a rebuild from the visits and receipts that gives the same rows (the
backfill, and the check in tests)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Insert, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.flow.models import Receipt, Refund, Visit
from hub.stats.models import NO_TIER, StatsDaily, StatsDailyGuest
from partners.models import Venue

DAILY_SUMS = (
    "visits",
    "checked",
    "receipts",
    "check_sum_minor",
    "discount_sum_minor",
    "items",
    "refunds_minor",
    "refunded_discount_minor",
)
DAILY_KEY = ("venue_id", "local_date", "program_id", "tier_code")
GUEST_KEY = ("venue_id", "local_date", "program_id", "member_id", "tier_code")
CANCELLED = "cancelled"  # a visit in this status counts nowhere
# a UTC instant is at most 14 hours from any local date's edges: this margin catches every receipt
ZONE_MARGIN = dt.timedelta(days=1)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_date(closed_at: dt.datetime, timezone: str) -> dt.date:
    """The venue's calendar day of a UTC instant."""
    return closed_at.astimezone(_zone(timezone)).date()


@lru_cache(maxsize=64)
def _upsert_statement(dialect: str, table: Any, key: tuple[str, ...], sums: tuple[str, ...]) -> Insert:
    """INSERT … ON CONFLICT (key) DO UPDATE adding `sums`, built once: its values come as parameters,
    so SQLAlchemy compiles it once too (a statement with literal VALUES is compiled on every call)."""
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return stmt.on_conflict_do_update(
        index_elements=list(key), set_={c: table.__table__.c[c] + stmt.excluded[c] for c in sums}
    )


async def _add(session: AsyncSession, table: Any, key: Sequence[str], row: dict[str, Any]) -> None:
    """Add one row's sums to its key's row (made on first use)."""
    dialect = session.get_bind().dialect.name
    sums = tuple(c for c in row if c not in key)
    await session.execute(_upsert_statement(dialect, table, tuple(key), sums), row)


def _key(visit: Visit, venue: Venue) -> dict[str, Any]:
    """A visit's rollup key: its venue-local day of verification (its receipt and refunds count there too)."""
    return {
        "venue_id": visit.venue_id,
        "local_date": local_date(visit.verified_at, venue.timezone),
        "program_id": visit.program_id,
        "tier_code": visit.tier_code or NO_TIER,
    }


async def record_visit(session: AsyncSession, visit: Visit, venue: Venue) -> None:
    """Count a verified visit and its guest: one upsert per table, in the transaction that verifies it."""
    key = _key(visit, venue)
    await _add(session, StatsDaily, DAILY_KEY, {**key, "visits": 1})
    await _add(session, StatsDailyGuest, GUEST_KEY, {**key, "member_id": visit.member_id, "visits": 1})


async def uncount_visit(session: AsyncSession, visit: Visit, venue: Venue) -> None:
    """Take a cancelled visit (open, so without a receipt) off its day; rows left at zero go, as a rebuild
    would never write them."""
    key = _key(visit, venue)
    guest = {**key, "member_id": visit.member_id}
    await _add(session, StatsDaily, DAILY_KEY, {**key, "visits": -1})
    await _add(session, StatsDailyGuest, GUEST_KEY, {**guest, "visits": -1})
    await session.execute(
        delete(StatsDailyGuest).where(*_matches(StatsDailyGuest, guest), StatsDailyGuest.visits <= 0)
    )
    empty = [StatsDaily.__table__.c[name] == 0 for name in DAILY_SUMS]
    await session.execute(delete(StatsDaily).where(*_matches(StatsDaily, key), *empty))


def _matches(table: Any, key: dict[str, Any]) -> list[Any]:
    return [table.__table__.c[name] == value for name, value in key.items()]


async def record_receipt(session: AsyncSession, visit: Visit, receipt: Receipt, venue: Venue) -> None:
    """Count a closed receipt on its visit's day: the visit is no longer awaiting its check."""
    sums = {
        "checked": 1,
        "receipts": 1,
        "check_sum_minor": receipt.total_minor,
        "discount_sum_minor": receipt.discount_minor,
        "items": receipt.item_count,
        "refunds_minor": 0,
        "refunded_discount_minor": 0,
    }
    await _add(session, StatsDaily, DAILY_KEY, {**_key(visit, venue), **sums})


async def record_refund(session: AsyncSession, receipt: Receipt, refund: Refund, venue: Venue) -> None:
    """Take a refund off its visit's day (not the refund's): the rollups describe the visits of a day.

    `receipt` already carries this refund in refunded_minor; a receipt refunded in full stops counting
    as a purchase, with its items (the visit still counts, and still has its check).
    """
    visit = await session.get_one(Visit, receipt.visit_id)
    fully = receipt.total_minor > 0 and receipt.refunded_minor >= receipt.total_minor
    was_fully = receipt.refunded_minor - refund.amount_minor >= receipt.total_minor
    row = {
        **_key(visit, venue),
        "receipts": -1 if fully and not was_fully else 0,
        "items": -receipt.item_count if fully and not was_fully else 0,
        "refunds_minor": refund.amount_minor,
        "refunded_discount_minor": refund.discount_reversed_minor,
    }
    await _add(session, StatsDaily, DAILY_KEY, row)


# ---- recomputation from visits and receipts ----


@dataclass(frozen=True)
class Fact:
    """One verified visit (not cancelled) and its receipt's figures (zeros and has_receipt False without)."""

    venue_id: uuid.UUID
    day: dt.date
    program_id: uuid.UUID
    member_id: uuid.UUID
    tier_code: str | None
    has_receipt: bool = False
    total_minor: int = 0
    discount_minor: int = 0
    item_count: int = 0
    refunded_minor: int = 0
    refunded_discount_minor: int = 0


@dataclass
class Totals:
    """The rollup rows of a set of visits, keyed as the tables are."""

    daily: dict[tuple[Any, ...], dict[str, int]] = field(default_factory=dict)
    guests: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def add(self, fact: Fact) -> None:
        key = (fact.venue_id, fact.day, fact.program_id, fact.tier_code or NO_TIER)
        sums = self.daily.setdefault(key, dict.fromkeys(DAILY_SUMS, 0))
        sums["visits"] += 1
        guest = (*key[:3], fact.member_id, key[3])
        self.guests[guest] = self.guests.get(guest, 0) + 1
        if not fact.has_receipt:
            return
        refunded_in_full = fact.total_minor > 0 and fact.refunded_minor >= fact.total_minor
        sums["checked"] += 1
        sums["receipts"] += 0 if refunded_in_full else 1
        sums["check_sum_minor"] += fact.total_minor
        sums["discount_sum_minor"] += fact.discount_minor
        sums["items"] += 0 if refunded_in_full else fact.item_count
        sums["refunds_minor"] += fact.refunded_minor
        sums["refunded_discount_minor"] += fact.refunded_discount_minor

    def daily_rows(self) -> list[dict[str, Any]]:
        return [{**dict(zip(DAILY_KEY, k, strict=True)), **v} for k, v in self.daily.items()]

    def guest_rows(self) -> list[dict[str, Any]]:
        return [{**dict(zip(GUEST_KEY, k, strict=True)), "visits": v} for k, v in self.guests.items()]


def _months(first: dt.date, last: dt.date) -> Iterable[tuple[dt.date, dt.date]]:
    """[start, end) month ranges covering first..last."""
    start = first.replace(day=1)
    while start <= last:
        end = (start + dt.timedelta(days=32)).replace(day=1)
        yield start, end
        start = end


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


async def visit_span(session: AsyncSession) -> tuple[dt.date, dt.date] | None:
    """The UTC days of the first and last verified visit (with the zone margin), or None without any."""
    query = select(func.min(Visit.verified_at), func.max(Visit.verified_at))
    row = (await session.execute(query)).one()
    first, last = cast("dt.datetime | None", row[0]), cast("dt.datetime | None", row[1])
    if first is None or last is None:
        return None
    return first.date() - ZONE_MARGIN, last.date() + ZONE_MARGIN


def rebuild_ranges(since: dt.date | None, span: tuple[dt.date, dt.date]) -> list[tuple[dt.date, dt.date]]:
    """The month ranges a rebuild walks: from `since` (or the first visit) to the last visit."""
    first = max(since, span[0]) if since else span[0]
    return list(_months(first, span[1]))


_FACT_COLUMNS = (
    Visit.venue_id,
    Visit.program_id,
    Visit.member_id,
    Visit.verified_at,
    Visit.tier_code,
    Venue.timezone,
    Receipt.id.label("receipt_id"),
    Receipt.total_minor,
    Receipt.discount_minor,
    Receipt.item_count,
    Receipt.refunded_minor,
    Receipt.refunded_discount_minor,
)


def _fact(row: Any, day: dt.date) -> Fact:
    receipt = (
        {}
        if row.receipt_id is None
        else {
            "has_receipt": True,
            "total_minor": row.total_minor,
            "discount_minor": row.discount_minor,
            "item_count": row.item_count,
            "refunded_minor": row.refunded_minor,
            "refunded_discount_minor": row.refunded_discount_minor,
        }
    )
    return Fact(
        venue_id=row.venue_id,
        day=day,
        program_id=row.program_id,
        member_id=row.member_id,
        tier_code=row.tier_code,
        **receipt,
    )


async def rebuild_range(session: AsyncSession, start: dt.date, end: dt.date, since: dt.date | None) -> int:
    """Replace the rollups of local dates in [max(start, since), end) by those recomputed from the verified
    visits (not cancelled) and their receipts; how many visits were counted."""
    low = max(start, since) if since else start
    query = (
        select(*_FACT_COLUMNS)
        .join(Venue, Venue.id == Visit.venue_id)
        .outerjoin(Receipt, Receipt.visit_id == Visit.id)
        .where(
            Visit.status != CANCELLED,
            Visit.verified_at >= _midnight(low) - ZONE_MARGIN,
            Visit.verified_at < _midnight(end) + ZONE_MARGIN,
        )
    )
    totals = Totals()
    count = 0
    for row in await session.execute(query):
        day = local_date(row.verified_at, row.timezone)
        if low <= day < end:
            count += 1
            totals.add(_fact(row, day))
    for table in (StatsDaily, StatsDailyGuest):
        await session.execute(delete(table).where(table.local_date >= low, table.local_date < end))
    await insert_rows(session, StatsDaily, totals.daily_rows())
    await insert_rows(session, StatsDailyGuest, totals.guest_rows())
    return count


async def insert_rows(
    session: AsyncSession, table: Any, rows: list[dict[str, Any]], batch: int = 2000
) -> None:
    """Plain batched INSERTs (the rows' keys are new: the range was emptied first)."""
    for at in range(0, len(rows), batch):
        await session.execute(insert(table), rows[at : at + batch])
