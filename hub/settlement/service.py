"""Build a settlement statement from the facts alone: visits, receipts and refunds.

Nothing here reads delivery state or anything a replay could change. An open month is computed when asked;
a closed one is served as closing froze it and never changes. A verified (not cancelled) visit counts in
the month (venue-local) it was verified; a sale in the month its receipt was closed, unless that month was
already closed when the receipt came: then in the month it was recorded; a refund in the month it was
made, as a negative "refunds" line, whatever month the sale was in. Fees are those in force on the day the
visit was verified. Only coalition programs are settled: a venue program's discounts are the venue's own
business.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from hub import audit
from hub.errors import InvalidInputError
from hub.flow.models import Receipt, Refund, Visit
from hub.scope import ADMIN, Scope
from hub.settlement import months
from hub.settlement.errors import PeriodNotEndedError
from hub.settlement.models import SettlementClose
from hub.settlement.schemas import PartnerTotal, Ref, SettlementLine, SettlementStatement, VenueTotal
from partners import settlement as law
from partners import visibility
from partners.errors import PartnerNotFoundError
from partners.models import Partner, Program, Venue

Key = tuple[uuid.UUID, uuid.UUID, uuid.UUID, str, str]  # partner, venue, program, currency, kind
IN_CHUNK = 500


def _period(text: str) -> law.Period:
    period = law.parse_period(text)
    if period is None:
        raise InvalidInputError("period must be a month as YYYY-MM, such as 2026-11.", field="period")
    return period


async def statement(
    session: AsyncSession, scope: Scope, period_text: str, partner_id: uuid.UUID | None
) -> SettlementStatement:
    """The month's statement as this key may see it: frozen once closed, computed while open."""
    period = _period(period_text)
    if partner_id is not None:
        await _check_partner(session, scope, partner_id)
    frozen = await session.get(SettlementClose, str(period))
    if frozen is not None:
        lines = [
            line
            for line in msgspec.convert(frozen.lines, list[SettlementLine])
            if _sees(scope, partner_id, line)
        ]
        return _statement(str(period), partner_id, lines, closed_at=frozen.closed_at)
    return _statement(str(period), partner_id, await _live_lines(session, scope, period, partner_id))


async def close(
    session: AsyncSession, scope: Scope, period_text: str, now: dt.datetime
) -> SettlementStatement:
    """Freeze the month's statement (every partner's lines) once the month has ended everywhere; closing a
    closed month again answers it as it was closed, and changes nothing."""
    period = _period(period_text)
    await months.lock_for_closing(session)
    if not await months.is_closed(session, period):
        ends = law.ended_everywhere(period, await _time_zones(session, None))
        if now < ends:
            raise PeriodNotEndedError(
                f"{period} has not ended in every venue's time zone yet: it can be closed from "
                f"{ends.isoformat().replace('+00:00', 'Z')} on.",
                period=str(period),
                closable_from=ends.isoformat().replace("+00:00", "Z"),
            )
        lines = await _live_lines(session, ADMIN, period, None)
        session.add(
            SettlementClose(
                period=str(period),
                closed_at=now,
                closed_by_role=scope.role,
                closed_by_key_id=scope.key_id,
                lines=msgspec.to_builtins(lines),
            )
        )
        await session.flush()
        details = {"period": str(period), "lines": len(lines)}
        await audit.record(
            session, scope, "settlement.close", "settlement", str(period), at=now, details=details
        )
    return await statement(session, scope, str(period), None)


def _sees(scope: Scope, partner_id: uuid.UUID | None, line: SettlementLine) -> bool:
    """A frozen line that this key (and the partner filter) would see in the month's statement."""
    if partner_id is not None and line.partner.id != partner_id:
        return False
    if scope.role == "admin":
        return True
    if scope.role == "concierge":
        return line.program.id in scope.program_ids
    if scope.role == "partner":
        return line.partner.id == scope.partner_id
    return scope.role == "venue" and line.venue.id == scope.venue_id


async def _live_lines(
    session: AsyncSession, scope: Scope, period: law.Period, partner_id: uuid.UUID | None
) -> list[SettlementLine]:
    where = [_visible(scope), Program.kind == "coalition"]
    if partner_id is not None:
        where.append(Visit.partner_id == partner_id)
    zones = await _time_zones(session, partner_id)
    lines: dict[Key, law.Figures] = defaultdict(law.Figures)
    fees = _FeeBook(session)
    await _add_visits(session, lines, where, _within(zones, period, Visit.verified_at))
    own_month = and_(Receipt.settlement_period.is_(None), _within(zones, period, Receipt.closed_at))
    sold = or_(own_month, Receipt.settlement_period == str(period))
    await _add_sales(session, lines, fees, where, sold)
    await _add_refunds(session, lines, fees, where, _within(zones, period, Refund.created_at))
    return await _assemble(session, lines)


