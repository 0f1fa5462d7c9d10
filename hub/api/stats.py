"""Statistics over HTTP: venue and program numbers, the summary report, RFM segments."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.params import QueryParameter

from hub import exports
from hub.api.params import DEFAULT_PAGE, ClockDep, CursorParam, LimitParam, PathId, Principal, Session
from hub.auth import allow
from hub.stats import schemas as s
from hub.stats import segments as rfm_segments
from hub.stats import service, summary
from hub.stats.rfm import SEGMENTS

FromParam = Annotated[
    dt.date | None,
    QueryParameter(name="from", description="first local date (inclusive); default 30 days back"),
]
ToParam = Annotated[
    dt.date | None, QueryParameter(name="to", description="last local date (inclusive); default today")
]
VENUE_READERS = allow("admin", "concierge", "partner", "venue")
PROGRAM_READERS = allow("admin", "concierge")
TABLE_HELP = "the table a CSV answer holds (an XLSX answer holds them all, a sheet each)"
VenueTable = Literal["totals", "by_day", "by_program", "by_tier"]
ProgramTable = Literal["totals", "top_venues", "by_partner", "by_district"]
SummaryTable = Literal["rows", "total"]
SegmentsTable = Literal["members", "segments"]
VENUE_EXPORT = exports.tables(
    "venue-stats",
    exports.table_of(s.VenueStats, None, "totals", exclude=("by_tier", "by_program", "by_day", "suppressed")),
    exports.table_of(s.DayFigures, "by_day", "by_day"),
    exports.table_of(s.ProgramFigures, "by_program", "by_program"),
    exports.table_of(s.TierFigures, "by_tier", "by_tier"),
    default="by_day",
)
PROGRAM_EXPORT = exports.tables(
    "program-stats",
    exports.table_of(s.ProgramStats, None, "totals", exclude=("top_venues", "by_partner", "by_district")),
    exports.table_of(s.VenueRow, "top_venues", "top_venues"),
    exports.table_of(s.PartnerRow, "by_partner", "by_partner"),
    exports.table_of(s.DistrictRow, "by_district", "by_district"),
    default="top_venues",
)
SUMMARY_EXPORT = exports.tables(
    "summary",
    exports.table_of(s.SummaryRow, "rows", "rows"),
    exports.table_of(s.SummaryRow, "total", "total"),
)
SEGMENTS_EXPORT = exports.tables(
    "segments",
    exports.table_of(s.MemberScore, "members.items", "members"),
    exports.table_of(s.SegmentCount, "segments", "segments"),
)


class VenueStatsController(Controller):
    path = "/v1/venues"
    tags = ["statistics"]

    @get(
        "/{venue_id:uuid}/stats",
        guards=[VENUE_READERS],
        summary="A venue's visits, guests and check sums; CSV of one table (by_day unless ?table=), "
        "XLSX of all",
        response_class=VENUE_EXPORT,
    )
    async def venue_stats(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        venue_id: PathId,
        date_from: FromParam = None,
        date_to: ToParam = None,
        program_id: Annotated[uuid.UUID | None, QueryParameter()] = None,
        export_format: exports.FormatParam = None,
        table: Annotated[VenueTable | None, QueryParameter(description=TABLE_HELP)] = None,
    ) -> s.VenueStats:
        return await service.venue_stats(
            db_session,
            principal,
            venue_id,
            now=clock.now(),
            date_from=date_from,
            date_to=date_to,
            program_id=program_id,
        )


class ProgramStatsController(Controller):
    path = "/v1/programs"
    tags = ["statistics"]

    @get(
        "/{program_id:uuid}/stats",
        guards=[PROGRAM_READERS],
        summary="A program's numbers across venues; CSV of one table (top_venues unless ?table=), "
        "XLSX of all",
        response_class=PROGRAM_EXPORT,
    )
    async def program_stats(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        program_id: PathId,
        date_from: FromParam = None,
        date_to: ToParam = None,
        export_format: exports.FormatParam = None,
        table: Annotated[ProgramTable | None, QueryParameter(description=TABLE_HELP)] = None,
    ) -> s.ProgramStats:
        return await service.program_stats(
            db_session, principal, program_id, now=clock.now(), date_from=date_from, date_to=date_to
        )

    @get(
        "/{program_id:uuid}/summary",
        guards=[PROGRAM_READERS],
        summary="Summary report: cards issued and registered, visits, purchases, average check, items per "
        "check; CSV of one table (rows unless ?table=), XLSX of both",
        response_class=SUMMARY_EXPORT,
    )
    async def program_summary(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        program_id: PathId,
        date_from: FromParam = None,
        date_to: ToParam = None,
        group_by: Annotated[s.GroupBy, QueryParameter(description="period, venue or tier")] = "month",
        export_format: exports.FormatParam = None,
        table: Annotated[SummaryTable | None, QueryParameter(description=TABLE_HELP)] = None,
    ) -> s.SummaryReport:
        return await summary.summary(
            db_session,
            principal,
            program_id,
            now=clock.now(),
            group_by=group_by,
            date_from=date_from,
            date_to=date_to,
        )

    @get(
        "/{program_id:uuid}/segments",
        guards=[PROGRAM_READERS],
        summary="RFM segments of the program's members; CSV of one table (the page of members unless "
        "?table=), XLSX of both",
        response_class=SEGMENTS_EXPORT,
    )
    async def segments(
        self,
        db_session: Session,
        principal: Principal,
        program_id: PathId,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
        segment: Annotated[str | None, QueryParameter(enum=list(SEGMENTS))] = None,
        export_format: exports.FormatParam = None,
        table: Annotated[SegmentsTable | None, QueryParameter(description=TABLE_HELP)] = None,
    ) -> s.Segments:
        return await rfm_segments.segments(
            db_session, principal, program_id, limit=limit, cursor=cursor, segment=segment
        )

    @post(
        "/{program_id:uuid}/segments/refresh",
        guards=[PROGRAM_READERS],
        summary="Recompute the RFM segments now",
        status_code=200,
    )
    async def refresh_segments(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        program_id: PathId,
        window_days: Annotated[int, QueryParameter(ge=30, le=3660)] = rfm_segments.DEFAULT_WINDOW_DAYS,
    ) -> s.Segments:
        await rfm_segments.refresh(
            db_session, principal, program_id, now=clock.now(), window_days=window_days
        )
        return await rfm_segments.segments(db_session, principal, program_id, limit=DEFAULT_PAGE)


CONTROLLERS = [VenueStatsController, ProgramStatsController]
