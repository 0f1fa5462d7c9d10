"""Keeping the daily rollups: one upsert per receipt closed or refunded, in the caller's transaction,
and a rebuild from the receipts that gives the same rows (the backfill, and the check in tests)."""

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
    "receipts",
    "check_sum_minor",
    "discount_sum_minor",
    "items",
    "refunds_minor",
    "refunded_discount_minor",
)
DAILY_KEY = ("venue_id", "local_date", "program_id", "tier_code")
GUEST_KEY = ("venue_id", "local_date", "program_id", "member_id", "tier_code")
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


async def record_receipt(session: AsyncSession, visit: Visit, receipt: Receipt, venue: Venue) -> None:
    """Count a closed receipt on its venue-local day."""
    key = {
        "venue_id": receipt.venue_id,
        "local_date": local_date(receipt.closed_at, venue.timezone),
        "program_id": receipt.program_id,
        "tier_code": visit.tier_code or NO_TIER,
    }
    sums = {
        "visits": 1,
        "receipts": 1,
        "check_sum_minor": receipt.total_minor,
        "discount_sum_minor": receipt.discount_minor,
        "items": receipt.item_count,
        "refunds_minor": 0,
        "refunded_discount_minor": 0,
    }
    await _add(session, StatsDaily, DAILY_KEY, {**key, **sums})
    guest = {**key, "member_id": receipt.member_id, "visits": 1}
    await _add(session, StatsDailyGuest, GUEST_KEY, guest)


async def record_refund(session: AsyncSession, receipt: Receipt, refund: Refund, venue: Venue) -> None:
    """Take a refund off its receipt's day (not the refund's): the rollups describe the visits of a day.

    `receipt` already carries this refund in refunded_minor; a receipt refunded in full stops counting
    as a purchase (the visit still counts).
    """
    tier_code = await session.scalar(select(Visit.tier_code).where(Visit.id == receipt.visit_id))
    fully = receipt.total_minor > 0 and receipt.refunded_minor >= receipt.total_minor
    was_fully = receipt.refunded_minor - refund.amount_minor >= receipt.total_minor
    row = {
        "venue_id": receipt.venue_id,
        "local_date": local_date(receipt.closed_at, venue.timezone),
        "program_id": receipt.program_id,
        "tier_code": tier_code or NO_TIER,
        "receipts": -1 if fully and not was_fully else 0,
        "refunds_minor": refund.amount_minor,
        "refunded_discount_minor": refund.discount_reversed_minor,
    }
    await _add(session, StatsDaily, DAILY_KEY, row)


# ---- recomputation from receipts ----


@dataclass
class Totals:
    """The rollup rows of a set of receipts, keyed as the tables are."""

    daily: dict[tuple[Any, ...], dict[str, int]] = field(default_factory=dict)
    guests: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def add(
        self,
        *,
        venue_id: uuid.UUID,
        day: dt.date,
        program_id: uuid.UUID,
        member_id: uuid.UUID,
        tier_code: str | None,
        total_minor: int,
        discount_minor: int,
        item_count: int,
        refunded_minor: int,
        refunded_discount_minor: int,
    ) -> None:
        key = (venue_id, day, program_id, tier_code or NO_TIER)
        sums = self.daily.setdefault(key, dict.fromkeys(DAILY_SUMS, 0))
        sums["visits"] += 1
        sums["receipts"] += 0 if total_minor > 0 and refunded_minor >= total_minor else 1
        sums["check_sum_minor"] += total_minor
        sums["discount_sum_minor"] += discount_minor
        sums["items"] += item_count
        sums["refunds_minor"] += refunded_minor
        sums["refunded_discount_minor"] += refunded_discount_minor
        guest = (venue_id, day, program_id, member_id, tier_code or NO_TIER)
        self.guests[guest] = self.guests.get(guest, 0) + 1

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


async def receipt_span(session: AsyncSession) -> tuple[dt.date, dt.date] | None:
    """The UTC days of the first and last receipt, or None when there are none."""
    row = (await session.execute(select(func.min(Receipt.closed_at), func.max(Receipt.closed_at)))).one()
    first, last = cast("dt.datetime | None", row[0]), cast("dt.datetime | None", row[1])
    if first is None or last is None:
        return None
    return first.date() - ZONE_MARGIN, last.date() + ZONE_MARGIN


def rebuild_ranges(since: dt.date | None, span: tuple[dt.date, dt.date]) -> list[tuple[dt.date, dt.date]]:
    """The month ranges a rebuild walks: from `since` (or the first receipt) to the last receipt."""
    first = max(since, span[0]) if since else span[0]
    return list(_months(first, span[1]))


async def rebuild_range(session: AsyncSession, start: dt.date, end: dt.date, since: dt.date | None) -> int:
    """Replace the rollups of local dates in [max(start, since), end) by those recomputed from receipts."""
    low = max(start, since) if since else start
    query = (
        select(
            Receipt.venue_id,
            Receipt.program_id,
            Receipt.member_id,
            Receipt.closed_at,
            Receipt.total_minor,
            Receipt.discount_minor,
            Receipt.item_count,
            Receipt.refunded_minor,
            Receipt.refunded_discount_minor,
            Visit.tier_code,
            Venue.timezone,
        )
        .join(Visit, Visit.id == Receipt.visit_id)
        .join(Venue, Venue.id == Receipt.venue_id)
        .where(
            Receipt.closed_at >= _midnight(low) - ZONE_MARGIN,
            Receipt.closed_at < _midnight(end) + ZONE_MARGIN,
        )
    )
    totals = Totals()
    count = 0
    for row in await session.execute(query):
        day = local_date(row.closed_at, row.timezone)
        if not low <= day < end:
            continue
        count += 1
        totals.add(
            venue_id=row.venue_id,
            day=day,
            program_id=row.program_id,
            member_id=row.member_id,
            tier_code=row.tier_code,
            total_minor=row.total_minor,
            discount_minor=row.discount_minor,
            item_count=row.item_count,
            refunded_minor=row.refunded_minor,
            refunded_discount_minor=row.refunded_discount_minor,
        )
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