async def _check_partner(session: AsyncSession, scope: Scope, partner_id: uuid.UUID) -> None:
    found = await session.scalar(
        select(Partner.id).where(Partner.id == partner_id, visibility.partners(scope))
    )
    if found is None:
        raise PartnerNotFoundError()


def _visible(scope: Scope) -> ColumnElement[bool]:
    """Whose visits a key settles: all (admin), its programs' (concierge), its own (partner, venue)."""
    if scope.role == "admin":
        return true()
    if scope.role == "concierge":
        return Visit.program_id.in_(scope.program_ids)
    if scope.role == "partner":
        return Visit.partner_id == scope.partner_id
    if scope.role == "venue":
        return Visit.venue_id == scope.venue_id
    return false()


async def _time_zones(session: AsyncSession, partner_id: uuid.UUID | None) -> list[str]:
    query = select(Venue.timezone).distinct()
    if partner_id is not None:
        query = query.where(Venue.partner_id == partner_id)
    return sorted(await session.scalars(query))


def _within(zones: Sequence[str], period: law.Period, column: Any) -> ColumnElement[bool]:
    """The month in each venue's own time zone: one range per zone, joined on the venue's zone."""
    ranges = []
    for zone in zones:
        start, end = period.bounds(zone)
        ranges.append(and_(Venue.timezone == zone, column >= start, column < end))
    return or_(false(), *ranges)


def _facts(query: Any, where: Sequence[ColumnElement[bool]]) -> Any:
    return (
        query.join(Visit, Visit.id == Receipt.visit_id)
        .join(Venue, Venue.id == Receipt.venue_id)
        .join(Program, Program.id == Receipt.program_id)
        .where(*where)
    )


_SALE_COLUMNS = (
    Receipt.id,
    Visit.verified_at,
    Receipt.subtotal_minor,
    Receipt.discount_minor,
    Receipt.total_minor,
    Receipt.currency,
    Receipt.venue_id,
    Receipt.program_id,
    Visit.partner_id,
    Visit.coalition_funded_bp,
)


class _FeeBook:
    """Each program's fee schedule, read once per statement; a sale owes the fees of its visit's date."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.schedules: dict[uuid.UUID, list[law.FeeTerms]] = {}

    async def sale(self, row: Any) -> law.Sale:
        if row.program_id not in self.schedules:
            stored = await self.session.scalar(select(Program.fees).where(Program.id == row.program_id))
            self.schedules[row.program_id] = law.fee_schedule(stored or {})
        return law.Sale(
            subtotal_minor=row.subtotal_minor,
            discount_minor=row.discount_minor,
            total_minor=row.total_minor,
            coalition_bp=row.coalition_funded_bp,
            fees=law.fees_in_force(self.schedules[row.program_id], row.verified_at),  # the visit's day
        )


def _key(row: Any, kind: str) -> Key:
    return (row.partner_id, row.venue_id, row.program_id, row.currency, kind)


async def _add_visits(
    session: AsyncSession,
    lines: dict[Key, law.Figures],
    where: Sequence[ColumnElement[bool]],
    window: ColumnElement[bool],
) -> None:
    """Verified visits, cancelled ones aside, on the sales line of their venue and program."""
    query = (
        select(Visit.partner_id, Visit.venue_id, Visit.program_id, Program.currency, func.count(Visit.id))
        .join(Venue, Venue.id == Visit.venue_id)
        .join(Program, Program.id == Visit.program_id)
        .where(*where, window, Visit.status != "cancelled")
        .group_by(Visit.partner_id, Visit.venue_id, Visit.program_id, Program.currency)
    )
    for partner_id, venue_id, program_id, currency, count in await session.execute(query):
        lines[(partner_id, venue_id, program_id, currency, "sales")] += law.Figures(visits=int(count))


async def _add_sales(
    session: AsyncSession,
    lines: dict[Key, law.Figures],
    fees: _FeeBook,
    where: Sequence[ColumnElement[bool]],
    window: ColumnElement[bool],
) -> None:
    rows = (await session.execute(_facts(select(*_SALE_COLUMNS), [*where, window]))).all()
    for row in rows:
        lines[_key(row, "sales")] += law.sale_figures(await fees.sale(row))


async def _add_refunds(
    session: AsyncSession,
    lines: dict[Key, law.Figures],
    fees: _FeeBook,
    where: Sequence[ColumnElement[bool]],
    window: ColumnElement[bool],
) -> None:
    query = _facts(
        select(*_SALE_COLUMNS, Refund.id.label("refund_id"), Refund.amount_minor).join_from(
            Refund, Receipt, Receipt.id == Refund.receipt_id
        ),
        [*where, window],
    )
    rows = (await session.execute(query)).all()
    before = await _refunded_before(session, {row.id for row in rows})
    for row in rows:
        sale = await fees.sale(row)
        lines[_key(row, "refunds")] += law.refund_figures(sale, before[row.refund_id], row.amount_minor)


async def _refunded_before(session: AsyncSession, receipt_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """For each refund of these receipts, what earlier refunds of its receipt (in any period) took back."""
    ids, result = sorted(receipt_ids), {}
    for start in range(0, len(ids), IN_CHUNK):
        refunds = await session.execute(
            select(Refund.id, Refund.receipt_id, Refund.amount_minor)
            .where(Refund.receipt_id.in_(ids[start : start + IN_CHUNK]))
            .order_by(Refund.receipt_id, Refund.created_at, Refund.id)
        )
        running: dict[uuid.UUID, int] = defaultdict(int)
        for refund in refunds:
            result[refund.id] = running[refund.receipt_id]
            running[refund.receipt_id] += refund.amount_minor
    return result


async def _names(session: AsyncSession, model: Any, ids: set[uuid.UUID]) -> dict[uuid.UUID, Ref]:
    found: dict[uuid.UUID, Ref] = {}
    listed = sorted(ids)
    for start in range(0, len(listed), IN_CHUNK):
        rows = await session.execute(
            select(model.id, model.name).where(model.id.in_(listed[start : start + IN_CHUNK]))
        )
        found.update({row.id: Ref(id=row.id, name=row.name) for row in rows})
    return found


def _figures(figures: law.Figures) -> dict[str, int]:
    return {**asdict(figures), "fees_minor": figures.fees_minor}


async def _assemble(session: AsyncSession, lines: dict[Key, law.Figures]) -> list[SettlementLine]:
    partners = await _names(session, Partner, {k[0] for k in lines})
    venues = await _names(session, Venue, {k[1] for k in lines})
    programs = await _names(session, Program, {k[2] for k in lines})

    def order(key: Key) -> tuple[str, str, str, str, str, str]:
        p, v, g, currency, kind = key
        return (partners[p].name, str(p), venues[v].name, str(v), programs[g].name + str(g), currency + kind)

    return [
        SettlementLine(
            partner=partners[p],
            venue=venues[v],
            program=programs[g],
            currency=currency,
            kind="sales" if kind == "sales" else "refunds",
            **_figures(lines[(p, v, g, currency, kind)]),
        )
        for p, v, g, currency, kind in sorted(lines, key=order)
    ]


def _law_figures(line: SettlementLine) -> law.Figures:
    return law.Figures(**{f.name: getattr(line, f.name) for f in fields(law.Figures)})


def _statement(
    period: str,
    partner_id: uuid.UUID | None,
    lines: list[SettlementLine],
    closed_at: dt.datetime | None = None,
) -> SettlementStatement:
    """The statement around its lines (in order), with the totals per venue and per partner."""
    by_venue: dict[tuple[uuid.UUID, uuid.UUID, str], law.Figures] = defaultdict(law.Figures)
    by_partner: dict[tuple[uuid.UUID, str], law.Figures] = defaultdict(law.Figures)
    refs: dict[uuid.UUID, Ref] = {}
    for line in lines:
        refs[line.partner.id], refs[line.venue.id] = line.partner, line.venue
        by_venue[(line.partner.id, line.venue.id, line.currency)] += _law_figures(line)
        by_partner[(line.partner.id, line.currency)] += _law_figures(line)
    return SettlementStatement(
        period=period,
        partner_id=partner_id,
        status="open" if closed_at is None else "closed",
        closed_at=closed_at,
        lines=lines,
        by_venue=[
            VenueTotal(partner=refs[p], venue=refs[v], currency=c, **_figures(f))
            for (p, v, c), f in by_venue.items()
        ],
        by_partner=[
            PartnerTotal(partner=refs[p], currency=c, **_figures(f)) for (p, c), f in by_partner.items()
        ],
    )
